#!/usr/bin/env bash
# Builds every plugin in plugins/ (and the SDK they use) for wasm32-wasip2.
#
# Output: plugins/target/wasm32-wasip2/release/*.wasm, the one place the tests, the
# benchmarks and `minstrel dev` look. Idempotent: a second run with nothing changed
# finishes in well under a second. Needs the wasm32-wasip2 target (scripts/setup.sh adds
# it; this script adds it too when rustup is there and it is missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/plugins"

if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx wasm32-wasip2; then
        rustup target add wasm32-wasip2
    fi
fi

# Ignore any CARGO_TARGET_DIR of the caller: the output location is part of the contract.
export CARGO_TARGET_DIR="$root/plugins/target"
cargo build --locked --target wasm32-wasip2 --release "$@"

out="$CARGO_TARGET_DIR/wasm32-wasip2/release"
count=$(find "$out" -maxdepth 1 -name '*.wasm' | wc -l)
echo "build-plugins: $count components in ${out#"$root"/}"
