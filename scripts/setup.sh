#!/usr/bin/env bash
# Installs what Minstrel needs to build, test and run on a fresh Debian machine.
# Idempotent: each step is skipped when its tool is already present.
set -euo pipefail

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
pkg-config --exists opus 2>/dev/null || need_apt+=(libopus-dev)
command -v cmake >/dev/null || need_apt+=(cmake)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

if ! command -v yt-dlp >/dev/null; then
  echo "setup: installing yt-dlp from PyPI"
  python3 -m pip install --quiet --upgrade yt-dlp
  command -v pyenv >/dev/null && pyenv rehash || true
fi
