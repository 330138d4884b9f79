#!/usr/bin/env bash
# The whole test suite: set-up, plugins, lints, then every test in the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds are kept outside the clone so repeated runs are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/minstrel/target}"

scripts/setup.sh
if [ -x scripts/build-plugins.sh ]; then
  scripts/build-plugins.sh
fi
cargo fmt --all --check
(cd plugins && cargo fmt --all --check && CARGO_TARGET_DIR="$PWD/target" cargo clippy --target wasm32-wasip2 --release --locked -- -D warnings) && (cd sdk && cargo fmt --check)
cargo clippy --workspace --all-targets --locked -- -D warnings
# The CLI tests run the `minstrel` binary itself, which `cargo test` does not build.
cargo build --locked -p minstrel
cargo test --workspace --locked
# The plugins' plain-Rust modules (URL and metadata parsing, table parsing, chart choice
# and rendering, poll tallies), natively, in the plugins' own target folder.
(cd plugins && CARGO_TARGET_DIR="$PWD/target" cargo test --locked -p youtube -p http -p chart -p poll)
# The SDK's examples (what plugin authors copy) compile.
(cd plugins && CARGO_TARGET_DIR="$PWD/target" cargo test --doc --locked -p minstrel-sdk)
