#!/usr/bin/env bash
# Builds every plugin in plugins/ (and the SDK they use) for wasm32-wasip2: the Rust
# crates with cargo, then py-buttons and py-ping with componentize-py, js-hello and
# js-ping with componentize-js (both installed by scripts/setup.sh).
#
# Output: plugins/target/wasm32-wasip2/release/*.wasm, the one place the tests, the
# benchmarks and `minstrel dev` look. Idempotent: a second run with nothing changed
# finishes in well under a second. Needs the wasm32-wasip2 target (scripts/setup.sh adds
# it; this script adds it too when rustup is there and it is missing).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$root/scripts/env.sh"
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
wit="$root/wit/since_v0.1.0"

# Whether component $1 is missing or older than any file under the paths that follow
# (Python's bytecode caches aside: the build writes them).
stale() {
    local component=$1
    shift
    [ ! -e "$component" ] ||
        [ -n "$(find "$@" -newer "$component" ! -path '*/__pycache__/*' -print -quit)" ]
}

# The toolchains; a component's toolchain counts among its sources, so one installed
# anew rebuilds it.
componentize_py="$tools_dir/venv/bin/componentize-py"
node_dir="$tools_dir/node"
componentize_js="$node_dir/node_modules/.bin/componentize-js"
for tool in "$componentize_py" "$componentize_js"; do
    if [ ! -x "$tool" ]; then
        echo "build-plugins: ${tool##*/} is missing: run scripts/setup.sh" >&2
        exit 1
    fi
done

# Python, API 0.2.0: py-buttons (`minstrel plugin new --lang python`'s command template).
wit2="$root/wit/since_v0.2.0"
if stale "$out/py_buttons.wasm" py-buttons "$wit2" "$componentize_py"; then
    echo "build-plugins: py-buttons (componentize-py)"
    "$componentize_py" -d "$wit2" -w command componentize app -p py-buttons -o "$out/py_buttons.wasm.tmp"
    mv "$out/py_buttons.wasm.tmp" "$out/py_buttons.wasm"
fi

# Python: the module app.py of py-ping, for the `command` world.
if stale "$out/py_ping.wasm" py-ping "$wit" "$componentize_py"; then
    echo "build-plugins: py-ping (componentize-py)"
    "$componentize_py" -d "$wit" -w command componentize app -p py-ping -o "$out/py_ping.wasm.tmp"
    mv "$out/py_ping.wasm.tmp" "$out/py_ping.wasm"
fi

# JavaScript, API 0.2.0: js-hello (`minstrel plugin new --lang js`'s mention template).
if stale "$out/js_hello.wasm" js-hello "$wit2" "$node_dir/installed.lock"; then
    echo "build-plugins: js-hello (componentize-js)"
    "$componentize_js" js-hello/plugin.js --wit "$wit2" --world-name mention -d http fetch-event -o "$out/js_hello.wasm.tmp"
    mv "$out/js_hello.wasm.tmp" "$out/js_hello.wasm"
fi

# JavaScript: ping.js of js-ping, for the `mention` world. `-d http fetch-event` leaves
# out wasi:http, which the host does not provide.
if stale "$out/js_ping.wasm" js-ping/ping.js "$wit" "$node_dir/installed.lock"; then
    echo "build-plugins: js-ping (componentize-js)"
    "$componentize_js" js-ping/ping.js --wit "$wit" --world-name mention -d http fetch-event -o "$out/js_ping.wasm.tmp"
    mv "$out/js_ping.wasm.tmp" "$out/js_ping.wasm"
fi

count=$(find "$out" -maxdepth 1 -name '*.wasm' | wc -l)
echo "build-plugins: $count components in ${out#"$root"/}"
