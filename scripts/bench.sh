#!/usr/bin/env bash
# The one benchmark command: builds Release, starts its own Azurite (table service, in memory, free port), runs
# bench/ApprovalFunctions.LoadTest — which starts the built local host as separate processes, runs every suite
# (raw storage baseline, decisions, latency, lifecycles, storage requests per lifecycle, page latency, timers,
# memory, load safety, chaos) — and writes docs/benchmarks.md. Stops everything it started, also on failure.
#   bash scripts/bench.sh                 full run (scale: 100,000 pending requests; about 16 minutes here)
#   bash scripts/bench.sh --scale 10000   the scale suites at 10,000 (about 5 minutes; the file says the size)
#   bash scripts/bench.sh --quick         tiny sizes, a smoke test of the harness (figures meaningless)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/azurite.sh

WORK="$(mktemp -d)"
PIDDIR="$WORK/hosts"; mkdir -p "$PIDDIR"
cleanup() {
  trap - EXIT INT TERM
  # Host processes the load test started (it kills them itself; this covers a load test that died).
  for f in "$PIDDIR"/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null || true; done
  stop_azurite
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ensure_node_modules

if [ "${APPROVALS_BENCH_SKIP_BUILD:-}" != "1" ]; then
  echo "==> building (Release)"
  dotnet build src/ApprovalFunctions.LocalHost -c Release --nologo -v quiet
  dotnet build bench/ApprovalFunctions.LoadTest -c Release --nologo -v quiet
fi

PORT=$(free_port)
echo "==> starting Azurite (tables, in memory) on 127.0.0.1:$PORT"
start_azurite_tables "$PORT" "$WORK/azurite"

export APPROVALS_BENCH_STORAGE="$(azurite_connection_string "$PORT")"
export APPROVALS_BENCH_PIDDIR="$PIDDIR"
export APPROVALS_BENCH_COMMIT="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo '+local changes')"
export APPROVALS_BENCH_AZURITE_VERSION="$(node -p "require('$ROOT/node_modules/azurite/package.json').version" 2>/dev/null || echo unknown)"

echo "==> running the load test (writes docs/benchmarks.md)"
dotnet run -c Release --no-build --project bench/ApprovalFunctions.LoadTest -- bench "$@"
