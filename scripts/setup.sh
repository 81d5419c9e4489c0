#!/usr/bin/env bash
# Create .venv (if missing) and install attnsvm with its test dependencies. Idempotent.
# torch is pinned to the CPU build 2.13.0 (constraints file), so no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
log=$(mktemp)
if ! .venv/bin/python -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]" >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "error: installing attnsvm and its dependencies failed (pip's output above)" >&2
  exit 1
fi
rm -f "$log"
if .venv/bin/python -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "error: CUDA (nvidia-*) packages were installed; torch must be the CPU build 2.13.0" >&2
  exit 1
fi
.venv/bin/python -c "import torch, cvxpy, sympy, mpmath; assert torch.__version__.startswith('2.13.0'), torch.__version__"
