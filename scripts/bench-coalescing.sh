#!/usr/bin/env bash
# One song asked for by 8 `minstrel cache fetch` processes at once, on a new data folder
# (and for postgres, a new schema): the store's single download across processes, as a
# whole-command benchmark (BENCHMARKS.md). Fails unless exactly one process downloaded.
# Usage: scripts/bench-coalescing.sh sqlite|postgres SONG_URL [MINSTREL_BINARY]
# PostgreSQL: POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
backend="$1"
song="$2"
bin="${3:-minstrel}"
dir="$(mktemp -d)"
schema=""
pg="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
cleanup() {
    rm -rf "$dir"
    if [ -n "$schema" ]; then
        psql -q "$pg" -c "DROP SCHEMA $schema CASCADE"
    fi
}
trap cleanup EXIT
case "$backend" in
    sqlite) ;;
    postgres)
        schema="bench_$$_$RANDOM"
        psql -q "$pg" -c "CREATE SCHEMA $schema"
        export MINSTREL_STORE__DATABASE_URL="$pg?options=-c%20search_path%3D$schema"
        ;;
    *)
        echo "usage: $0 sqlite|postgres SONG_URL [MINSTREL_BINARY]" >&2
        exit 2
        ;;
esac
pids=()
for i in $(seq 8); do
    "$bin" --data-dir "$dir" cache fetch "$song" --json >"$dir/out-$i.json" &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
downloads="$(cat "$dir"/out-*.json | grep -c '"hit":false' || true)"
if [ "$downloads" != 1 ]; then
    echo "bench-coalescing: $downloads downloads, expected 1" >&2
    exit 1
fi
