#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# test files run in parallel, one file per worker (module fixtures computed once); ATTNSVM_TEST_WORKERS=0: serial
workers=${ATTNSVM_TEST_WORKERS:-$(nproc 2>/dev/null || echo 2)}
if [ "$workers" -gt 2 ]; then workers=2; fi   # the suite is sized for 2 cores; more only adds memory
if [ "$workers" -gt 0 ]; then
  exec .venv/bin/python -m pytest -n "$workers" --dist loadfile "$@"
fi
exec .venv/bin/python -m pytest "$@"
