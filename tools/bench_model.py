"""Training-step time of UniFormer with EMIM (per backend) against the same network with global attention.

    python tools/bench_model.py [--size S] [--frames 16] [--crop 224] [--batch 1] [--reps 3] [--threads 2]

One step = forward, cross-entropy, backward, on the CPU (or the GPU with --device cuda); the fastest of
--reps after one warm-up. All rows are measured in one run; quote the ratios.
"""

import argparse
import logging
import sys
import time

import torch

from slowfast.config import load_config
from slowfast.models import build_model

logger = logging.getLogger("bench_model")

DEPTHS = {"S": "[3, 4, 8, 3]", "B": "[5, 8, 20, 7]"}
VARIANTS = {
    "EMIM, cpu/cuda kernel": ["UNIFORMER.ATTN_TYPE", "['emim', 'emim']"],
    "EMIM, torch backend": ["UNIFORMER.ATTN_TYPE", "['emim', 'emim']", "UNIFORMER.EMIM_BACKEND", "torch"],
    "global attention": ["UNIFORMER.ATTN_TYPE", "['global', 'global']"],
}


def step_seconds(model: torch.nn.Module, clip: torch.Tensor, labels: torch.Tensor, reps: int) -> float:
    """Fastest forward + loss + backward of `model([clip])` over `reps` runs after a warm-up."""
    times = []
    for _ in range(reps + 1):
        model.zero_grad(set_to_none=True)
        if clip.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        torch.nn.functional.cross_entropy(model([clip]), labels).backward()
        if clip.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def main(argv: list[str] | None = None) -> list[tuple[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(DEPTHS), default="S")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    clip = torch.randn(args.batch, 3, args.frames, args.crop, args.crop, device=device)
    labels = torch.zeros(args.batch, dtype=torch.long, device=device)
    rows = []
    for name, opts in VARIANTS.items():
        cfg = load_config(None, ["UNIFORMER.DEPTH", DEPTHS[args.size], "DATA.NUM_FRAMES", str(args.frames), *opts])
        rows.append((name, step_seconds(build_model(cfg).to(device), clip, labels, args.reps)))
    baseline = rows[-1][1]
    logger.info("UniFormer-%s, %s, batch %d x %d frames x %d^2, %d threads; fastest of %d steps",
                args.size, args.device, args.batch, args.frames, args.crop, args.threads, args.reps)
    logger.info("%-24s %12s %14s", "attention in stages 3-4", "step (s)", "x global time")
    for name, seconds in rows:
        logger.info("%-24s %12.3f %14.2f", name, seconds, seconds / baseline)
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
