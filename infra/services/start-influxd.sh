#!/usr/bin/env bash
# Starts influxd (v1 HTTP API) on a free loopback port, its data in DIR.
# Usage: infra/services/start-influxd.sh DIR [PORT]
# Prints INFLUX_URL=http://127.0.0.1:PORT once /ping answers. Stop it with stop.sh DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

dir="${1:?usage: start-influxd.sh DIR [PORT]}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
port="${2:-$(free_port)}"
rpc_port="$(free_port)"
command -v influxd >/dev/null || die "influxd is not installed (apt-get install influxdb)"

sed -e "s|@PORT@|$port|g" -e "s|@RPC_PORT@|$rpc_port|g" -e "s|@DIR@|$dir|g" "$here/influxdb.conf.template" > "$dir/influxdb.conf"
setsid influxd run -config "$dir/influxdb.conf" -pidfile "$dir/influxd.pid" >"$dir/influxd.log" 2>&1 < /dev/null &
ping_ok() { [[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping")" == 204 ]]; }
wait_until 30 ping_ok || die "influxd did not answer on http://127.0.0.1:$port/ping within 30 s (see $dir/influxd.log)"
echo "INFLUX_URL=http://127.0.0.1:$port"
