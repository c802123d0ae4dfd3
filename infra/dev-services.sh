#!/usr/bin/env bash
# mosquitto and influxd for development, their files under .services/ at the repository root.
#
#   infra/dev-services.sh up       start both (ports 1883 and 8086, or free ones if those are taken),
#                                  create the 'telesuivi' database, print the command that runs the platform on them
#   infra/dev-services.sh status   say what runs where (exit 0 if both run, 3 otherwise)
#   infra/dev-services.sh down     stop both; their data stays in .services/ (down --purge deletes it)
#
# The same scripts start them for the tests (infra/services/), there on free ports in a temporary folder.
# .services/env holds the addresses, in a form `source` and `docker --env-file` both read.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
services="$repo/infra/services"
source "$services/lib.sh"

root="$repo/.services"
mosquitto_dir="$root/mosquitto"
influx_dir="$root/influxd"
env_file="$root/env"
database=telesuivi

# The pid of the service whose files are in DIR, if it runs.
running_pid() {
  local pid
  pid="$(cat "$1/$2.pid" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# The value of NAME in .services/env, if any.
saved() { sed -n "s/^$1=//p" "$env_file" 2>/dev/null | tail -n 1; }

# PORT of a saved URL like mqtt://127.0.0.1:PORT.
port_of() { local url="$1"; url="${url##*:}"; echo "${url%%/*}"; }

# The port to start on: the one used last time, else the default, if nobody listens there; else a free one.
choose_port() {
  local previous="$1" default="$2" port
  for port in $previous $default; do
    if ! port_open "$port"; then echo "$port"; return; fi
  done
  free_port
}

start_service() { # start_service NAME SCRIPT DIR DEFAULT_PORT URL_VAR
  local name="$1" script="$2" dir="$3" default="$4" var="$5" pid output port
  if pid="$(running_pid "$dir" "$name")"; then
    echo "$name already runs (pid $pid) at $(saved "$var")" >&2
    saved "$var"
    return
  fi
  port="$(choose_port "$(port_of "$(saved "$var")")" "$default")"
  [[ "$port" == "$default" ]] || echo "port $default is taken: $name uses $port" >&2
  output="$(bash "$services/$script" "$dir" "$port")"
  sed -n "s/^$var=//p" <<<"$output"
}

up() {
  mkdir -p "$root"
  local mqtt influx
  mqtt="$(start_service mosquitto start-mosquitto.sh "$mosquitto_dir" 1883 MQTT_URL)"
  influx="$(start_service influxd start-influxd.sh "$influx_dir" 8086 INFLUX_URL)"
  # serve creates its database when it may; creating it here too lets any store client write at once.
  curl -sf -o /dev/null -XPOST "$influx/query" --data-urlencode "q=CREATE DATABASE $database" \
    || echo "warning: could not create database '$database' at $influx" >&2

  local broker="$mqtt" store="influxdb://${influx#http://}/$database"
  cat > "$env_file" <<EOF
# Written by infra/dev-services.sh up: the development services' addresses.
MQTT_URL=$mqtt
INFLUX_URL=$influx
TELESUIVI_BROKER__URL=$broker
TELESUIVI_STORE__URL=$store
EOF
  echo "mosquitto  $mqtt    (files: ${mosquitto_dir#"$repo"/})"
  echo "influxd    $influx    (files: ${influx_dir#"$repo"/}, database '$database')"
  echo
  echo "Run the platform on them:"
  echo "  dotnet run --project src/TeleSuivi.Server -- serve --broker $broker --store $store"
  echo "(or: set -a; source .services/env; set +a; dotnet run --project src/TeleSuivi.Server -- serve)"
  if [[ "$mqtt" == *:1883 ]]; then
    echo "Note: mosquitto holds 1883, the embedded broker's default port: run 'demo' with --mqtt-port N, or stop these first."
  fi
}

status() {
  local all=0 pid
  for entry in "mosquitto:$mosquitto_dir:MQTT_URL" "influxd:$influx_dir:INFLUX_URL"; do
    IFS=: read -r name dir var <<<"$entry"
    if pid="$(running_pid "$dir" "$name")"; then
      printf '%-10s running  pid %-7s %s\n' "$name" "$pid" "$(saved "$var")"
    else
      printf '%-10s stopped\n' "$name"
      all=3
    fi
  done
  if (( all == 0 )); then
    echo "serve --broker $(saved TELESUIVI_BROKER__URL) --store $(saved TELESUIVI_STORE__URL)"
  fi
  return "$all"
}

down() {
  bash "$services/stop.sh" "$mosquitto_dir"
  bash "$services/stop.sh" "$influx_dir"
  if [[ "${1:-}" == --purge ]]; then
    rm -rf "$root"
    echo "stopped; .services/ deleted"
  else
    echo "stopped; data kept in .services/ (infra/dev-services.sh down --purge deletes it)"
  fi
}

case "${1:-}" in
  up) up ;;
  status) status ;;
  down) shift; down "$@" ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
