#!/usr/bin/env bash
# Multi-view test of emim_s16_diving48_k400: bash exp/emim_s16_diving48_k400/test.sh [KEY VALUE ...]
# CHECKPOINT: weights to test (default: OUTPUT_DIR's best, else newest checkpoint; a released file works too).
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-/path/to/diving48}"  # lists train.csv, val.csv, test.csv (tools/prepare_data.py diving48)
VIDEO_DIR="${VIDEO_DIR:-$DATA_DIR/rgb}"  # the <vid_name>.mp4 files the lists name
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$VIDEO_DIR" \
    TEST.CHECKPOINT_FILE_PATH "$(test_checkpoint)" OUTPUT_DIR "$OUTPUT_DIR" TRAIN.ENABLE False "$@"
