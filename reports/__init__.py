"""HTML reports rendered from verify's results (presentation only)."""
