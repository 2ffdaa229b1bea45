#!/usr/bin/env bash
# Multi-view test of motion_baseline_tiny: bash exp/motion_baseline_tiny/test.sh [KEY VALUE ...]
# CHECKPOINT: weights to test (default: OUTPUT_DIR's best, else newest checkpoint).
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-$EXP_DIR/../../data/motion}"
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$DATA_DIR" \
    TEST.CHECKPOINT_FILE_PATH "$(test_checkpoint)" OUTPUT_DIR "$OUTPUT_DIR" TRAIN.ENABLE False "$@"
