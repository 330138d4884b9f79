#!/usr/bin/env bash
# The whole test suite: set-up, plugins, lints, then every test in the workspace.
# One step per line: under `set -e` a failure inside `a && b` would not stop the run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

scripts/setup.sh
scripts/build-plugins.sh

# Formatting and lints: host workspace, plugins (built for wasm32-wasip2) and the SDK.
cargo fmt --all --check
(cd plugins; cargo fmt --all --check)
(cd sdk; cargo fmt --check)
(cd plugins; CARGO_TARGET_DIR="$PWD/target" cargo clippy --target wasm32-wasip2 --release --locked --all-targets -- -D warnings)
# clippy lints only workspace members, and the SDK is a path dependency of the plugins:
# it is linted from its own folder (its Cargo.lock pins what the plugins use).
(cd sdk; CARGO_TARGET_DIR="$PWD/../plugins/target" cargo clippy --target wasm32-wasip2 --release --locked --all-targets -- -D warnings)
cargo clippy --workspace --all-targets --locked -- -D warnings
# The production binary alone: the workspace build turns on the `dev` feature (the tests
# use the stand-ins), so the code a build without it compiles is linted here.
cargo clippy -p minstrel --bins --locked -- -D warnings

# One build of the dependency graph, with the feature set the tests use: the `minstrel`
# binary the CLI tests run is built here beside the test targets (cargo test does not
# build it), so both share every dependency.
cargo build --locked --workspace --bins --tests
cargo test --workspace --locked
# The store's tests again on PostgreSQL (127.0.0.1:5432, database test, a fresh schema
# per data dir), so both backends pass the same tests, and the bot's across processes
# (one reply to a duplicated event, queues resumed after a restart) on it too.
scripts/postgres-ready.sh
STORE_BACKEND=postgres cargo test --locked -p minstrel-tests --test store_fetch --test store_processes --test store_records --test store_repair --test store_cli --test discord --test player --test shutdown --test shards --test settings
# The plugins' plain-Rust modules (URL and metadata parsing, table parsing, chart choice
# and rendering, poll tallies), natively, in the plugins' own target folder.
(cd plugins; CARGO_TARGET_DIR="$PWD/target" cargo test --locked -p youtube -p http -p chart -p poll -p nowplaying -p playlists -p lyrics -p sponsorblock -p autoplay -p links -p lrclib -p radio)
# The SDK's examples (what plugin authors copy) compile.
(cd plugins; CARGO_TARGET_DIR="$PWD/target" cargo test --doc --locked -p minstrel-sdk)
