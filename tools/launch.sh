# Sourced by exp/*/run.sh and exp/*/test.sh after they set EXP_DIR: launcher facts from the environment,
# then `launch_run_net CONFIG [KEY VALUE ...]` runs the pre-flight check (tools/check_data.py) and starts
# tools/run_net.py under torchrun on this machine.
#
#   one machine      GPUs detected (nvidia-smi); override with NUM_GPUS=4; none: one CPU process
#   several machines NNODES, NODE_RANK, MASTER_ADDR, MASTER_PORT on every machine (same command)
#   Slurm            one task per node (srun --ntasks-per-node 1 bash exp/X/run.sh): NNODES, NODE_RANK
#                    and MASTER_ADDR come from SLURM_JOB_NUM_NODES, SLURM_NODEID, SLURM_JOB_NODELIST
REPO="$(cd "$EXP_DIR/../.." && pwd)"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

if [ -n "${SLURM_JOB_ID:-}" ]; then
    NNODES="${NNODES:-${SLURM_JOB_NUM_NODES:-${SLURM_NNODES:-1}}}"
    NODE_RANK="${NODE_RANK:-${SLURM_NODEID:-0}}"
    if [ -z "${MASTER_ADDR:-}" ] && command -v scontrol >/dev/null; then
        MASTER_ADDR="$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)"
    fi
fi
NNODES="${NNODES:-1}"
NODE_RANK="${NODE_RANK:-0}"
MASTER_ADDR="${MASTER_ADDR:-127.0.0.1}"
MASTER_PORT="${MASTER_PORT:-29500}"
if [ -z "${NUM_GPUS:-}" ]; then
    NUM_GPUS="$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)"
    NUM_GPUS="${NUM_GPUS:-0}"
fi
NPROC=$(( NUM_GPUS > 0 ? NUM_GPUS : 1 ))

launch_run_net() {
    local config="${RELEASED_NAME_CONFIG:-$1}"  # a released name's config (run_released_name, below)
    shift
    local rendezvous=(--standalone)
    if [ "$NNODES" -gt 1 ]; then
        rendezvous=(--nnodes "$NNODES" --node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT")
    fi
    # The pre-flight check, once per machine and before torchrun: a missing list, video, weights file or an
    # unloadable config ends here with one `error: ...` message (exit status 2), no traceback, no torchrun banner.
    "$PYTHON" "$REPO/tools/check_data.py" --cfg "$config" NUM_GPUS "$NUM_GPUS" NUM_SHARDS "$NNODES" "$@" || exit $?
    echo "run_net: $NNODES machine(s) x $NPROC process(es), NUM_GPUS $NUM_GPUS, config $config" >&2
    # torchrun through tools/torchrun.py: a process that fails midway ends the run with one `error: rank R: ...`
    # line; its traceback is in OUTPUT_DIR/stdout.log (rank 0) or stdout_rank<R>.log, torchrun's report in
    # OUTPUT_DIR/launcher.log.
    "$PYTHON" "$REPO/tools/torchrun.py" --log "${OUTPUT_DIR:-$EXP_DIR/output}/launcher.log" \
        "${rendezvous[@]}" --nproc_per_node "$NPROC" \
        "$REPO/tools/run_net.py" --no-check --cfg "$config" NUM_GPUS "$NUM_GPUS" NUM_SHARDS "$NNODES" "$@"
}

# The checkpoint test.sh evaluates: CHECKPOINT if set and not empty, else the best by validation, else (empty:
# run_net.py's own choice) the newest; with none, the pre-flight check says to set CHECKPOINT or train first.
test_checkpoint() {
    local best="$OUTPUT_DIR/checkpoints/checkpoint_best.pyth"
    if [ -n "${CHECKPOINT:-}" ]; then echo "$CHECKPOINT"; elif [ -f "$best" ]; then echo "$best"; fi
}

# exp/<released name>/run.sh and test.sh, the experiment names of the EMIM release (README, "Published recipes"):
# `run_released_name SCRIPT [KEY VALUE ...]` runs SCRIPT (run.sh or test.sh) of the recipe that the folder's
# config.yaml names as `_BASE_`, with that config. The recipe's defaults (DATA_DIR, PRETRAINED, ...) and its
# OUTPUT_DIR hold for both names, so one experiment has one output folder whichever name starts it.
run_released_name() {
    local script="$1" base recipe
    shift
    base="$(sed -n 's/^_BASE_: *//p' "$EXP_DIR/config.yaml")"
    if [ "$(basename "$base")" != config.yaml ] || [ ! -f "$EXP_DIR/$base" ]; then
        echo "error: $EXP_DIR/config.yaml: _BASE_ '$base' is not a recipe's config (../<recipe>/config.yaml)" >&2
        exit 2
    fi
    recipe="$(cd "$EXP_DIR/$(dirname "$base")" && pwd)"
    echo "$(basename "$EXP_DIR") is the released name of exp/$(basename "$recipe"): running its $script" >&2
    RELEASED_NAME_CONFIG="$EXP_DIR/config.yaml" exec bash "$recipe/$script" "$@"
}
