#!/usr/bin/env bash
# Starts a redis-server on a free loopback port, its files in DIR (no persistence: a test or dev backplane).
# Usage: infra/services/start-redis.sh DIR [PORT]
# Prints REDIS_CONFIGURATION=127.0.0.1:PORT (the value for Redis:Configuration) once it answers. Stop it with stop.sh DIR.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

dir="${1:?usage: start-redis.sh DIR [PORT]}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
port="${2:-$(free_port)}"
command -v redis-server >/dev/null || die "redis-server is not installed (apt-get install redis-server)"

# The configuration file's path stays in the process title, so infra/test.sh finds a server a crashed run left behind.
cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
dir $dir
save ""
appendonly no
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
proc-title-template "{title} {listen-addr} {config-file}"
CONF
redis-server "$dir/redis.conf"
wait_until 15 port_open "$port" || die "redis-server did not listen on 127.0.0.1:$port within 15 s (see $dir/redis.log)"
echo "REDIS_CONFIGURATION=127.0.0.1:$port"
