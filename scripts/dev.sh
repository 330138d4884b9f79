#!/usr/bin/env bash
# The main job on the embedded default: SQLite and blobs in ./minstrel-data, the
# first-party plugins bundled in the binary (youtube, http, local, tone, chart,
# ask-mention, poll) plus hello-command in ./minstrel-data/plugins (hot-reloaded), and
# the local Discord-compatible server with a terminal to chat with the bot (no token
# needed). With DISCORD_TOKEN set, connects to Discord instead (`minstrel run`).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

scripts/setup.sh
# Before the host: the host build bundles what this writes.
scripts/build-plugins.sh >/dev/null
mkdir -p minstrel-data/plugins
cp -u plugins/target/wasm32-wasip2/release/hello_command.wasm minstrel-data/plugins/
# Something to play from the start (`!play sample`), until you add your own files: the
# bundled local plugin plays from the music folder.
mkdir -p minstrel-data/music
if [ -z "$(ls -A minstrel-data/music)" ]; then
  cp assets/sample.opus "minstrel-data/music/Minstrel sample.opus"
fi
export MINSTREL_PLUGINS__MUSIC_DIR="${MINSTREL_PLUGINS__MUSIC_DIR:-$PWD/minstrel-data/music}"
export MINSTREL_PLUGINS__DIR="${MINSTREL_PLUGINS__DIR:-minstrel-data/plugins}"
# The bundled http source reaches no host until granted some, e.g.
# MINSTREL_PLUGINS__GRANTS__HTTP__INTERFACES='["http"]' \
# MINSTREL_PLUGINS__GRANTS__HTTP__HTTP_HOSTS='["radio.example.org"]' scripts/dev.sh

cargo build --locked -p minstrel --features dev
if [ -n "${DISCORD_TOKEN:-}" ]; then
  exec "$CARGO_TARGET_DIR/debug/minstrel" run "$@"
fi
exec "$CARGO_TARGET_DIR/debug/minstrel" dev "$@"
