#!/usr/bin/env bash
# Create .venv (if missing) and install attnsvm with its test dependencies. Idempotent, and quick when nothing
# changed: a stamp in .venv records the hash of pyproject.toml and constraints.txt of the last install; with the
# same hash and every package importable, pip is not run again (delete .venv/.attnsvm-setup to force it).
# torch is pinned to the CPU build 2.13.0 (constraints file), so no CUDA packages are pulled in.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.attnsvm-setup
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && .venv/bin/python - "$PWD" <<'PYCHECK'
import importlib.util, os, sys
need = ("attnsvm", "numpy", "scipy", "sympy", "mpmath", "gmpy2", "cvxpy", "clarabel", "torch", "jinja2",
        "matplotlib", "flint", "pytest", "xdist", "hypothesis")
spec = importlib.util.find_spec("attnsvm")
ok = all(importlib.util.find_spec(m) is not None for m in need)
here = spec is not None and os.path.realpath(spec.origin).startswith(os.path.realpath(sys.argv[1]) + os.sep)
sys.exit(0 if ok and here else 1)
PYCHECK
then
  exit 0
fi
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
echo "$want" > "$stamp"
