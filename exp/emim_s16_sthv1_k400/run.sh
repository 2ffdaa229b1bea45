#!/usr/bin/env bash
# Train emim_s16_sthv1_k400 (see config.yaml): bash exp/emim_s16_sthv1_k400/run.sh [KEY VALUE ...]
# Extra arguments are config overrides. Launcher set-up (GPUs, machines, Slurm): tools/launch.sh.
set -euo pipefail
EXP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DATA_DIR="${DATA_DIR:-/path/to/somethingv1}"  # lists somethingv1_rgb_{train,val}.txt
FRAMES_DIR="${FRAMES_DIR:-$DATA_DIR/frames}"  # <FRAMES_DIR>/<folder>/{:05d}.jpg
OUTPUT_DIR="${OUTPUT_DIR:-$EXP_DIR/output}"
PRETRAINED="${PRETRAINED-/path/to/uniformer_small_k400.pth}"  # released weights; PRETRAINED= (empty): from scratch
source "$EXP_DIR/../../tools/launch.sh"
launch_run_net "$EXP_DIR/config.yaml" DATA.PATH_TO_DATA_DIR "$DATA_DIR" DATA.PATH_PREFIX "$FRAMES_DIR" \
    TRAIN.CHECKPOINT_FILE_PATH "$PRETRAINED" OUTPUT_DIR "$OUTPUT_DIR" TEST.ENABLE False "$@"
