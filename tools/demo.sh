#!/usr/bin/env bash
# `make demo`: write the motion dataset if absent (val/test files; training renders fresh videos), train and
# test the EMIM tiny UniFormer and its global-attention twin on it (exp/motion_emim_tiny,
# exp/motion_baseline_tiny: run.sh then test.sh, from scratch, same seed and budget), then print the table
# (chance beside multi-view top-1) and write learning_curves.png; then, for the trained EMIM model, the linear
# probe of the true motion from its cost volume (beside its floors) and the branch knock-outs
# (tools/probe_motion.py, 96 probe videos written with another seed).
#   DATA_DIR    dataset folder (default data/motion)
#   DEMO_OUTPUT runs and figure (default output/demo: output/demo/<exp>/, output/demo/learning_curves.png)
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export DATA_DIR="${DATA_DIR:-$REPO/data/motion}"
DEMO_OUTPUT="${DEMO_OUTPUT:-$REPO/output/demo}"
export NUM_GPUS="${NUM_GPUS:-0}"  # the demo is sized for CPUs

if [ ! -f "$DATA_DIR/motion_dataset.json" ]; then
    "$PYTHON" "$REPO/tools/make_motion_dataset.py" --out "$DATA_DIR" --num-train 0 --num-val 96 --num-test 96
fi
runs=()
for name in motion_emim_tiny motion_baseline_tiny; do
    export OUTPUT_DIR="$DEMO_OUTPUT/$name"
    rm -rf "$OUTPUT_DIR"  # from scratch: AUTO_RESUME would otherwise continue the previous demo
    start=$(date +%s)
    bash "$REPO/exp/$name/run.sh"
    bash "$REPO/exp/$name/test.sh"
    runs+=("$name=$(awk -v s="$start" -v e="$(date +%s)" 'BEGIN { printf "%.1f", (e - s) / 60 }')")
done
"$PYTHON" "$REPO/tools/demo_table.py" --output-root "$DEMO_OUTPUT" "${runs[@]}"
emim="$DEMO_OUTPUT/motion_emim_tiny" twin="$DEMO_OUTPUT/motion_baseline_tiny"
"$PYTHON" "$REPO/tools/probe_motion.py" --cfg "$emim/config.yaml" --checkpoint "$emim/checkpoints/checkpoint_best.pyth" \
    --baseline-cfg "$twin/config.yaml" --baseline-checkpoint "$twin/checkpoints/checkpoint_best.pyth" --probe-videos 96
