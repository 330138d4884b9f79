#!/usr/bin/env bash
# Installs Minstrel for a server in one step: ffmpeg, libopus and the WebAssembly
# toolchain (scripts/setup.sh), the first-party plugins (scripts/build-plugins.sh; the
# host's build bundles them into the binary), the `minstrel` binary in the release
# profile, and a yt-dlp of its own, all under one prefix:
#   scripts/install.sh                  # ~/.local/bin/minstrel and ~/.local/bin/yt-dlp
#   sudo scripts/install.sh /usr/local  # where deploy/minstrel.service looks
# The Dockerfile runs this same script.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
prefix="${1:-$HOME/.local}"

scripts/setup.sh
# Before the host: the host's build bundles what this writes.
scripts/build-plugins.sh
cargo install --locked --path host --root "$prefix"

# yt-dlp in a virtual environment of its own beside the binary (the host runs `yt-dlp`
# from PATH); upgrade it with the same pip line when sites change.
venv="$prefix/lib/minstrel/yt-dlp"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade yt-dlp
ln -sf "$venv/bin/yt-dlp" "$prefix/bin/yt-dlp"

echo "install: $prefix/bin/minstrel, with the first-party plugins bundled, and $prefix/bin/yt-dlp"
echo "install: next, check it with: DISCORD_TOKEN=... $prefix/bin/minstrel doctor"
