# Sourced by scripts/fuzz and scripts/clients/run: a throwaway server of one build.
#   server_build BUILD WORK     cargo build (debug) and copy the binary to WORK/gymapi, at once:
#                               the other build writes the same target/debug/gymapi
#   server_start BUILD WORK DB_URL [VAR=value ...]
#                               starts WORK/gymapi on a free loopback port with database DB_URL
#                               (created by the server, dropped by server_stop), rate limiting
#                               off, log in WORK/server.log; sets server_pid and server_base
#   server_stop                 stops it (TERM, then waits) and drops its database
# The caller sets `set -euo pipefail`, CARGO_TARGET_DIR, and a trap that calls server_stop.

server_pid=
server_base=
server_db_url=
server_admin_url=

server_features() {
    case "$1" in
    gym) echo "--features gym" ;;
    trainer) echo "--no-default-features --features trainer" ;;
    *) return 1 ;;
    esac
}

server_build() {
    local build=$1 work=$2 features
    features=$(server_features "$build")
    # shellcheck disable=SC2086 # the features are words
    cargo build --quiet --bin gymapi $features
    cp "$CARGO_TARGET_DIR/debug/gymapi" "$work/gymapi"
}

server_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# server_start BUILD WORK DB_URL [VAR=value ...]; ADMIN_URL (the same server's `postgres`
# database, for the drop) is DB_URL with its last path segment replaced.
server_start() {
    local build=$1 work=$2 db_url=$3 port i
    shift 3
    server_db_url=$db_url
    server_admin_url=${db_url%/*}/postgres
    port=$(server_free_port)
    server_base=http://127.0.0.1:$port
    env GYMAPI_APP__MODE="$build" \
        GYMAPI_APP__ENVIRONMENT=test \
        GYMAPI_SERVER__HOST=127.0.0.1 \
        GYMAPI_SERVER__PORT="$port" \
        GYMAPI_DATABASE__URL="$db_url" \
        GYMAPI_AUTH__JWT_SECRET="throwaway-secret-$RANDOM-that-is-long-enough-for-hs256" \
        GYMAPI_LOG__FORMAT=json \
        GYMAPI_LOG__LEVEL=warn \
        GYMAPI_RATE_LIMIT__ENABLED=false \
        "$@" \
        "$work/gymapi" serve >"$work/server.log" 2>&1 &
    server_pid=$!
    for ((i = 0; i < 240; i++)); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "the server exited during start-up:" >&2
            tail -n 20 "$work/server.log" >&2 || true
            return 1
        fi
        if curl -fsS -o /dev/null --max-time 2 "$server_base/health/ready" 2>/dev/null; then
            return 0
        fi
        sleep 0.25
    done
    echo "the server is not ready after 60 s" >&2
    return 1
}

server_stop() {
    if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    server_pid=
    if [[ -n "$server_db_url" ]]; then
        psql -X -q -w "$server_admin_url" -c "drop database if exists \"${server_db_url##*/}\" with (force)" \
            >/dev/null 2>&1 || echo "could not drop database ${server_db_url##*/}" >&2
        server_db_url=
    fi
}
