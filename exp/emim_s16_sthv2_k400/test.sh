#!/usr/bin/env bash
# Multi-view test of emim_s16_sthv2_k400: bash exp/emim_s16_sthv2_k400/test.sh [KEY VALUE ...]
# CHECKPOINT: weights to test (default: OUTPUT_DIR's best, else newest checkpoint; a released file works too).
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-/path/to/somethingv2}"  # lists somethingv2_rgb_{train,val}.txt
FRAMES_DIR="${FRAMES_DIR:-$DATA_DIR/frames}"  # <FRAMES_DIR>/<folder>/img_{:05d}.jpg
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$FRAMES_DIR" \
    TEST.CHECKPOINT_FILE_PATH "$(test_checkpoint)" OUTPUT_DIR "$OUTPUT_DIR" TRAIN.ENABLE False "$@"
