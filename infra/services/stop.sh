#!/usr/bin/env bash
# Stops the services started in DIR (every *.pid file there): SIGTERM, then SIGKILL after 10 s.
# Usage: infra/services/stop.sh DIR
set -uo pipefail
dir="${1:?usage: stop.sh DIR}"
shopt -s nullglob
for pidfile in "$dir"/*.pid; do
  pid="$(cat "$pidfile" 2>/dev/null)" || continue
  [[ -n "$pid" ]] || continue
  kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; continue; }
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
done
