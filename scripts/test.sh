#!/usr/bin/env bash
# Runs every test that can run on this machine: builds the solution, starts a throw-away Azurite
# (table service, in memory, free port), runs all test projects, stops Azurite (also on failure).
# The Azure Functions project is built and tested only where its packages restore.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/azurite.sh

RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
WORK="$(mktemp -d)"
cleanup() { stop_azurite; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM

ensure_node_modules

# The third-party conformance cases live in the shared/ folder beside the repository. A clone made elsewhere from a
# local checkout (git clone /path/to/checkout /tmp/x) finds it beside the checkout it was cloned from.
if [ -z "${APPROVALS_SHARED_DIR:-}" ]; then
  ORIGIN="$(git -C "$ROOT" config --get remote.origin.url 2>/dev/null || true)"
  for candidate in "$ROOT/../shared" ${ORIGIN:+"$ORIGIN/../shared"}; do
    if [ -f "$candidate/conformance/jsonlogic/compatible.json" ]; then
      APPROVALS_SHARED_DIR="$(cd "$candidate" && pwd)"
      export APPROVALS_SHARED_DIR
      break
    fi
  done
fi
if [ -z "${APPROVALS_SHARED_DIR:-}" ]; then
  echo "!!! shared/conformance was not found beside the repository (or beside the checkout it was cloned from):"
  echo "!!! the JSON Logic conformance tests will fail. Set APPROVALS_SHARED_DIR to the shared/ folder."
fi

# The dashboard's end-to-end tests drive Debian's system Chromium through Playwright (never a downloaded
# browser). Install the distribution package when it is missing (CI runs as root), and tell the tests where it is.
if [ -z "${CHROMIUM_PATH:-}" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = "0" ]; then
      echo "==> installing Debian's chromium for the dashboard end-to-end tests"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
        || echo "!!! apt-get could not install chromium: the dashboard end-to-end tests will fail."
    else
      echo "!!! /usr/bin/chromium is missing and this is not root: run 'sudo apt-get install -y chromium'"
      echo "!!! (or set CHROMIUM_PATH to a Chromium binary); the dashboard end-to-end tests will fail without it."
    fi
  fi
  export CHROMIUM_PATH=/usr/bin/chromium
fi
echo "==> dashboard tests use Chromium at $CHROMIUM_PATH"

echo "==> building (warnings are errors)"
dotnet build ApprovalFunctions.Local.slnf -c Release --nologo -v quiet

PORT=$(free_port)
echo "==> starting Azurite (tables) on 127.0.0.1:$PORT"
start_azurite_tables "$PORT" "$WORK/azurite"
export APPROVALS_TEST_STORAGE="$(azurite_connection_string "$PORT")"

echo "==> running tests"
status=0
dotnet test ApprovalFunctions.Local.slnf -c Release --no-build --nologo \
  --logger "trx" --results-directory "$RESULTS" "$@" || status=$?

# Short chaos (docs/benchmarks.md has the full one): two hosts on this Azurite, kill -9 at random during 100 approvals,
# then every acknowledged decision, ledger chain and callback is checked. Prints a verdict; a FAIL fails the run.
echo "==> short chaos run (bench/ApprovalFunctions.LoadTest chaos --short)"
dotnet run -c Release --no-build --project bench/ApprovalFunctions.LoadTest -- chaos --short || status=1

functions_status="skipped"
if dotnet restore src/ApprovalFunctions.Functions/ApprovalFunctions.Functions.csproj --nologo -v quiet >"$WORK/functions-restore.log" 2>&1 \
   && dotnet restore tests/ApprovalFunctions.Functions.Tests/ApprovalFunctions.Functions.Tests.csproj --nologo -v quiet >>"$WORK/functions-restore.log" 2>&1; then
  echo "==> building and testing the Azure Functions host"
  dotnet test tests/ApprovalFunctions.Functions.Tests -c Release --nologo --logger "trx" --results-directory "$RESULTS" || status=$?
  functions_status="ran"
else
  missing=$(grep -oE "Unable to find package [A-Za-z0-9.]*[A-Za-z0-9]" "$WORK/functions-restore.log" | sort -u | sed 's/Unable to find package //' | paste -sd, - || true)
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! SKIPPED: src/ApprovalFunctions.Functions and its tests were NOT built or run: their"
  echo "!!! packages do not restore from this machine's NuGet feed (${missing:-see restore log})."
  echo "!!! Everything else ran. Build them where nuget.org is reachable: scripts/test.sh runs them there."
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
fi

# One plain closing line summed over every test project's TRX file.
python3 - "$RESULTS" "$functions_status" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
p = f = s = 0
for path in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(path).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None: continue
    p += int(c.get("passed", 0)); f += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    s += int(c.get("notExecuted", 0))
print(f"functions host: {sys.argv[2]}")
print(f"tests: {p} passed, {f} failed, {s} skipped")
PY
exit $status
