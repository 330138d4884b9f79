#!/usr/bin/env bash
# Installs what Minstrel needs to build, test and run on a fresh Debian machine.
# Idempotent: each step is skipped when its tool is already present.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh

if ! command -v rustup >/dev/null; then
  echo "setup: rustup is missing. Install Rust with rustup (https://rustup.rs):" >&2
  echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh" >&2
  exit 1
fi

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
if ! pkg-config --exists opus 2>/dev/null; then
  need_apt+=(libopus-dev)
fi
command -v cmake >/dev/null || need_apt+=(cmake)
command -v python3 >/dev/null || need_apt+=(python3)
# Debian's python3 has no venv module until python3-venv is installed.
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  sudo_cmd=""
  if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd="sudo"
  fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
  echo "setup: adding the wasm32-wasip2 target"
  rustup target add wasm32-wasip2
fi

# yt-dlp from PyPI into a virtual environment of ours: works where the system Python is
# externally managed (PEP 668) and has no pip.
if [ ! -x "$tools_dir/venv/bin/yt-dlp" ]; then
  echo "setup: installing yt-dlp from PyPI into $tools_dir/venv"
  rm -rf "$tools_dir/venv"
  mkdir -p "$tools_dir"
  python3 -m venv "$tools_dir/venv"
  "$tools_dir/venv/bin/python" -m pip install --quiet --upgrade yt-dlp
fi
