#!/usr/bin/env bash
# Creates the secrets the production manifests read, with fresh random passwords:
#
#   infra/deploy/make-secrets.sh [--force] [DIR]      (DIR: default infra/deploy/secrets)
#
#   DIR/telesuivi.env          TELESUIVI_BROKER__URL, TELESUIVI_STORE__URL, with the platform's credentials, and
#                              TELESUIVI_ADMIN_PASSWORD: the password of the first 'admin' (used at the very first
#                              start only; change it with `telesuivi users password admin` afterwards)
#   DIR/influxdb.env           InfluxDB admin and platform users (read by the influxdb:1.8 image at first start)
#   DIR/mosquitto.env          MQTT_HEALTHCHECK_PASSWORD, for the broker's health check
#   DIR/mosquitto-platform-passwords  mosquitto_passwd file of the platform's users: telesuivi, healthcheck
#   DIR/mosquitto-passwords    the broker's password file: the platform's users until devices are added
#   DIR/mosquitto-acl          the broker's ACL: infra/deploy/mosquitto/acl until devices are added
#   DIR/tls.crt, DIR/tls.key   a SELF-SIGNED certificate for the device listener (8883), CN=$MQTT_HOSTNAME:
#                              replace both with a certificate from your CA before devices connect
#
# and, for the scale-out deployment (infra/deploy/scaleout/, README.md "Scale-out"; unused by the single node):
#   DIR/scaleout.env           TELESUIVI_BROKER__URL (EMQX), TELESUIVI_WORKFLOW__POSTGRESQL, TELESUIVI_REDIS__CONFIGURATION
#   DIR/postgres.env, DIR/redis.env, DIR/emqx.env   the servers' own passwords (read by their images)
#   DIR/emqx-users.csv         EMQX's first accounts: the platform's MQTT user
#
# compose.yaml and kustomization.yaml read them from infra/deploy/secrets/ (git ignores that folder).
# Devices and environment stations are added afterwards with `telesuivi devices|stations credentials` and
# `telesuivi broker mosquitto-config`, which rewrites mosquitto-passwords and mosquitto-acl: see README.md,
# "Device authentication".
# Needs openssl, and mosquitto_passwd (Debian: mosquitto) or docker to run it from eclipse-mosquitto:2.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

force=false
if [[ "${1:-}" == --force ]]; then force=true; shift; fi
dir="${1:-$here/secrets}"
hostname="${MQTT_HOSTNAME:-mqtt.example.org}"

if [[ -e "$dir/telesuivi.env" ]] && ! $force; then
  echo "error: $dir already holds secrets; --force replaces them all (and invalidates every password in use)" >&2
  exit 1
fi
command -v openssl >/dev/null || { echo "error: openssl is needed" >&2; exit 1; }
mkdir -p "$dir"
chmod 700 "$dir"
umask 077

# Hex passwords: nothing to escape in a URL, an env file or a shell.
password() { openssl rand -hex 24; }
platform_mqtt="$(password)" healthcheck_mqtt="$(password)"
influx_admin="$(password)" influx_platform="$(password)" telesuivi_admin="$(password)"

cat > "$dir/telesuivi.env" <<EOF
TELESUIVI_BROKER__URL=mqtt://telesuivi:$platform_mqtt@mosquitto:1883
TELESUIVI_STORE__URL=influxdb://telesuivi:$influx_platform@influxdb:8086/telesuivi
TELESUIVI_ADMIN_PASSWORD=$telesuivi_admin
EOF
cat > "$dir/influxdb.env" <<EOF
INFLUXDB_ADMIN_USER=admin
INFLUXDB_ADMIN_PASSWORD=$influx_admin
INFLUXDB_USER=telesuivi
INFLUXDB_USER_PASSWORD=$influx_platform
EOF
echo "MQTT_HEALTHCHECK_PASSWORD=$healthcheck_mqtt" > "$dir/mosquitto.env"

postgres_password="$(password)" redis_password="$(password)" emqx_dashboard="$(password)"
cat > "$dir/scaleout.env" <<EOF
TELESUIVI_BROKER__URL=mqtt://telesuivi:$platform_mqtt@emqx:1883
TELESUIVI_WORKFLOW__POSTGRESQL=Host=postgres;Database=telesuivi;Username=telesuivi;Password=$postgres_password
TELESUIVI_REDIS__CONFIGURATION=redis:6379,password=$redis_password
EOF
cat > "$dir/postgres.env" <<EOF
POSTGRES_USER=telesuivi
POSTGRES_DB=telesuivi
POSTGRES_PASSWORD=$postgres_password
EOF
echo "REDIS_PASSWORD=$redis_password" > "$dir/redis.env"
echo "EMQX_DASHBOARD__DEFAULT_PASSWORD=$emqx_dashboard" > "$dir/emqx.env"
printf 'user_id,password,is_superuser\ntelesuivi,%s,false\n' "$platform_mqtt" > "$dir/emqx-users.csv"

# The password file holds salted PBKDF2 hashes, made by mosquitto's own tool.
passwd_file="$dir/mosquitto-platform-passwords"
: > "$passwd_file"
if command -v mosquitto_passwd >/dev/null; then
  mosquitto_passwd() { command mosquitto_passwd "$@"; }
elif command -v docker >/dev/null; then
  mosquitto_passwd() { docker run --rm -v "$dir:/secrets" eclipse-mosquitto:2 mosquitto_passwd "${@/#$dir//secrets}"; }
else
  echo "error: mosquitto_passwd is needed (apt-get install mosquitto, or docker)" >&2
  exit 1
fi
mosquitto_passwd -b "$passwd_file" telesuivi "$platform_mqtt"
mosquitto_passwd -b "$passwd_file" healthcheck "$healthcheck_mqtt"
# The broker starts with the platform's users and the device rules; mosquitto-config regenerates both.
cp "$passwd_file" "$dir/mosquitto-passwords"
cp "$here/mosquitto/acl" "$dir/mosquitto-acl"

openssl req -x509 -newkey rsa:3072 -nodes -days 365 -subj "/CN=$hostname" \
  -addext "subjectAltName=DNS:$hostname" \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
chmod 644 "$dir/tls.crt"

# The broker runs as uid 1883 and must read its password file and key; nobody else should.
if (( EUID == 0 )); then
  chown 1883:1883 "$dir/mosquitto-passwords" "$dir/mosquitto-acl" "$dir/tls.key"
  chmod 600 "$dir/mosquitto-passwords" "$dir/mosquitto-acl" "$dir/tls.key"
  broker_files="owned by uid 1883, mode 600 (with mosquitto-acl)"
else
  chmod 644 "$dir/mosquitto-passwords" "$dir/mosquitto-acl" "$dir/tls.key"
  broker_files="mode 644 so that the broker (uid 1883) can read them: 'sudo chown 1883:1883' them and 'chmod 600' to close them"
fi

echo "secrets written to $dir"
echo "  mosquitto-passwords and tls.key: $broker_files"
echo "  tls.crt is self-signed for $hostname (MQTT_HOSTNAME=...): replace it and tls.key with your CA's"
