#!/usr/bin/env bash
# The first GPU run in one call (docs/gpu_check.md). On a GPU machine, each step under its own time
# limit and the whole within the budget (GPU_CHECK_BUDGET_S, 540 s = 9 minutes):
#   facts install imports build extension       set-up: the carried wheels the machine lacks, the extension
#                                               built against the machine's own torch (never a carried build)
#   cuda_tests                                  CUDA kernel tests, the model CPU vs GPU, export and predict
#   bench_kernels                               EMIM op (fp32/bf16, fwd and fwd+bwd, kernel / torch backend /
#                                               released design, bandwidth against peak)
#   bench_model                                 the sthv2 UniFormer-S 16x224^2 recipe's training step under every
#                                               speed lever side by side (PERF keys: cudnn.benchmark, channels-
#                                               last-3d, 1x1x1 convolutions as Linear, torch.compile), fp16/bf16/
#                                               fp32: clips/s, MFU, peak memory; the top 15 kernels of the fastest
#                                               step; the batch sweep to the memory limit
#   bench_model_extra                           EMIM vs global attention at every precision, checkpointing off/on
#   bench_data                                  loader clips/s per core: SSv2 frames, Kinetics mp4 (recipes' aug.)
#   nccl demo_data demo_run                     NCCL collectives and a DDP fp16 step; the motion demo trained
#                                               for 2 short epochs on 1 GPU under torchrun, TRAIN.MIXED_PRECISION
#   sanitizer_memcheck sanitizer_racecheck sanitizer_synccheck
#                                               CUDA kernel tests under compute-sanitizer, each tool first tried
#                                               on a 10-line CUDA program and skipped where the runtime refuses it
#   bench_motion                                the motion benchmark in the background from the tests on
#                                               (paused while the benchmarks time), in waves of more seeds; the
#                                               tables of the last finished wave
#   report                                      every step and figure: OUTDIR/gpu_check.json; the log of it all:
#                                               OUTDIR/gpu_check.log; OUTDIR/bench_motion.md
#
#   bash tools/gpu_check.sh [--quick] [--dry-run] [--out DIR] [--budget SECONDS] [--steps name,name,...]
#
# --quick (4 minutes, GPU_CHECK_QUICK_BUDGET_S 240): set-up, build, CUDA tests, the kernel bench at EMIM-S stage 3
# in bf16, bench_model (every lever side by side, the top 15 kernels, the batch sweep), bench_data; no NCCL,
# demo, sanitizers or motion benchmark.
#
# Before, on a machine with a package index (here): bash tools/fetch_gpu_wheels.sh   (wheels/gpu-py312/,
# git-ignored, about 48 MB: fvcore, iopath, yacs, termcolor, decord, av for CPython 3.12 manylinux x86-64).
# On the device (the device tool's run): carry ["wheels/gpu-py312"], timeout_s 600, command
#   bash tools/gpu_check.sh                     (OUTDIR = $OUT there, so the log and the JSON come back)
# A rerun of some steps on the same (warm) machine: --steps bench_kernels,report (the build and the motion
# runs under GPU_CHECK_WORK are reused).
# --dry-run (tests/test_tools_gpu_check.py, no GPU): runs what needs none (facts, the wheels plan as on a bare
# machine, the report), prints every other command with its limit, and checks each (tools/gpu_check.py
# argcheck: named paths exist, the tools parse their flags and KEY VALUE overrides, pytest selections
# collect tests); builds and trains nothing. Exit status: 0 when every step passed (dry: every command checks).
# Environment: PYTHON (python3; .venv/bin/python when dry), OUT / --out (else output/gpu_check), GPU_WHEELS
# (wheels/gpu-py312), GPU_SITE (/tmp/gpu_check_site), GPU_CHECK_WORK (/tmp/gpu_check_work), GPU_CHECK_BUDGET_S
# (540), MODEL_BATCH (8), MOTION_JOBS (8), MOTION_WAVE_SEEDS (2), MOTION_MAX_SEEDS (20), MOTION_OPTS
# ("NUM_GPUS 1 DATA_LOADER.NUM_WORKERS 1": KEY VALUE overrides of every motion run).
set -uo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO" || exit 2

DRY=0 MODE=main STEPS="" QUICK=0 BUDGET=""
OUTDIR="${OUT:-$REPO/output/gpu_check}"
while [ $# -gt 0 ]; do
    case "$1" in
        --dry-run) DRY=1 ;;
        --quick) QUICK=1 ;;
        --out) OUTDIR="$2"; shift ;;
        --budget) BUDGET="$2"; shift ;;
        --steps) STEPS=",$2,"; shift ;;
        --motion-worker) MODE=motion ;;
        -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ -z "$BUDGET" ]; then
    if [ "$QUICK" = 1 ]; then BUDGET="${GPU_CHECK_QUICK_BUDGET_S:-240}"; else BUDGET="${GPU_CHECK_BUDGET_S:-540}"; fi
fi
# The steps of --quick (the others are skipped without a record).
QUICK_STEPS=",facts,install,imports,build,extension,cuda_tests,bench_kernels,bench_model,bench_data,report,"
# The recipe whose training step bench_model times (fp16 autocast + loss scaling, Mixup, AdamW, clipping).
MODEL_CFG=exp/emim_s16_sthv2_k400/config.yaml
MODEL_ARGS=(--device cuda --cfg "$MODEL_CFG" --batch "${MODEL_BATCH:-8}" --reps 3 --threads 4 --variants emim)
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    PY=python3
    [ "$DRY" = 1 ] && [ -x "$REPO/.venv/bin/python" ] && PY="$REPO/.venv/bin/python"
fi
WHEELS="${GPU_WHEELS:-wheels/gpu-py312}"
SITE="${GPU_SITE:-/tmp/gpu_check_site}"
if [ "$DRY" = 1 ]; then WORK="${GPU_CHECK_WORK:-$(mktemp -d /tmp/gpu_check_dry.XXXXXX)}"; else WORK="${GPU_CHECK_WORK:-/tmp/gpu_check_work}"; fi
MODEL_BATCH="${MODEL_BATCH:-8}"
MOTION_JOBS="${MOTION_JOBS:-8}"
MOTION_WAVE_SEEDS="${MOTION_WAVE_SEEDS:-2}"
MOTION_MAX_SEEDS="${MOTION_MAX_SEEDS:-20}"
read -r -a MOTION_OPTS <<< "${MOTION_OPTS:-NUM_GPUS 1 DATA_LOADER.NUM_WORKERS 1}"
SANITIZER="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer \
    /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n 1)"
SANITIZER="${SANITIZER:-compute-sanitizer}"
NVCC="$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null | head -n 1)"
NVCC="${NVCC:-nvcc}"
SAN_FILTER=(--kernel-name kns=emim)  # sanitizer_probe drops it where compute-sanitizer refuses or ignores it
# The CUDA tests: the kernels (tests/test_ops_emim_kernels.py), the tiny model CPU vs GPU, export and predict.
CUDA_TESTS=(tests/test_ops_emim_kernels.py tests/test_models_cuda.py tests/test_tools_export.py
            tests/test_tools_predict.py -k "cuda or gpu")
# Under compute-sanitizer (each kernel launch checked, many times slower): the kernel tests at EMIM-S stage 3
# in bf16, head widths 48 and 160 in every dtype, and float64 windows 3 and 13.
SANITIZE_K="(cuda_matches_torch and (shape0-dtype2 or shape2-dtype0 or shape3)) or (float64_windows and (3- or 13-))"
RESERVE=25  # seconds kept for the report at the end
export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export PYTHON="$PY" GPU_CHECK_WORK="$WORK" MOTION_JOBS MOTION_WAVE_SEEDS MOTION_MAX_SEEDS  # for --motion-worker
START=$(date +%s)
# The motion worker sizes its waves to the time left before this (it outlives no deadline of the main script).
export GPU_CHECK_DEADLINE="${GPU_CHECK_DEADLINE:-$(( START + BUDGET - RESERVE ))}"

left() { echo $(( START + BUDGET - $(date +%s) )); }
cap() { local room=$(( $(left) - RESERVE )); [ "$room" -lt "$1" ] && echo $(( room > 1 ? room : 1 )) || echo "$1"; }
want() { { [ "$QUICK" = 0 ] || [[ "$QUICK_STEPS" == *",$1,"* ]]; } && { [ -z "$STEPS" ] || [[ "$STEPS" == *",$1,"* ]]; }; }
quote() { printf '%q ' "$@" | sed 's/ $//'; }

record() {  # NAME STATUS RC SECONDS MESSAGE: one line of WORK/steps.jsonl
    "$PY" -c 'import json, sys; n, s, rc, t, m = sys.argv[1:6]
print(json.dumps({"name": n, "status": s, "rc": int(rc), "seconds": float(t), "message": m}))' "$@" \
        >> "$WORK/steps.jsonl"
}

# run_step NAME LIMIT_S CMD...: CMD under `timeout` (LIMIT_S, or less where the deadline is nearer), recorded.
# KILL_AFTER (10 s): from the stop signal to SIGKILL; torchrun steps get 40, as torchrun's workers run in sessions
# of their own and torchrun needs up to 30 s to stop them.
run_step() {
    local name="$1" limit="$2"
    shift 2
    want "$name" || return 0
    local room=$(( $(left) - RESERVE ))
    # By construction within the budget: the limit is cut to the time left before the deadline (start + budget
    # - RESERVE), and `timeout` ends the step there (KILL_AFTER later at worst).
    [ "$DRY" = 0 ] && [ "$limit" -gt "$room" ] && limit=$(( room > 0 ? room : 0 ))
    echo
    echo "=== [$name] (limit ${limit}s) $(quote "$@")"
    if [ "$DRY" = 1 ]; then
        { quote "$@"; echo; } >> "$WORK/commands.txt"
        record "$name" dry-run 0 0 "would run: $(quote "$@")"
        return 0
    fi
    if [ "$room" -lt 10 ]; then
        echo "=== [$name] skipped: ${room}s left before the deadline"
        record "$name" skipped 0 0 "no time left before the deadline"
        return 0
    fi
    local t0 rc status=ok msg="" seconds
    t0=$(date +%s.%N)
    timeout --kill-after="${KILL_AFTER:-10}" "$limit" "$@"
    rc=$?
    seconds=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then status=timeout msg="stopped at its ${limit}s limit"
    elif [ "$rc" -eq 99 ]; then status=failed msg="compute-sanitizer reported errors"
    elif [ "$rc" -ne 0 ]; then status=failed msg="exit status $rc"
    fi
    echo "=== [$name] $status in ${seconds}s${msg:+: $msg}"
    record "$name" "$status" "$rc" "$seconds" "$msg"
    return "$rc"
}

# ---- the motion benchmark: waves of more seeds, each wave's tables kept once it finishes ----

motion_command() {  # the bench_motion.py command of seeds 0..N-1
    quote "$PY" tools/bench_motion.py --seeds $(seq -s ' ' 0 $(( $1 - 1 ))) --tasks translation all \
        --jobs "$MOTION_JOBS" --out "$WORK/bench_motion" "${MOTION_OPTS[@]}"
}

# Waves: seeds 0..MOTION_WAVE_SEEDS-1 first; then as many more seeds as the time left before GPU_CHECK_DEADLINE
# allows at the last wave's seconds per new seed (a wave reuses the finished runs; pauses while the benchmarks
# time count, so the estimate errs long), up to MOTION_MAX_SEEDS.
motion_worker() {
    trap 'touch "$WORK/motion.done"' EXIT
    local n="$MOTION_WAVE_SEEDS" done_n=0 cmd t0 per_seed more
    while [ "$n" -le "$MOTION_MAX_SEEDS" ]; do
        cmd="$(motion_command "$n")"
        echo "=== bench_motion wave, seeds 0..$(( n - 1 )), $(date +%T), $(( GPU_CHECK_DEADLINE - $(date +%s) ))s left: $cmd"
        t0=$(date +%s)
        if eval "$cmd"; then
            cp "$WORK/bench_motion/bench_motion.json" "$WORK/bench_motion.json"
            cp "$WORK/bench_motion/bench_motion.md" "$WORK/bench_motion.md"
            echo "$n" > "$WORK/motion_seeds.txt"  # seeds 0..n-1 finished
        else
            echo "=== bench_motion wave failed (bench_motion.py printed the failing run's log tail above)"
            return 1
        fi
        per_seed=$(( ($(date +%s) - t0 + n - done_n - 1) / (n - done_n) ))
        more=$(( (GPU_CHECK_DEADLINE - $(date +%s)) / (per_seed > 0 ? per_seed : 1) ))
        echo "=== bench_motion: ${per_seed}s per new seed, room for $more more before the deadline"
        [ "$more" -ge 1 ] && [ "$n" -lt "$MOTION_MAX_SEEDS" ] || break
        done_n=$n
        n=$(( n + more < MOTION_MAX_SEEDS ? n + more : MOTION_MAX_SEEDS ))
    done
}

MOTION_PID=""
motion_signal() { [ -n "$MOTION_PID" ] && kill -"$1" -- -"$MOTION_PID" 2>/dev/null; return 0; }

motion_start() {
    want bench_motion || return 0
    echo
    echo "=== [bench_motion] in the background from now until the deadline (paused while bench_* time), waves" \
         "of $MOTION_WAVE_SEEDS more seeds up to $MOTION_MAX_SEEDS; the first: $(motion_command "$MOTION_WAVE_SEEDS")"
    if [ "$DRY" = 1 ]; then
        { motion_command "$MOTION_WAVE_SEEDS"; echo; } >> "$WORK/commands.txt"
        record bench_motion dry-run 0 0 "would run in waves: $(motion_command "$MOTION_WAVE_SEEDS")"
        return 0
    fi
    rm -f "$WORK/motion.done" "$WORK/bench_motion.json" "$WORK/bench_motion.md" "$WORK/motion_seeds.txt"
    MOTION_T0=$(date +%s)
    # Its own session and process group (pgid = its pid), so that one signal pauses, resumes or ends it all.
    setsid bash "$0" --motion-worker > "$WORK/motion.log" 2>&1 < /dev/null &
    MOTION_PID=$!
}

motion_finish() {
    [ -n "$MOTION_PID" ] || return 0
    motion_signal CONT
    echo
    echo "=== [bench_motion] waiting until $(( RESERVE ))s before the deadline"
    while [ ! -f "$WORK/motion.done" ] && [ "$(left)" -gt "$RESERVE" ]; do sleep 2; done
    local status=ok msg stopped=""
    [ -f "$WORK/motion.done" ] || stopped="; the next wave stopped at the deadline"
    motion_signal TERM
    sleep 2
    motion_signal KILL
    wait "$MOTION_PID" 2>/dev/null
    MOTION_PID=""
    tail -n 80 "$WORK/motion.log"
    if [ -f "$WORK/motion_seeds.txt" ]; then
        msg="seeds 0..$(( $(cat "$WORK/motion_seeds.txt") - 1 )) finished$stopped"
        cp "$WORK/bench_motion.md" "$OUTDIR/bench_motion.md"
        echo "--- bench_motion tables ($msg)"
        cat "$WORK/bench_motion.md"
    else
        status=failed msg="no wave finished$stopped (see the log above)"
    fi
    echo "=== [bench_motion] $status: $msg"
    record bench_motion "$status" 0 $(( $(date +%s) - MOTION_T0 )) "$msg"
}

# ---- the steps ----

install_wheels() {
    want install || return 0
    local list rc flags=()
    [ "$DRY" = 1 ] && flags=(--assume-missing --report-only)
    echo
    echo "=== [install] the packages of tools/gpu_wheels.txt this Python lacks, from $WHEELS"
    list="$("$PY" tools/gpu_check.py wheels --dir "$WHEELS" --install-list "${flags[@]}")"
    rc=$?
    if [ "$DRY" = 1 ]; then
        echo "(dry run: planned as on a machine without them)"
        run_step install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target "$SITE" $list
        return 0
    fi
    if [ -z "$list" ]; then
        echo "=== [install] nothing to install"
        record install "$([ "$rc" = 0 ] && echo ok || echo failed)" "$rc" 0 \
            "nothing installed$([ "$rc" = 0 ] || echo "; missing wheels (the plan above; tools/fetch_gpu_wheels.sh)")"
        return 0
    fi
    # shellcheck disable=SC2086  # one wheel path per word
    run_step install 90 "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" $list
}

sanitizer_probe() {  # TOOL: does compute-sanitizer run this tool here? Tried on a 15-line CUDA program.
    local tool="$1" probe="$WORK/sanitizer_probe" log="$WORK/probe_$1.log" f
    : > "$log"
    if [ ! -x "$probe" ]; then
        cat > "$probe.cu" <<'EOF'
#include <cstdio>
#include <cstdlib>
__global__ void add_one(float* x, int n) {  // n > 1024: a planted out-of-bounds write
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += 1.f;
}
int main(int argc, char** argv) {
  const int extra = argc > 1 ? atoi(argv[1]) : 0;
  float* x;
  if (cudaMalloc(&x, 1024 * sizeof(float)) != cudaSuccess) return 2;
  cudaMemset(x, 0, 1024 * sizeof(float));
  add_one<<<(1024 + extra + 255) / 256, 256>>>(x, 1024 + extra);
  cudaError_t e = cudaDeviceSynchronize();
  cudaFree(x);
  printf("probe: %s\n", cudaGetErrorString(e));
  return e == cudaSuccess ? 0 : 3;
}
EOF
        timeout "$(cap 90)" "$NVCC" -o "$probe" "$probe.cu" >> "$log" 2>&1 || return 1
    fi
    if [ "$tool" = memcheck ]; then
        # A clean run must pass and the planted write be caught (exit 99): with the kernel-name filter (then only
        # the EMIM kernels are checked, much faster than every torch kernel too), else without it.
        for f in filter none; do
            if [ "$f" = filter ]; then SAN_FILTER=(--kernel-name kns=emim); set -- --kernel-name kns=add_one
            else SAN_FILTER=(); set --
            fi
            timeout "$(cap 60)" "$SANITIZER" --tool memcheck "$@" --error-exitcode 99 "$probe" 0 >> "$log" 2>&1 || continue
            timeout "$(cap 60)" "$SANITIZER" --tool memcheck "$@" --error-exitcode 99 "$probe" 256 >> "$log" 2>&1
            [ $? -eq 99 ] && return 0
            echo "probe: memcheck ($f) did not catch the planted out-of-bounds write" >> "$log"
        done
        return 1
    fi
    if [ "${#SAN_FILTER[@]}" -gt 0 ]; then
        timeout "$(cap 60)" "$SANITIZER" --tool "$tool" --kernel-name kns=add_one --error-exitcode 99 "$probe" 0 \
            >> "$log" 2>&1 && return 0
        SAN_FILTER=()
    fi
    timeout "$(cap 60)" "$SANITIZER" --tool "$tool" --error-exitcode 99 "$probe" 0 >> "$log" 2>&1
}

sanitizer() {  # TOOL LIMIT_S
    local tool="$1" limit="$2" name="sanitizer_$1"
    want "$name" || return 0
    if [ "$DRY" = 1 ]; then
        echo
        echo "=== [$name] first: $NVCC -o WORK/sanitizer_probe probe.cu; $SANITIZER --tool $tool WORK/sanitizer_probe" \
             "(here: $(command -v "$SANITIZER" >/dev/null && echo found || echo 'not found'))"
    elif [ "$(( $(left) - RESERVE ))" -lt 20 ]; then
        echo
        echo "=== [$name] skipped: $(( $(left) - RESERVE ))s left before the deadline"
        record "$name" skipped 0 0 "no time left before the deadline"
        return 0
    elif ! sanitizer_probe "$tool"; then
        echo
        echo "=== [$name] skipped: compute-sanitizer --tool $tool refused by this runtime:"
        tail -n 5 "$WORK/probe_$tool.log" 2>/dev/null
        record "$name" skipped 0 0 "refused: $(tail -n 2 "$WORK/probe_$tool.log" 2>/dev/null | tr '\n' ' ' | cut -c1-200)"
        return 0
    fi
    # One cudaMalloc per tensor (no caching allocator), so memcheck sees every tensor's own bounds.
    run_step "$name" "$limit" env PYTORCH_NO_CUDA_MEMORY_CACHING=1 "$SANITIZER" --tool "$tool" "${SAN_FILTER[@]}" \
        --error-exitcode 99 --print-limit 20 --target-processes all "$PY" -m pytest -q -p no:cacheprovider -rfE \
        --junitxml="$WORK/junit_$name.xml" tests/test_ops_emim_kernels.py -k "$SANITIZE_K"
}

main() {
    mkdir -p "$WORK" "$OUTDIR"
    rm -f "$WORK/steps.jsonl" "$WORK/commands.txt" "$WORK"/junit_*.xml "$WORK"/bench_*.json "$WORK/nccl.json" \
        "$WORK/facts.json"
    trap 'motion_signal CONT; motion_signal KILL' EXIT
    echo "gpu_check: $([ "$DRY" = 1 ] && echo 'DRY RUN, ')budget ${BUDGET}s, started $(date -u +%FT%TZ)," \
         "python $PY, work $WORK, output $OUTDIR"
    if [ "$DRY" = 1 ]; then
        echo "=== [fetch] before, on a machine with a package index: bash tools/fetch_gpu_wheels.sh"
        echo "bash tools/fetch_gpu_wheels.sh" >> "$WORK/commands.txt"
    else
        timeout 30 nvidia-smi || true
    fi

    if want facts; then
        echo
        echo "=== [facts] $PY tools/gpu_check.py facts --json $WORK/facts.json"
        local frc=0
        timeout 60 "$PY" tools/gpu_check.py facts --json "$WORK/facts.json" || frc=$?
        record facts "$([ "$frc" = 0 ] && echo ok || echo failed)" "$frc" 0 ""
    fi
    install_wheels
    run_step imports 60 "$PY" -c "import fvcore, iopath, yacs, termcolor, decord, av, slowfast; print('imports ok')"
    run_step build 300 env MAX_JOBS="$(nproc)" "$PY" setup.py build_ext --inplace
    run_step extension 60 "$PY" -c "import sys; from slowfast.ops import emim_ext; e = emim_ext.load_error('cuda'); \
print('slowfast._C CUDA kernels:', e or 'loaded'); sys.exit(1 if e else 0)"

    run_step cuda_tests 150 "$PY" -m pytest -q -p no:cacheprovider -rfE --junitxml="$WORK/junit_cuda_tests.xml" \
        "${CUDA_TESTS[@]}"
    motion_start  # after the tests, whose limits do not allow for 16 busy cores

    motion_signal STOP
    if [ "$QUICK" = 1 ]; then
        run_step bench_kernels 40 "$PY" tools/bench_kernels.py --device cuda --dtypes bfloat16 --modes fwd_bwd \
            --shapes s3k7 --backends torch cuda --kernel tensor_core simt --reps 3 --inner 10 \
            --json "$WORK/bench_kernels.json"
        run_step bench_data 30 "$PY" tools/bench_data.py --videos 5 --video-short-sides 320 --backends decord \
            --json "$WORK/bench_data.json"
    else
        run_step bench_kernels 120 "$PY" tools/bench_kernels.py --device cuda --dtypes float32 bfloat16 \
            --modes fwd fwd_bwd --shapes s3k7 s4k7 --reps 5 --inner 20 --json "$WORK/bench_kernels.json"
    fi
    # Every lever side by side at the recipe's fp16 (bf16 and fp32 on the best eager set, torch.compile on it
    # last), the top 15 kernels of the fastest step, then the batch sweep; the tool starts nothing past its
    # --budget, which leaves the step's limit room for the row under way.
    if [ "$QUICK" = 1 ]; then
        run_step bench_model 150 "$PY" tools/bench_model.py "${MODEL_ARGS[@]}" --precisions fp16 \
            --levers none cudnn cudnn+cl cudnn+cl+linear@fp16,bf16,fp32 cudnn+cl+linear+compile \
            --profile 15 --sweep-levers cudnn+cl+linear --sweep-batches 32 64 128 \
            --budget "$(( $(cap 150) - 45 ))" --json "$WORK/bench_model.json"
    else
        run_step bench_model 180 "$PY" tools/bench_model.py "${MODEL_ARGS[@]}" --precisions fp16 bf16 fp32 \
            --levers none cudnn cudnn+cl cudnn+linear cudnn+cl+linear cudnn+cl+linear+compile@fp16,bf16 \
            --profile 15 --sweep-levers cudnn+cl+linear --sweep-batches 16 32 64 128 256 \
            --budget "$(( $(cap 180) - 45 ))" --json "$WORK/bench_model.json"
        run_step bench_model_extra 75 "$PY" tools/bench_model.py "${MODEL_ARGS[@]}" --variants emim global \
            --precisions fp16 bf16 fp32 --checkpointing off on --levers cfg --budget "$(( $(cap 75) - 20 ))" \
            --json "$WORK/bench_model_extra.json"
    fi
    motion_signal CONT

    KILL_AFTER=40 run_step nccl 90 "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 tools/gpu_check.py nccl \
        --json "$WORK/nccl.json"
    run_step demo_data 60 "$PY" tools/make_motion_dataset.py --out "$WORK/motion" --num-train 0 --num-val 48 \
        --num-test 48
    [ "$DRY" = 1 ] || rm -rf "$WORK/demo"
    KILL_AFTER=40 run_step demo_run 150 "$PY" -m torch.distributed.run --standalone --nproc_per_node 1 tools/run_net.py \
        --cfg exp/motion_emim_tiny/config.yaml NUM_GPUS 1 TRAIN.MIXED_PRECISION True \
        DATA.PATH_TO_DATA_DIR "$WORK/motion" DATA.PATH_PREFIX "$WORK/motion" OUTPUT_DIR "$WORK/demo" \
        SOLVER.MAX_EPOCH 2 DATA.STREAM_VIDEOS_PER_EPOCH 320 DATA_LOADER.NUM_WORKERS 4 TRAIN.AUTO_RESUME False

    if [ "$QUICK" = 0 ]; then
        motion_signal STOP  # the loader's cores to itself
        run_step bench_data 60 "$PY" tools/bench_data.py --videos 10 --json "$WORK/bench_data.json"
        motion_signal CONT
    fi

    sanitizer memcheck 90
    sanitizer racecheck 90
    sanitizer synccheck 60

    motion_finish

    local rc=0
    if [ "$DRY" = 1 ]; then
        echo
        echo "=== [argcheck] every command above: paths, flags, overrides, test selections"
        "$PY" tools/gpu_check.py argcheck "$WORK/commands.txt" || rc=1
    fi
    if want report; then
        echo
        echo "=== [report] $OUTDIR/gpu_check.json"
        local flags=()
        [ "$DRY" = 1 ] && flags=(--dry-run)
        "$PY" tools/gpu_check.py report --work "$WORK" --out "$OUTDIR/gpu_check.json" --budget "$BUDGET" \
            --elapsed $(( $(date +%s) - START )) "${flags[@]}" || rc=1
    fi
    if [ "$DRY" = 0 ] && grep -q '"status": "\(failed\|timeout\)"' "$WORK/steps.jsonl" 2>/dev/null; then rc=1; fi
    echo "gpu_check: done in $(( $(date +%s) - START ))s, exit status $rc"
    return "$rc"
}

if [ "$MODE" = motion ]; then
    motion_worker
    exit $?
fi
mkdir -p "$OUTDIR"
# Not `main | tee`: a process that outlived its step and holds the pipe would keep the script from ending.
main > >(tee "$OUTDIR/gpu_check.log") 2>&1
rc=$?
for _ in $(seq 20); do kill -0 "$!" 2>/dev/null || break; sleep 0.25; done  # tee writes the last lines
exit "$rc"
