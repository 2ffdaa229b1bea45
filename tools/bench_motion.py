"""The motion benchmark: the demo pair (exp/motion_emim_tiny, exp/motion_baseline_tiny) over seeds and
difficulty tiers, multi-view top-1 mean and spread, and a control on time-shuffled frames.

    python tools/bench_motion.py [--seeds 0 1 2] [--tiers still pan] [--jobs 2] [--out output/bench_motion]
                                 [KEY VALUE ...]      # config overrides for every run

For each tier and seed: the motion dataset of that seed and tier (val/test files; training renders fresh
videos), both models trained with the demo's recipe and RNG_SEED = seed, tested multi-view on the best
checkpoint by validation (as test.sh does), then tested again with the frames of every view in a random
order (the control: a model that uses motion should fall to chance or to the motion-kind pairs, see
motion_synth). Runs already finished under --out are reused, so an interrupted benchmark continues.
`--jobs` runs train in parallel, each with cores / jobs threads. Prints the table and writes it to
OUT/bench_motion.md with every number in OUT/bench_motion.json.
"""

import argparse
import concurrent.futures
import json
import logging
import os
import subprocess
import sys

import numpy as np
import torch

from slowfast.config import load_config
from slowfast.datasets import construct_loader
from slowfast.datasets.motion_synth import TIERS, write_motion_dataset
from slowfast.engine.evaluator import test
from slowfast.utils.run_report import test_metrics, validation_curve

logger = logging.getLogger("bench_motion")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("motion_emim_tiny", "motion_baseline_tiny")
SHUFFLED_RESULTS = "results_time_shuffled.pkl"


class TimeShuffled:
    """A test loader whose clips [B, 3, T, H, W] have their T frames in a random order (fixed by `seed`)."""

    def __init__(self, loader, seed: int = 0):
        self.loader, self.dataset, self.seed = loader, loader.dataset, seed

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed)
        for frames, labels, indices, meta in self.loader:
            clip = frames[0]
            orders = [torch.randperm(clip.shape[2], generator=generator) for _ in range(clip.shape[0])]
            yield [torch.stack([c[:, o] for c, o in zip(clip, orders)])], labels, indices, meta


def _train_and_test(name: str, data_dir: str, output_dir: str, seed: int, threads: int, opts: list[str]) -> None:
    """tools/run_net.py for one model (train, then the multi-view test of its best checkpoint)."""
    if os.path.exists(os.path.join(output_dir, "results.pkl")):
        logger.info("%s: finished earlier, reused", output_dir)
        return
    best = os.path.join(output_dir, "checkpoints", "checkpoint_best.pyth")
    cmd = [sys.executable, os.path.join(REPO, "tools", "run_net.py"), "--cfg",
           os.path.join(REPO, "exp", name, "config.yaml"), "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX",
           data_dir, "OUTPUT_DIR", output_dir, "RNG_SEED", str(seed), "NUM_GPUS", "0",
           "TEST.CHECKPOINT_FILE_PATH", best, "TEST.SAVE_RESULTS_PATH", "results.pkl", *opts]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": REPO}
    logger.info("training %s (seed %d) -> %s", name, seed, output_dir)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(os.path.dirname(output_dir), f"{os.path.basename(output_dir)}.log"), "w") as log:
        subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)


def _shuffled_test(output_dir: str) -> dict:
    """Multi-view test of the run's best checkpoint on time-shuffled frames."""
    if os.path.exists(os.path.join(output_dir, SHUFFLED_RESULTS)):
        return test_metrics(os.path.join(output_dir, SHUFFLED_RESULTS))
    cfg = load_config(os.path.join(output_dir, "config.yaml"), ["TEST.SAVE_RESULTS_PATH", SHUFFLED_RESULTS])
    return test(cfg, lambda c, split: TimeShuffled(construct_loader(c, split), c.RNG_SEED))


def _mean_std(values: list[float]) -> str:
    """"mean ± sample std", or the value alone for one seed."""
    return f"{np.mean(values):.1f}" + (f" ± {np.std(values, ddof=1):.1f}" if len(values) > 1 else "")


def table(results: list[dict], seeds: list[int]) -> list[str]:
    """Markdown rows: per tier and model, top-1 mean ± std over seeds, each seed, time-shuffled control;
    then EMIM minus baseline per tier (paired by seed)."""
    lines = [f"| tier | model | top-1 mean ± std (%) | per seed {tuple(seeds)} | time-shuffled top-1 (%) "
             "| chance (%) |",
             "|---|---|---|---|---|---|"]
    by_key = {(r["tier"], r["model"], r["seed"]): r for r in results}
    tiers = sorted({r["tier"] for r in results}, key=TIERS.index)
    for tier in tiers:
        for model in MODELS:
            runs = [by_key[tier, model, s] for s in seeds]
            per_seed = ", ".join(f"{r['top1']:.1f}" for r in runs)
            lines.append(f"| {tier} | {model} | {_mean_std([r['top1'] for r in runs])} | {per_seed} | "
                         f"{_mean_std([r['shuffled_top1'] for r in runs])} | {runs[0]['chance']:.1f} |")
    lines += ["", "| tier | EMIM - baseline, top-1 points (mean ± std over seeds) | per seed |", "|---|---|---|"]
    for tier in tiers:
        gaps = [by_key[tier, MODELS[0], s]["top1"] - by_key[tier, MODELS[1], s]["top1"] for s in seeds]
        per_seed = ", ".join(f"{g:+.1f}" for g in gaps)
        lines.append(f"| {tier} | {_mean_std(gaps)} | {per_seed} |")
    return lines


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--tiers", nargs="+", choices=TIERS, default=list(TIERS))
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    parser.add_argument("--out", default=os.path.join(REPO, "output", "bench_motion"))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run")
    args = parser.parse_args(argv)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = []
    for tier in args.tiers:
        for seed in args.seeds:
            data_dir = os.path.join(args.out, "data", f"{tier}-seed{seed}")
            if not os.path.exists(os.path.join(data_dir, "motion_dataset.json")):
                write_motion_dataset(data_dir, seed=seed, num_train=0, num_val=96, num_test=96, tier=tier)
            for model in MODELS:
                jobs.append((tier, seed, model, data_dir, os.path.join(args.out, f"{tier}-seed{seed}", model)))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for future in [pool.submit(_train_and_test, model, data_dir, out, seed, threads, args.opts)
                       for tier, seed, model, data_dir, out in jobs]:
            future.result()
    torch.set_num_threads(os.cpu_count() or 1)
    results = []
    for tier, seed, model, _, out in jobs:
        metrics, shuffled = test_metrics(os.path.join(out, "results.pkl")), _shuffled_test(out)
        cfg = load_config(os.path.join(out, "config.yaml"))
        results.append({"tier": tier, "seed": seed, "model": model, "top1": metrics["top1"],
                        "top5": metrics["top5"], "shuffled_top1": shuffled["top1"],
                        "chance": 100 / cfg.MODEL.NUM_CLASSES, "val_curve": validation_curve(out)})
    lines = table(results, args.seeds)
    for line in lines:
        logger.info(line)
    with open(os.path.join(args.out, "bench_motion.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "bench_motion.json"), "w") as f:
        json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
