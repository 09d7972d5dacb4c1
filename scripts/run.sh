#!/usr/bin/env bash
# Runs the service on a laptop: installs Azurite (pinned in package.json) if needed, starts it unless one
# is already listening on 10002, builds and starts the local host on http://localhost:7071 with demo data,
# and stops everything it started on Ctrl+C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/azurite.sh

AZURITE_PID=
HOST_PID=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$HOST_PID" ] && kill -0 "$HOST_PID" 2>/dev/null; then kill "$HOST_PID" 2>/dev/null || true; wait "$HOST_PID" 2>/dev/null || true; fi
  stop_azurite
}
trap cleanup EXIT INT TERM

command -v dotnet >/dev/null || { echo "dotnet (SDK 10) is required: https://dot.net" >&2; exit 1; }
command -v npm >/dev/null || { echo "Node.js and npm are required to run Azurite." >&2; exit 1; }
ensure_node_modules

if port_open 10002; then
  echo "==> using the Azurite (or storage emulator) already listening on 127.0.0.1:10002"
else
  mkdir -p "$ROOT/.azurite"
  echo "==> starting Azurite (blob 10000, queue 10001, table 10002), data in .azurite/"
  # Its own session, so Ctrl+C reaches the host first and Azurite is stopped after it (the host
  # releases its leases in storage on the way out).
  setsid "$ROOT/node_modules/.bin/azurite" --location "$ROOT/.azurite" --skipApiVersionCheck --disableTelemetry --silent \
    >"$ROOT/.azurite/azurite.log" 2>&1 &
  AZURITE_PID=$!
  wait_for_port 10002 "$ROOT/.azurite/azurite.log"
fi

echo "==> building the local host"
dotnet build src/ApprovalFunctions.LocalHost -c Release --nologo -v quiet

echo "==> starting the local host on http://localhost:7071 (Ctrl+C stops everything started here)"
export ASPNETCORE_URLS="${ASPNETCORE_URLS:-http://localhost:7071}"
dotnet run --project src/ApprovalFunctions.LocalHost -c Release --no-build &
HOST_PID=$!

# Once the host answers /healthz, say how to use it (the first URL of ASPNETCORE_URLS, localhost for a wildcard).
BASE="${ASPNETCORE_URLS%%;*}"
BASE="${BASE/\/\/+:/\/\/localhost:}"; BASE="${BASE/\/\/\*:/\/\/localhost:}"; BASE="${BASE/\/\/0.0.0.0:/\/\/localhost:}"
for _ in $(seq 1 300); do
  if ! kill -0 "$HOST_PID" 2>/dev/null; then break; fi
  if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then
    cat <<EOT

==> ready on $BASE
    dashboard:  $BASE/dashboard/
    OpenAPI:    $BASE/openapi/v1.json
    health:     $BASE/healthz (live)  $BASE/readyz (storage reachable)
    a token (Development; demo users alice bob carol dave erin frank admin):
      TOKEN=\$(curl -s -X POST $BASE/api/v1/dev/token -H 'Content-Type: application/json' -d '{"userId":"alice"}' | sed -E 's/.*"token":"([^"]+)".*/\1/')
    then, e.g.:
      curl -s "$BASE/api/v1/approvals?pendingMyApprovals=true" -H "Authorization: Bearer \$TOKEN"
    Ctrl+C stops everything started here.

EOT
    break
  fi
  sleep 0.5
done
wait "$HOST_PID"
