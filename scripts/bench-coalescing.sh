#!/usr/bin/env bash
# One new song asked for by 8 `minstrel cache fetch` processes at once: the store's
# single download across processes, as a whole-command benchmark (BENCHMARKS.md). The
# data folder DIR (and for postgres the schema `bench_coalescing`) is made on the first
# run and kept, so runs after it measure a running installation, not its creation; each
# run asks for SONG_URL with a new query string, so each is a miss. Fails unless exactly
# one process downloaded.
# Usage: scripts/bench-coalescing.sh sqlite|postgres SONG_URL MINSTREL_BINARY DIR
# PostgreSQL: POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
set -euo pipefail
if [ $# -ne 4 ]; then
    echo "usage: $0 sqlite|postgres SONG_URL MINSTREL_BINARY DIR" >&2
    exit 2
fi
backend="$1"
song="$2?run=$$-$RANDOM"
bin="$3"
dir="$4"
pg="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
export RUST_LOG=warn
case "$backend" in
    sqlite) ;;
    postgres)
        if [ ! -d "$dir" ]; then
            PGOPTIONS="--client-min-messages=warning" psql -q "$pg" -c "CREATE SCHEMA IF NOT EXISTS bench_coalescing"
        fi
        export MINSTREL_STORE__DATABASE_URL="$pg?options=-c%20search_path%3Dbench_coalescing"
        ;;
    *)
        echo "usage: $0 sqlite|postgres SONG_URL MINSTREL_BINARY DIR" >&2
        exit 2
        ;;
esac
mkdir -p "$dir"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
pids=()
for i in $(seq 8); do
    "$bin" --data-dir "$dir" cache fetch "$song" --json >"$out/$i.json" &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
downloads="$(cat "$out"/*.json | grep -c '"hit":false' || true)"
if [ "$downloads" != 1 ]; then
    echo "bench-coalescing: $downloads downloads, expected 1" >&2
    exit 1
fi
