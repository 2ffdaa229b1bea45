"""Training-step time of UniFormer with EMIM (per backend) against the same network with global attention.

    python tools/bench_model.py [--size S] [--frames 16] [--crop 224] [--batch 1] [--reps 3] [--threads 2]
                                [--device cpu|cuda] [--variants emim emim-torch global emim-plain-bn]
                                [--precisions fp32 bf16 fp16] [--checkpointing off on] [--json FILE]

One step = forward, cross-entropy, backward, on the CPU (or the GPU with --device cuda); the fastest of
--reps after one warm-up. Every variant runs at each precision (fp32; bf16 / fp16: the forward and loss under
torch.autocast in that dtype, as TRAIN.MIXED_PRECISION does; no loss scaling, which costs nothing measurable)
and each gradient-checkpointing setting (on: MODEL.USE_CHECKPOINT with every block of every stage
checkpointed). Variants: `emim` (EMIM 'lg' with the compiled kernel of the device), `emim-torch` (the torch
backend), `global` (global attention in stages 3-4), `emim-plain-bn` (`emim` with torch's nn.BatchNorm3d in
place of slowfast's dense channels-last BatchNorm3d, the workaround for a CPU fault: its cost on the device).
On GPU, peak = torch.cuda.max_memory_allocated over the steps (weights, gradients and activations); a
configuration that runs out of memory is reported as such. All rows are measured in one run; quote the
ratios ("x global": to global attention at the same precision and checkpointing).
"""

import argparse
import json
import logging
import os
import sys
import time

import torch
import torch.nn as nn

from slowfast.config import load_config
from slowfast.models import build_model
from slowfast.models.layers import BatchNorm3d

logger = logging.getLogger("bench_model")

DEPTHS = {"S": [3, 4, 8, 3], "B": [5, 8, 20, 7]}
EMIM = ["UNIFORMER.ATTN_TYPE", "['emim', 'emim']"]
VARIANTS = {  # key: (table name, config overrides)
    "emim": ("EMIM, cpu/cuda kernel", EMIM),
    "emim-torch": ("EMIM, torch backend", [*EMIM, "UNIFORMER.EMIM_BACKEND", "torch"]),
    "global": ("global attention", ["UNIFORMER.ATTN_TYPE", "['global', 'global']"]),
    "emim-plain-bn": ("EMIM, kernel, nn.BN3d", EMIM),
}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def step_seconds(model: torch.nn.Module, clip: torch.Tensor, labels: torch.Tensor, reps: int,
                 autocast_dtype: torch.dtype | None = None) -> float:
    """Fastest forward + loss + backward of `model([clip])` over `reps` runs after a warm-up."""
    times = []
    for _ in range(reps + 1):
        model.zero_grad(set_to_none=True)
        if clip.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(clip.device.type, dtype=autocast_dtype or torch.float32,
                            enabled=autocast_dtype is not None):
            loss = torch.nn.functional.cross_entropy(model([clip]), labels)
        loss.backward()
        if clip.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def build(variant: str, size: str, frames: int, checkpointing: bool) -> nn.Module:
    depths = DEPTHS[size]
    opts = ["UNIFORMER.DEPTH", str(depths), "DATA.NUM_FRAMES", str(frames), *VARIANTS[variant][1]]
    if checkpointing:
        opts += ["MODEL.USE_CHECKPOINT", "True", "MODEL.CHECKPOINT_NUM", str(depths)]
    model = build_model(load_config(None, opts))
    if variant == "emim-plain-bn":
        for m in model.modules():
            if isinstance(m, BatchNorm3d):
                m.__class__ = nn.BatchNorm3d  # same parameters and buffers, torch's own forward
    return model


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(DEPTHS), default="S")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=["emim", "emim-torch", "global"])
    parser.add_argument("--precisions", nargs="+", choices=list(PRECISIONS), default=["fp32"])
    parser.add_argument("--checkpointing", nargs="+", choices=("off", "on"), default=["off"])
    parser.add_argument("--json", help="write every number to this file")
    return parser


def main(argv: list[str] | None = None) -> list[dict]:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    clip = torch.randn(args.batch, 3, args.frames, args.crop, args.crop, device=device)
    labels = torch.zeros(args.batch, dtype=torch.long, device=device)
    rows = []
    for checkpointing in args.checkpointing:
        for precision in args.precisions:
            for variant in args.variants:
                row = {"variant": variant, "name": VARIANTS[variant][0], "precision": precision,
                       "checkpointing": checkpointing, "step_s": None, "peak_gib": None}
                model = None
                try:
                    model = build(variant, args.size, args.frames, checkpointing == "on").to(device)
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                    row["step_s"] = step_seconds(model, clip, labels, args.reps, PRECISIONS[precision])
                    if device.type == "cuda":
                        row["peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
                except torch.OutOfMemoryError:
                    row["error"] = "out of memory"
                except RuntimeError as err:  # e.g. a kernel without this dtype: reported, the other rows still run
                    row["error"] = str(err).strip().splitlines()[0][:200]
                del model
                if device.type == "cuda":
                    torch.cuda.empty_cache()
                rows.append(row)
    for row in rows:
        base = [r for r in rows if r["variant"] == "global" and r["precision"] == row["precision"]
                and r["checkpointing"] == row["checkpointing"]]
        ref = base[0]["step_s"] if base else None
        row["x_global"] = row["step_s"] / ref if row["step_s"] and ref else None

    where = f"{torch.cuda.get_device_name(device)}" if device.type == "cuda" else f"cpu, {args.threads} threads"
    logger.info("UniFormer-%s, %s, batch %d x %d frames x %d^2, torch %s; fastest of %d steps",
                args.size, where, args.batch, args.frames, args.crop, torch.__version__, args.reps)
    logger.info("%-24s %-9s %-5s %12s %14s %9s", "attention in stages 3-4", "precision", "ckpt", "step (s)",
                "x global time", "peak GiB")
    for row in rows:
        step = f"{row['step_s']:12.3f}" if row["step_s"] else f"{'-':>12}"
        ratio = f"{row['x_global']:14.2f}" if row["x_global"] else f"{'-':>14}"
        peak = f"{row['peak_gib']:9.2f}" if row["peak_gib"] else f"{'-':>9}"
        error = f"  {row['error']}" if "error" in row else ""
        logger.info("%-24s %-9s %-5s %s %s %s%s", row["name"], row["precision"], row["checkpointing"], step, ratio,
                    peak, error)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"device": where, "torch": torch.__version__, "size": args.size, "batch": args.batch,
                       "frames": args.frames, "crop": args.crop, "reps": args.reps, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
