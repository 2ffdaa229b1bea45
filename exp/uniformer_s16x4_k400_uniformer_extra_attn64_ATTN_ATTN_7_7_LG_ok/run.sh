#!/usr/bin/env bash
# Train exp/emim_s16_k400_in1k under its released name: bash exp/<this folder>/run.sh [KEY VALUE ...]
# The variables and defaults are exp/emim_s16_k400_in1k/run.sh's (tools/launch.sh: run_released_name).
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$EXP_DIR/../../tools/launch.sh"
run_released_name run.sh "$@"
