#!/usr/bin/env bash
# A throwaway PostgreSQL + PostGIS server on loopback for the tests (CI and developers).
#
#   scripts/postgres.sh start   install Debian's postgresql + postgis if missing, create a fresh
#                               cluster, start it on 127.0.0.1:$XINING_PG_PORT, create the role
#                               and database with the postgis extension; prints the URL
#   scripts/postgres.sh stop    stop the server and delete its data directory
#   scripts/postgres.sh url     print the URL the tests use (XINING_TEST_DATABASE_URL)
#
# Settings (environment): XINING_PG_PORT (54329), XINING_PG_DIR (/tmp/xining-pg-$PORT),
# XINING_PG_VERSION (15, Debian bookworm). The cluster trusts local connections (but for the role
# xining_pw, whose password is 'right-password', for the tests of a wrong one) and skips fsync:
# it is for tests only and holds nothing worth keeping.
set -euo pipefail

port=${XINING_PG_PORT:-54329}
base=${XINING_PG_DIR:-/tmp/xining-pg-$port}
version=${XINING_PG_VERSION:-15}
bindir=/usr/lib/postgresql/$version/bin
user=xining
db=xining_test
url="postgresql://$user@127.0.0.1:$port/$db"

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Run a server program as the owner of the data directory: the postgres OS user when we are
# root (PostgreSQL refuses to run as root), else ourselves.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install_packages() {
  local debs=("postgresql-$version" "postgresql-$version-postgis-3") missing=()
  for deb in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "postgres.sh: installing ${missing[*]}" >&2
    as_root apt-get update -qq
    # No main cluster on 5432: this script makes its own throwaway one.
    as_root mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" | as_root tee /etc/postgresql-common/createcluster.d/xining.conf >/dev/null
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null
  fi
}

start() {
  install_packages
  if [ -f "$base/data/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$base/data" status >/dev/null 2>&1; then
    echo "postgres.sh: already running on port $port" >&2
    echo "$url"
    return 0
  fi
  rm -rf "$base"
  mkdir -p "$base/data" "$base/socket"
  if [ "$(id -u)" = 0 ]; then chown -R postgres:postgres "$base"; fi
  as_owner "$bindir/initdb" -D "$base/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-sync >"$base/initdb.log" 2>&1 || { cat "$base/initdb.log" >&2; exit 1; }
  # one role that must give its password (the tests of a wrong password need one)
  { echo "host all ${user}_pw 127.0.0.1/32 scram-sha-256"; cat "$base/data/pg_hba.conf"; } \
    >"$base/pg_hba.conf" && mv "$base/pg_hba.conf" "$base/data/pg_hba.conf"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$base/data/pg_hba.conf"; fi
  as_owner "$bindir/pg_ctl" -D "$base/data" -l "$base/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $base/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start >/dev/null || { cat "$base/server.log" >&2; exit 1; }
  local psql=("$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres)
  "${psql[@]}" -d postgres -c "CREATE ROLE ${user}_pw LOGIN PASSWORD 'right-password'"
  "${psql[@]}" -d postgres -c "CREATE ROLE $user LOGIN SUPERUSER" \
    -c "CREATE DATABASE $db OWNER $user"
  "${psql[@]}" -d "$db" -c "CREATE EXTENSION IF NOT EXISTS postgis"
  echo "$url"
}

stop() {
  if [ -d "$base/data" ]; then
    as_owner "$bindir/pg_ctl" -D "$base/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$base"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) echo "$url" ;;
  *) echo "usage: scripts/postgres.sh start|stop|url" >&2; exit 2 ;;
esac
