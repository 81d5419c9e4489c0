#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run every check on every built-in dataset.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
status=0
for name in $(.venv/bin/attnsvm list | cut -d' ' -f1); do
  .venv/bin/attnsvm check "$name" || status=1
done
exit $status
