#!/usr/bin/env bash
# Shared helpers for the run and test scripts: install the pinned Azurite (package.json + lockfile)
# and start/stop it. Sourced, not executed.

AZURITE_DEV_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

ensure_node_modules() {
  if [ ! -x "$ROOT/node_modules/.bin/azurite" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
    echo "==> installing Azurite from package-lock.json (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# start_azurite_tables PORT DIR [extra args...] — table service only, in memory, for tests.
start_azurite_tables() {
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  # In-memory: nothing written to disk (Azurite 3.37 refuses --location together with --inMemoryPersistence).
  (cd "$dir" && exec "$ROOT/node_modules/.bin/azurite-table" --tableHost 127.0.0.1 --tablePort "$port" \
    --inMemoryPersistence --skipApiVersionCheck --disableTelemetry --silent "$@" \
    >"$dir/azurite.log" 2>&1) &
  AZURITE_PID=$!
  wait_for_port "$port" "$dir/azurite.log"
}

wait_for_port() {
  local port=$1 log=$2
  for _ in $(seq 1 150); do
    if port_open "$port"; then return 0; fi
    if [ -n "${AZURITE_PID:-}" ] && ! kill -0 "$AZURITE_PID" 2>/dev/null; then
      echo "Azurite exited during start-up; its log:" >&2; cat "$log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "Azurite did not listen on port $port within 30 s; its log:" >&2; cat "$log" >&2
  return 1
}

stop_azurite() {
  if [ -n "${AZURITE_PID:-}" ] && kill -0 "$AZURITE_PID" 2>/dev/null; then
    kill "$AZURITE_PID" 2>/dev/null || true
    wait "$AZURITE_PID" 2>/dev/null || true
  fi
  AZURITE_PID=
}

azurite_connection_string() {
  local port=$1
  echo "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_DEV_KEY;TableEndpoint=http://127.0.0.1:$port/devstoreaccount1;"
}
