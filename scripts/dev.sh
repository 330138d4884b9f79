#!/usr/bin/env bash
# The main job on the embedded default (SQLite in ./minstrel-data, local plugins dir).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/minstrel/target}"
scripts/setup.sh
cargo run --locked -p minstrel -- demo "$@"
