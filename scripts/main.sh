#!/usr/bin/env bash
# Set up (scripts/setup.sh), then check every built-in dataset and write the HTML report to report/
# (report/index.html, one page and one JSON result per dataset). Exit 1 if any verdict fails or is
# inconclusive. A sample of the tf-svm-local family: `.venv/bin/attnsvm report tf-svm-local-0 --out report-w`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/attnsvm report --out "${1:-report}"
