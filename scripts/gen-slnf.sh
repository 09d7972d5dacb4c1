#!/usr/bin/env bash
# Regenerates ApprovalFunctions.Local.slnf: every project in the solution except the Azure
# Functions host and its tests, whose packages this machine's feed does not serve.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet sln ApprovalFunctions.sln list | grep -E '\.csproj$' | grep -v 'ApprovalFunctions.Functions' | sort | python3 -c '
import json, sys
paths = [l.strip().replace("/", "\\") for l in sys.stdin if l.strip()]
print(json.dumps({"solution": {"path": "ApprovalFunctions.sln", "projects": paths}}, indent=2))' > ApprovalFunctions.Local.slnf
cat ApprovalFunctions.Local.slnf
