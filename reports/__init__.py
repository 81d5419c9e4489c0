"""HTML reports rendered from verify's results (presentation only)."""
from .sweep_page import render_sweep_page  # noqa: E402,F401
