#!/usr/bin/env bash
# `make demo`: generate the motion dataset if absent, train and test the EMIM and baseline tiny UniFormers
# on it (exp/motion_emim_tiny, exp/motion_baseline_tiny, each run.sh then test.sh, from scratch), then print
# model, parameters, GFLOPs, multi-view top-1 and minutes. DATA_DIR overrides the dataset folder.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export DATA_DIR="${DATA_DIR:-$REPO/data/motion}"
export NUM_GPUS="${NUM_GPUS:-0}"  # the demo is sized for CPUs

if [ ! -f "$DATA_DIR/motion_frames_test.txt" ]; then
    "$PYTHON" "$REPO/tools/make_motion_dataset.py" --out "$DATA_DIR"
fi
runs=()
for name in motion_emim_tiny motion_baseline_tiny; do
    export OUTPUT_DIR="$REPO/exp/$name/output"
    rm -rf "$OUTPUT_DIR"  # from scratch: AUTO_RESUME would otherwise continue the previous demo
    start=$(date +%s)
    bash "$REPO/exp/$name/run.sh"
    bash "$REPO/exp/$name/test.sh"
    runs+=("$name=$(awk -v s="$start" -v e="$(date +%s)" 'BEGIN { printf "%.1f", (e - s) / 60 }')")
done
"$PYTHON" "$REPO/tools/demo_table.py" "${runs[@]}"
