#!/usr/bin/env bash
# Waits up to 60 s for the PostgreSQL server the tests use (POSTGRES_URL, by default
# postgres://postgres@127.0.0.1:5432/test), and fails with the reason if it never answers.
set -euo pipefail
url="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! command -v pg_isready >/dev/null; then
    echo "postgres-ready: pg_isready not found (Debian: apt-get install postgresql-client)" >&2
    exit 1
fi
for _ in $(seq 60); do
    if pg_isready -q -d "$url"; then
        exit 0
    fi
    sleep 1
done
echo "postgres-ready: no PostgreSQL server answers at $url" >&2
pg_isready -d "$url" >&2 || true
exit 1
