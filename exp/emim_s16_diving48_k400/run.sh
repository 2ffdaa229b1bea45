#!/usr/bin/env bash
# Train emim_s16_diving48_k400 (see config.yaml): bash exp/emim_s16_diving48_k400/run.sh [KEY VALUE ...]
# Extra arguments are config overrides. Launcher set-up (GPUs, machines, Slurm): tools/launch.sh.
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-/path/to/diving48}"  # lists train.csv, val.csv, test.csv (tools/prepare_data.py diving48)
VIDEO_DIR="${VIDEO_DIR:-$DATA_DIR/rgb}"  # the <vid_name>.mp4 files the lists name
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
PRETRAINED="${PRETRAINED-/path/to/uniformer_small_k400.pth}"  # released weights; PRETRAINED= (empty): from scratch
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$VIDEO_DIR" \
    TRAIN.CHECKPOINT_FILE_PATH "$PRETRAINED" OUTPUT_DIR "$OUTPUT_DIR" TEST.ENABLE False "$@"
