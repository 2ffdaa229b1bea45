"""The recipe's training step of UniFormer (EMIM per backend, or global attention) under every speed lever,
side by side in one run: step time, clips/s, TFLOP/s and MFU, peak memory; a batch sweep to the memory limit;
the top kernels of a profiled step.

    python tools/bench_model.py [--cfg exp/X/config.yaml] [--size S|B|tiny] [--frames 16] [--crop 224]
        [--batch 1] [--reps 3] [--warmup 1] [--rounds 1] [--threads 2] [--device cpu|cuda]
        [--variants emim emim-torch global emim-plain-bn] [--precisions fp32 bf16 fp16] [--checkpointing off on]
        [--levers none cudnn cudnn+cl cudnn+cl+linear cudnn+cl+linear+compile cfg]
        [--sweep-batches 8 16 32 64] [--sweep-levers L] [--profile 15] [--budget SECONDS] [--json FILE]

One step = `Trainer.run_step` (slowfast/engine/step_bench.py): the clip to the device, Mixup where the config
has it, forward and loss under TRAIN.MIXED_PRECISION's autocast (fp32 = off; bf16 / fp16 = on in that dtype),
loss scaling for fp16, backward, gradient clipping, the optimiser step; the fastest of --reps after --warmup
untimed steps (compiled rows: at least 2); with --rounds R the whole table is measured R times, row after row,
and each row keeps its fastest round (on a shared machine, load then hits every row alike). Config: --cfg's
recipe (its model, loss, Mixup, optimiser), else the defaults with UniFormer-`--size`. Levers (--levers, each
a set): "none" = every PERF key off (the step as it was before them), "cfg" = the config's own PERF values,
else names joined by "+" of `cudnn` (PERF.CUDNN_BENCHMARK), `cl` (PERF.CHANNELS_LAST), `linear`
(PERF.POINTWISE_AS_LINEAR), `compile` (PERF.COMPILE, mode PERF.COMPILE_MODE: pass --compile-mode). Rows run
lever set by lever set, in the order given. Variants: `emim` (EMIM 'lg' with the device's compiled kernel),
`emim-torch` (torch backend), `global` (global attention in stages 3-4), `emim-plain-bn` (torch's
nn.BatchNorm3d for slowfast's channels-last one).

FLOPs: fvcore's forward count of one clip x2 (a multiply-add = 2 FLOPs) x3 (forward + backward); MFU = FLOP/s
over the device's dense bf16 peak (datasheet table by device name; none for the CPU). Peak = the CUDA
allocator's peak over the row (weights, optimiser state, activations). "CPU s": the fewest CPU seconds this
process spent in one step (all its threads; on a shared CPU the work itself, whatever else runs; on a GPU the
host's launch and bookkeeping). "x global": step time over global
attention's at the same precision, checkpointing, levers and batch; "x none": the "none" row's time over this
row's (> 1: the levers pay). --profile N: the N kernels (CPU: operators) with the most self time in one step
of the fastest row. --sweep-batches (after the profile): the --sweep-levers set (default: the last of --levers)
for the first variant at the first precision, batch by batch until one runs out of memory. --budget: rows,
profile and sweep that would start after that many seconds are skipped (reported as such).
"""

import argparse
import json
import logging
import os
import sys
import time

import torch

from slowfast.config import load_config
from slowfast.config.tiny import TINY, TINY_BASE
from slowfast.engine.step_bench import (
    LEVERS,
    PRECISIONS,
    lever_overrides,
    measure,
    peak_tflops,
    profile_step,
    train_step_flops,
)

logger = logging.getLogger("bench_model")

SIZES = {"S": ["UNIFORMER.DEPTH", "[3, 4, 8, 3]"], "B": ["UNIFORMER.DEPTH", "[5, 8, 20, 7]"],
         "tiny": TINY_BASE + TINY["tiny_s16_emim7"]}
EMIM = ["UNIFORMER.ATTN_TYPE", "['emim', 'emim']"]
VARIANTS = {  # key: (table name, config overrides)
    "emim": ("EMIM, cpu/cuda kernel", EMIM),
    "emim-torch": ("EMIM, torch backend", [*EMIM, "UNIFORMER.EMIM_BACKEND", "torch"]),
    "global": ("global attention", ["UNIFORMER.ATTN_TYPE", "['global', 'global']"]),
    "emim-plain-bn": ("EMIM, kernel, nn.BN3d", EMIM),
}


def split_lever_set(value: str, precisions: list[str]) -> tuple[str, list[str]]:
    """("cudnn+cl", ["fp16", "bf16"]) of "cudnn+cl@fp16,bf16"; without "@", the --precisions."""
    levers, _, only = value.partition("@")
    return levers, only.split(",") if only else precisions


def _lever_set(value: str) -> str:
    levers, precisions = split_lever_set(value, [])
    try:
        lever_overrides(levers)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    unknown = sorted(set(precisions) - set(PRECISIONS))
    if unknown:
        raise argparse.ArgumentTypeError(f"lever set {value!r}: unknown precisions {unknown}; {sorted(PRECISIONS)}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", help="a recipe's config.yaml (default: the defaults with --size)")
    parser.add_argument("--size", choices=sorted(SIZES), default="S", help="without --cfg")
    parser.add_argument("--frames", type=int, help="default: the recipe's, else 16")
    parser.add_argument("--crop", type=int, help="default: the recipe's TRAIN_CROP_SIZE, else 224")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="table measured this many times, fastest kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["emim", "emim-torch", "global"])
    parser.add_argument("--precisions", nargs="+", choices=list(PRECISIONS), default=["fp32"])
    parser.add_argument("--checkpointing", nargs="+", choices=("off", "on"), default=["off"])
    parser.add_argument("--levers", nargs="+", type=_lever_set, default=["none"],
                        help=f"lever sets: none, cfg, or + joined names of {sorted(LEVERS)}; a suffix "
                             "@fp16,bf16 runs that set at those precisions only")
    parser.add_argument("--compile-mode", default=None, help="PERF.COMPILE_MODE of the compiled rows")
    parser.add_argument("--sweep-batches", nargs="+", type=int, default=[])
    parser.add_argument("--sweep-levers", type=_lever_set)
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="top N kernels of one step")
    parser.add_argument("--budget", type=float, default=None, help="seconds; later rows are skipped")
    parser.add_argument("--json", help="write every number to this file")
    return parser


def row_opts(args, variant: str, precision: str, checkpointing: str, levers: str) -> list[str]:
    """The KEY VALUE overrides of one row on the recipe (or the defaults)."""
    opts = [] if args.cfg else list(SIZES[args.size])
    opts += ["DATA.NUM_FRAMES", str(args.frames), "DATA.TRAIN_CROP_SIZE", str(args.crop),
             "NUM_GPUS", "1" if args.device == "cuda" else "0", *VARIANTS[variant][1], *PRECISIONS[precision],
             *lever_overrides(levers)]
    if args.compile_mode:
        opts += ["PERF.COMPILE_MODE", args.compile_mode]
    if checkpointing == "on":
        depths = load_config(args.cfg, opts).UNIFORMER.DEPTH
        opts += ["MODEL.USE_CHECKPOINT", "True", "MODEL.CHECKPOINT_NUM", str(list(depths))]
    return opts


class Rows:
    """Measures rows within the budget and derives clips/s, TFLOP/s and MFU from each."""

    def __init__(self, args, peak: float | None):
        self.args, self.peak, self.start = args, peak, time.perf_counter()
        self.flops: dict[str, int] = {}  # per variant: training FLOPs of one clip

    def out_of_time(self) -> bool:
        return self.args.budget is not None and time.perf_counter() - self.start > self.args.budget

    def run(self, variant: str, precision: str, checkpointing: str, levers: str, batch: int) -> dict:
        row = {"variant": variant, "name": VARIANTS[variant][0], "precision": precision, "checkpointing": checkpointing,
               "levers": levers, "batch": batch, "step_s": None, "cpu_s": None, "clips_per_s": None, "tflops": None,
               "mfu_pct": None, "peak_gib": None}
        if self.out_of_time():
            row["error"] = f"skipped: past the {self.args.budget:.0f} s budget"
            return row
        cfg = load_config(self.args.cfg, row_opts(self.args, variant, precision, checkpointing, levers))
        warmup = max(self.args.warmup, 2 if cfg.PERF.COMPILE else 1)
        result = measure(cfg, batch, self.args.reps, warmup, plain_bn=variant == "emim-plain-bn")
        row.update(step_s=result.step_s, cpu_s=result.cpu_s, peak_gib=result.peak_gib)
        if result.error:
            row["error"] = result.error
        if result.step_s:
            if variant not in self.flops:
                self.flops[variant] = train_step_flops(cfg)
            row["clips_per_s"] = batch / result.step_s
            row["tflops"] = self.flops[variant] * batch / result.step_s / 1e12
            row["mfu_pct"] = 100 * row["tflops"] / self.peak if self.peak else None
        return row


def ratios(rows: list[dict]) -> None:
    """x_global (time over global attention's) and x_none (the all-off row's time over this one's) per row."""
    def same(r, **fixed):
        keys = ("variant", "precision", "checkpointing", "levers", "batch")
        return next((o for o in rows if all(o[k] == fixed.get(k, r[k]) for k in keys) and o["step_s"]), None)

    for row in rows:
        glob, none = same(row, variant="global"), same(row, levers="none")
        row["x_global"] = row["step_s"] / glob["step_s"] if row["step_s"] and glob else None
        row["x_none"] = none["step_s"] / row["step_s"] if row["step_s"] and none else None


def _cell(value, fmt: str, width: int) -> str:
    return f"{value:{width}{fmt}}" if value is not None else f"{'-':>{width}}"


def log_table(rows: list[dict]) -> None:
    logger.info("%-24s %-22s %-5s %-4s %5s %9s %8s %9s %8s %6s %9s %8s %7s", "levers", "attention in stages 3-4",
                "prec", "ckpt", "batch", "step (s)", "CPU s", "clips/s", "TFLOP/s", "MFU %", "peak GiB", "x global",
                "x none")
    for r in rows:
        logger.info("%-24s %-22s %-5s %-4s %5d %s %s %s %s %s %s %s %s%s", r["levers"], r["name"], r["precision"],
                    r["checkpointing"], r["batch"], _cell(r["step_s"], ".3f", 9), _cell(r["cpu_s"], ".3f", 8),
                    _cell(r["clips_per_s"], ".1f", 9),
                    _cell(r["tflops"], ".2f", 8), _cell(r["mfu_pct"], ".1f", 6), _cell(r["peak_gib"], ".2f", 9),
                    _cell(r.get("x_global"), ".2f", 8), _cell(r.get("x_none"), ".2f", 7),
                    f"  {r['error']}" if r.get("error") else "")


def main(argv: list[str] | None = None) -> dict:
    args = build_parser().parse_args(argv)
    if args.cfg:
        base = load_config(args.cfg)
        args.frames, args.crop = args.frames or base.DATA.NUM_FRAMES, args.crop or base.DATA.TRAIN_CROP_SIZE
    args.frames, args.crop = args.frames or 16, args.crop or 224
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    peak, peak_source = peak_tflops(device)
    bench = Rows(args, peak)
    rows = []
    plan = [(v, p, c, levers) for levers, precisions in (split_lever_set(s, args.precisions) for s in args.levers)
            for c in args.checkpointing for p in precisions for v in args.variants]
    for _ in range(args.rounds):
        measured = [bench.run(v, p, c, levers, args.batch) for v, p, c, levers in plan]
        rows = [old if old["step_s"] and (not new["step_s"] or old["step_s"] <= new["step_s"]) else new
                for old, new in zip(rows, measured)] if rows else measured
    ratios(rows)
    kernels, profiled = [], None
    timed = [r for r in rows if r["step_s"]]
    if args.profile and timed and not bench.out_of_time():
        profiled = min(timed, key=lambda r: r["step_s"])
        cfg = load_config(args.cfg, row_opts(args, profiled["variant"], profiled["precision"],
                                             profiled["checkpointing"], profiled["levers"]))
        kernels = profile_step(cfg, args.batch, args.profile)
    sweep = []
    sweep_levers = args.sweep_levers or split_lever_set(args.levers[-1], [])[0]
    for batch in args.sweep_batches:
        sweep.append(bench.run(args.variants[0], args.precisions[0], args.checkpointing[0], sweep_levers, batch))
        if sweep[-1].get("error"):
            break

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {args.threads} threads"
    model = args.cfg or f"UniFormer-{args.size}"
    flops = ", ".join(f"{v} {f / 1e9:.1f}" for v, f in bench.flops.items())
    logger.info("%s, %s, %d frames x %d^2, torch %s; the recipe's step (Trainer.run_step), fastest of %d after "
                "warm-up, %d round(s)", model, where, args.frames, args.crop, torch.__version__, args.reps, args.rounds)
    logger.info("training GFLOP per clip (fvcore forward x2 per multiply-add x3 fwd+bwd): %s; MFU against %s",
                flops or "-", f"{peak} TFLOP/s ({peak_source})" if peak else f"no peak ({peak_source})")
    log_table(rows)
    if sweep:
        logger.info("batch sweep, %s, levers %s:", VARIANTS[args.variants[0]][0], sweep_levers)
        log_table(sweep)
    if kernels:
        logger.info("top %d %s by self time in one step of: levers %s, %s, %s, checkpointing %s, batch %d",
                    len(kernels), "kernels" if device.type == "cuda" else "operators", profiled["levers"],
                    profiled["name"], profiled["precision"], profiled["checkpointing"], args.batch)
        logger.info("%9s %7s %6s  %s", "self ms", "calls", "%", "name")
        for k in kernels:
            logger.info("%9.2f %7d %6.1f  %s", k["self_ms"], k["calls"], k["share_pct"], k["name"][:110])
    result = {"device": where, "torch": torch.__version__, "model": model, "size": args.size, "batch": args.batch,
              "frames": args.frames, "crop": args.crop, "reps": args.reps, "rounds": args.rounds, "peak_tflops": peak,
              "peak_source": peak_source, "train_flops_per_clip": bench.flops, "rows": rows, "sweep": sweep,
              "profile": {"row": profiled, "kernels": kernels}}
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
