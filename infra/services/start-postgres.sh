#!/usr/bin/env bash
# Creates a PostgreSQL cluster in DIR/data (initdb) and starts it on a free loopback port.
# Usage: infra/services/start-postgres.sh DIR [PORT]
# Prints POSTGRES_CONNECTION=Host=127.0.0.1;Port=PORT;Username=telesuivi;Database=postgres once it accepts
# connections (trust authentication on loopback: for tests and development only). Stop it with stop.sh DIR.
# initdb and postgres refuse to run as root: run as root, the cluster is created and run as the unprivileged
# account POSTGRES_RUN_AS (default: postgres, which Debian's postgresql package creates), and the folders above DIR
# are made traversable (o+x, not readable) for it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/lib.sh"

dir="${1:?usage: start-postgres.sh DIR [PORT]}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
port="${2:-$(free_port)}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[[ -x "$bin/initdb" ]] || bin="$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent)")"
[[ -x "$bin/initdb" && -x "$bin/pg_ctl" ]] || die "PostgreSQL is not installed (apt-get install postgresql)"

as_owner=()
if [[ "$(id -u)" == 0 ]]; then
  owner="${POSTGRES_RUN_AS:-postgres}"
  id "$owner" >/dev/null 2>&1 || die "running as root: initdb needs an unprivileged account; '$owner' does not exist (set POSTGRES_RUN_AS)"
  chown "$owner" "$dir"
  parent="$dir"
  while [[ "$parent" != "/" ]]; do
    parent="$(dirname "$parent")"
    [[ -n "$(find "$parent" -maxdepth 0 -perm -o=x)" ]] || chmod o+x "$parent"
  done
  as_owner=(runuser -u "$owner" --)
fi

if [[ ! -f "$dir/data/PG_VERSION" ]]; then
  "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U telesuivi --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 \
    || die "initdb failed (see $dir/initdb.log)"
fi
# fsync off: a test cluster is thrown away; a crash of the machine loses nothing anybody keeps.
"${as_owner[@]}" "$bin/pg_ctl" start -D "$dir/data" -w -t 30 -l "$dir/postgres.log" \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" >/dev/null \
  || die "PostgreSQL did not start on 127.0.0.1:$port (see $dir/postgres.log)"
head -1 "$dir/data/postmaster.pid" > "$dir/postgres.pid"
echo "POSTGRES_CONNECTION=Host=127.0.0.1;Port=$port;Username=telesuivi;Database=postgres"
