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
# Debian's Chromium: the status page's test renders it headless.
command -v chromium >/dev/null || need_apt+=(chromium)
command -v python3 >/dev/null || need_apt+=(python3)
# Node.js and npm: the JavaScript plugin toolchain (componentize-js).
command -v node >/dev/null || need_apt+=(nodejs)
command -v npm >/dev/null || need_apt+=(npm)
# pg_isready: the test suite waits for its PostgreSQL server with it.
command -v pg_isready >/dev/null || need_apt+=(postgresql-client)
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

# Toolchains for plugins in Python and JavaScript (plugins/py-ping, plugins/js-ping),
# pinned. componentize-py goes into the same virtual environment.
componentize_py_version=0.25.1
dist_info="componentize_py-$componentize_py_version.dist-info"
if ! compgen -G "$tools_dir/venv/lib/python3*/site-packages/$dist_info" >/dev/null; then
  echo "setup: installing componentize-py $componentize_py_version into $tools_dir/venv"
  "$tools_dir/venv/bin/python" -m pip install --quiet "componentize-py==$componentize_py_version"
fi

# componentize-js and its dependencies need Node.js 20.19 or newer (22.12 on the 22 line):
# Debian 13's nodejs package will do, Debian 12's (18) will not.
node_ok='const [major, minor] = process.versions.node.split(".").map(Number);
process.exit(major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19) ? 0 : 1)'
if ! node -e "$node_ok"; then
  echo "setup: componentize-js needs Node.js 20.19 or newer, this is $(node --version):" >&2
  echo "  install a newer one (https://nodejs.org/en/download) and run this again" >&2
  exit 1
fi

# componentize-js as plugins/js-ping/package-lock.json pins it, installed with npm ci into
# $tools_dir/node (not into the clone). The stamp is a copy of the lock it was installed
# from, written last: a changed lock or an interrupted install installs again.
node_dir="$tools_dir/node"
if ! cmp -s plugins/js-ping/package-lock.json "$node_dir/installed.lock"; then
  echo "setup: installing componentize-js into $node_dir"
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp plugins/js-ping/package.json plugins/js-ping/package-lock.json "$node_dir/"
  npm ci --prefix "$node_dir" --no-audit --no-fund --loglevel=error
  cp plugins/js-ping/package-lock.json "$node_dir/installed.lock"
fi
