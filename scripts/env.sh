# Sourced by the other scripts: where builds and installed tools live.
# Builds are kept outside the clone so repeated runs are incremental.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/minstrel/target}"
# yt-dlp and componentize-py live in their own virtual environment (scripts/setup.sh),
# never in the system Python; componentize-js in its own node folder. Not exported:
# MINSTREL_* variables are configuration overrides.
tools_dir="$HOME/.cache/minstrel/tools"
export PATH="$tools_dir/venv/bin:$tools_dir/node/node_modules/.bin:$PATH"
