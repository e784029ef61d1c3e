#!/usr/bin/env bash
# Builds the caddy binary (unless told not to) and runs the end-to-end suite in
# test/e2e against it, with -race and -v, writing the fault matrix and the load
# numbers as Markdown to a report directory.
#
#   scripts/e2e-run.sh                  # build ./caddy, run everything
#   SKIP_BUILD=1 scripts/e2e-run.sh     # use the existing CADDY_BIN
#   LOAD=0 scripts/e2e-run.sh           # skip the load test
#   RUN=TestFaultMatrix scripts/e2e-run.sh
#
# Settings (environment):
#   CADDY_BIN       binary to build and test (default ./caddy)
#   SKIP_BUILD=1    do not run ./xcaddy.sh first
#   LOAD=0          skip the load test (it runs by default here: E2E_LOAD=1)
#   RUN             a -run pattern
#   E2E_REPORT_DIR  where fault-matrix.md and load.md go (default: a temp dir, printed)
#   E2E_DUMP_LOGS=1 print a failed test's caddy logs
#
# Everything listens on 127.0.0.1 ports picked at run time; the suite takes
# about a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

export CADDY_BIN=${CADDY_BIN:-$PWD/caddy}
case "$CADDY_BIN" in /*) ;; *) CADDY_BIN=$PWD/$CADDY_BIN ;; esac
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  ./xcaddy.sh
fi
export E2E_REPORT_DIR=${E2E_REPORT_DIR:-$(mktemp -d /tmp/e2e-report.XXXXXX)}
mkdir -p "$E2E_REPORT_DIR"

export E2E_LOAD=${LOAD:-1}
args=(-race -count=1 -v -timeout 10m)
[[ -n "${RUN:-}" ]] && args+=(-run "$RUN")

status=0
go test "${args[@]}" ./test/e2e/ || status=$?
echo "e2e reports in $E2E_REPORT_DIR:"
ls -1 "$E2E_REPORT_DIR"
exit "$status"
