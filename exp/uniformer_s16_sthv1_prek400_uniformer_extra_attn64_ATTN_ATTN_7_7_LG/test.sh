#!/usr/bin/env bash
# Multi-view test of exp/emim_s16_sthv1_k400 under its released name: bash exp/<this folder>/test.sh [KEY VALUE ...]
# The variables and defaults are exp/emim_s16_sthv1_k400/test.sh's (tools/launch.sh: run_released_name).
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$EXP_DIR/../../tools/launch.sh"
run_released_name test.sh "$@"
