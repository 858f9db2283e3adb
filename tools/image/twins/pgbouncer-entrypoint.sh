#!/bin/sh
# edoburu/pgbouncer's contract, for the local twin: with no pgbouncer.ini of its own, write one
# (and the auth file) from the environment docker-compose.yml sets, then run the command.
set -eu

config=/etc/pgbouncer/pgbouncer.ini
if [ ! -f "$config" ] && [ -n "${DB_HOST:-}" ]; then
    printf '"%s" "%s"\n' "${DB_USER}" "${DB_PASSWORD}" > /etc/pgbouncer/userlist.txt
    cat > "$config" <<INI
[databases]
${DB_NAME:-*} = host=${DB_HOST} port=${DB_PORT:-5432}

[pgbouncer]
listen_addr = ${LISTEN_ADDR:-0.0.0.0}
listen_port = ${LISTEN_PORT:-5432}
unix_socket_dir =
pool_mode = ${POOL_MODE:-session}
auth_type = ${AUTH_TYPE:-md5}
auth_file = /etc/pgbouncer/userlist.txt
admin_users = ${ADMIN_USERS:-postgres}
stats_users = ${STATS_USERS:-}
max_client_conn = ${MAX_CLIENT_CONN:-100}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
ignore_startup_parameters = extra_float_digits
INI
fi
exec "$@"
