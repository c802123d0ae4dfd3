#!/usr/bin/env bash
# Starts a mosquitto broker on a free loopback port, its files in DIR.
# Usage: infra/services/start-mosquitto.sh DIR [PORT]
# Prints MQTT_URL=mqtt://127.0.0.1:PORT once the broker accepts connections. Stop it with stop.sh DIR.
# Anonymous by default. With MOSQUITTO_PASSWORD_FILE and MOSQUITTO_ACL_FILE set (e.g. from
# `telesuivi broker mosquitto-config`), it refuses anonymous clients and enforces those files instead.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

dir="${1:?usage: start-mosquitto.sh DIR [PORT]}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
port="${2:-$(free_port)}"
command -v mosquitto >/dev/null || die "mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"

# Run as the calling user: started as root, mosquitto would otherwise switch to a user that cannot write to DIR.
sed -e "s|@PORT@|$port|g" -e "s|@DIR@|$dir|g" -e "s|@USER@|$(id -un)|g" "$here/mosquitto.conf.template" > "$dir/mosquitto.conf"
if [[ -n "${MOSQUITTO_PASSWORD_FILE:-}" || -n "${MOSQUITTO_ACL_FILE:-}" ]]; then
  [[ -r "${MOSQUITTO_PASSWORD_FILE:-}" && -r "${MOSQUITTO_ACL_FILE:-}" ]] \
    || die "MOSQUITTO_PASSWORD_FILE and MOSQUITTO_ACL_FILE must both name readable files"
  sed -i -e "s|^allow_anonymous true$|allow_anonymous false|" "$dir/mosquitto.conf"
  printf 'password_file %s\nacl_file %s\n' "$(realpath "$MOSQUITTO_PASSWORD_FILE")" "$(realpath "$MOSQUITTO_ACL_FILE")" >> "$dir/mosquitto.conf"
fi
# -d detaches; the broker writes its pid to the pid_file of the configuration.
mosquitto -c "$dir/mosquitto.conf" -d 2>>"$dir/mosquitto.stderr"
wait_until 15 port_open "$port" || die "mosquitto did not listen on 127.0.0.1:$port within 15 s (see $dir/mosquitto.log)"
echo "MQTT_URL=mqtt://127.0.0.1:$port"
