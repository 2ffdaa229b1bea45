#!/usr/bin/env bash
# Train motion_baseline_tiny on the motion dataset (tools/make_motion_dataset.py): bash exp/motion_baseline_tiny/run.sh [KEY VALUE ...]
# Extra arguments are config overrides. Launcher set-up (GPUs, machines, Slurm): tools/launch.sh.
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-$EXP_DIR/../../data/motion}"  # lists motion_frames_{train,val,test}.txt and the frames
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
PRETRAINED="${PRETRAINED-}"  # empty: trained from scratch
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$DATA_DIR" \
    TRAIN.CHECKPOINT_FILE_PATH "$PRETRAINED" OUTPUT_DIR "$OUTPUT_DIR" TEST.ENABLE False "$@"
