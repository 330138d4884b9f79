#!/usr/bin/env bash
# The main job on the embedded default: SQLite and blobs in ./minstrel-data, the
# first-party plugins in ./minstrel-data/plugins (hot-reloaded), and the local
# Discord-compatible server with a terminal to chat with the bot (no token needed).
# With DISCORD_TOKEN set, connects to Discord instead (`minstrel run`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
scripts/setup.sh
scripts/build-plugins.sh >/dev/null
mkdir -p minstrel-data/plugins
for wasm in plugins/target/wasm32-wasip2/release/{hello_command,ask_mention,chart,poll,tone,youtube,http,local}.wasm; do
  [ -f "$wasm" ] && cp -u "$wasm" minstrel-data/plugins/
done
# poll keeps its polls in kv; chart may ask the LLM to pick a chart for vague requests.
export MINSTREL_PLUGINS__GRANTS__POLL__INTERFACES="${MINSTREL_PLUGINS__GRANTS__POLL__INTERFACES:-[\"kv\"]}"
export MINSTREL_PLUGINS__GRANTS__CHART__INTERFACES="${MINSTREL_PLUGINS__GRANTS__CHART__INTERFACES:-[\"llm\"]}"
# youtube reaches YouTube through the host's yt-dlp; local plays files from minstrel-data/music.
mkdir -p minstrel-data/music
# Something to play from the start (`!play sample`), until you add your own files.
if [ -z "$(ls -A minstrel-data/music)" ]; then
  cp assets/sample.opus "minstrel-data/music/Minstrel sample.opus"
fi
export MINSTREL_PLUGINS__GRANTS__YOUTUBE__INTERFACES="${MINSTREL_PLUGINS__GRANTS__YOUTUBE__INTERFACES:-[\"media\"]}"
export MINSTREL_PLUGINS__GRANTS__YOUTUBE__CALL_TIMEOUT_MS="${MINSTREL_PLUGINS__GRANTS__YOUTUBE__CALL_TIMEOUT_MS:-600000}"
export MINSTREL_PLUGINS__GRANTS__LOCAL__FILES_DIR="${MINSTREL_PLUGINS__GRANTS__LOCAL__FILES_DIR:-$PWD/minstrel-data/music}"
# http reaches only the hosts named here (none unless you set them), e.g.
# MINSTREL_PLUGINS__GRANTS__HTTP__HTTP_HOSTS='["radio.example.org"]' scripts/dev.sh
export MINSTREL_PLUGINS__GRANTS__HTTP__INTERFACES="${MINSTREL_PLUGINS__GRANTS__HTTP__INTERFACES:-[\"http\"]}"
export MINSTREL_PLUGINS__GRANTS__HTTP__CALL_TIMEOUT_MS="${MINSTREL_PLUGINS__GRANTS__HTTP__CALL_TIMEOUT_MS:-600000}"
# Charts first (they claim only messages with a table), then the LLM plugin for the rest.
export MINSTREL_DISCORD__MENTION_ORDER="${MINSTREL_DISCORD__MENTION_ORDER:-[\"chart\"]}"
export MINSTREL_PLUGINS__DIR="${MINSTREL_PLUGINS__DIR:-minstrel-data/plugins}"
cargo build --locked -p minstrel --features dev
if [ -n "${DISCORD_TOKEN:-}" ]; then
  exec "$CARGO_TARGET_DIR/debug/minstrel" run "$@"
fi
exec "$CARGO_TARGET_DIR/debug/minstrel" dev "$@"
