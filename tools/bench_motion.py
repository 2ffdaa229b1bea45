"""The motion benchmark: the demo pair (exp/motion_emim_tiny, exp/motion_baseline_tiny) over tasks and
seeds, paired by seed.

    python tools/bench_motion.py [--seeds 0 1 2 3 4] [--tasks translation all] [--tier still] [--jobs 2]
                                 [--time-shuffled] [--out output/bench_motion] [KEY VALUE ...]

Tasks: `translation` (the generator's first 4 classes: left/right/up/down) and `all` (the 8 classes: also
rotation and scaling). For each task and seed: the motion dataset of that seed (val/test files; training
renders fresh videos), both models trained with the demo's recipe (the KEY VALUE overrides apply to both)
and RNG_SEED = seed, tested multi-view on the best checkpoint by validation (as test.sh does). The tables:
top-1 per model (mean, spread, each seed) and whether the leading model's validation has levelled off
(gain < 2 points over the last quarter of training) or is "still rising"; EMIM - global per seed with its
mean and 95% t-interval; accuracy on the kind of motion (the time-reversed pair) and on the direction within
it, per kind. `--time-shuffled` adds a control: the same models tested with the frames of every view in a
random order (a model that uses the order falls to the pair level). Runs already finished under --out are
reused, so an interrupted benchmark continues. `--jobs` runs train in parallel, each with cores / jobs
threads. Prints the tables and writes them to OUT/bench_motion.md with every number in OUT/bench_motion.json.
"""

import argparse
import concurrent.futures
import json
import logging
import os
import pickle
import subprocess
import sys

import numpy as np
import torch

from slowfast.config import load_config
from slowfast.datasets import construct_loader
from slowfast.datasets.motion_synth import CLASS_NAMES, TIERS, write_motion_dataset
from slowfast.engine.evaluator import test
from slowfast.utils.bench_stats import LEVEL_POINTS, kind_and_direction, last_quarter_gain, paired_interval
from slowfast.utils.run_report import plot_probe_bars, plot_seed_curves, test_metrics, validation_curve

logger = logging.getLogger("bench_motion")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ("motion_emim_tiny", "motion_baseline_tiny")
# the benchmark's tasks: translation only (the generator's first 4 classes) and all 8 kinds of motion
TASKS = {"translation": CLASS_NAMES[:4], "all": CLASS_NAMES}
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
    logger.info("training %s (seed %d) -> %s", name, seed, output_dir)
    os.makedirs(output_dir, exist_ok=True)
    _run_logged(cmd, os.path.join(os.path.dirname(output_dir), f"{os.path.basename(output_dir)}.log"), threads,
                f"run_net.py of {name} (seed {seed})")


class RunFailed(RuntimeError):
    """A child run exited non-zero; the message ends with the tail of its log."""


def child_env(threads: int) -> dict[str, str]:
    """This process's environment for a child tool: `threads` OpenMP threads and the repository in front of
    PYTHONPATH, whatever else it holds kept (packages installed with `pip --target`, as tools/gpu_check.sh does)."""
    path = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": path}


def _run_logged(cmd: list[str], log_path: str, threads: int, what: str, tail: int = 30) -> None:
    """`cmd` with its output in `log_path`; RunFailed naming `what`, with the log's last `tail` lines, when it
    fails."""
    with open(log_path, "w") as log:
        code = subprocess.run(cmd, env=child_env(threads), stdout=log, stderr=subprocess.STDOUT).returncode
    if code:
        with open(log_path, errors="replace") as log:
            last = log.read().splitlines()[-tail:]
        raise RunFailed(f"{what} exited with status {code}; the last {len(last)} lines of {log_path}:\n"
                        + "\n".join(last))


def _probe(task_dir: str, threads: int) -> dict:
    """tools/probe_motion.py on the EMIM run of task_dir with its global twin, along training (reused if done)."""
    emim, twin = (os.path.join(task_dir, m) for m in MODELS)
    report = os.path.join(emim, "probe_motion.json")
    if not os.path.exists(report):
        best = [os.path.join(d, "checkpoints", "checkpoint_best.pyth") for d in (emim, twin)]
        tool = os.path.join(REPO, "tools", "probe_motion.py")
        cmd = [sys.executable, tool, "--cfg", os.path.join(emim, "config.yaml"), "--checkpoint", best[0],
               "--baseline-cfg", os.path.join(twin, "config.yaml"), "--baseline-checkpoint", best[1],
               "--along-training", "--device", "cpu"]
        logger.info("probing %s", emim)
        _run_logged(cmd, os.path.join(task_dir, "probe_motion.log"), threads, f"probe_motion.py of {emim}")
    with open(report) as f:
        return json.load(f)


def _shuffled_test(output_dir: str) -> dict:
    """Multi-view test of the run's best checkpoint on time-shuffled frames."""
    if os.path.exists(os.path.join(output_dir, SHUFFLED_RESULTS)):
        return test_metrics(os.path.join(output_dir, SHUFFLED_RESULTS))
    cfg = load_config(os.path.join(output_dir, "config.yaml"), ["TEST.SAVE_RESULTS_PATH", SHUFFLED_RESULTS])
    return test(cfg, lambda c, split: TimeShuffled(construct_loader(c, split), c.RNG_SEED))


def _mean_std(values: list[float]) -> str:
    """"mean ± sample std", or the value alone for one seed."""
    return f"{np.mean(values):.1f}" + (f" ± {np.std(values, ddof=1):.1f}" if len(values) > 1 else "")


def run_result(task: str, seed: int, model: str, output_dir: str, time_shuffled: bool) -> dict:
    """The numbers of one finished run: test top-1, kind/direction breakdown, validation curve (and the control)."""
    with open(os.path.join(output_dir, "results.pkl"), "rb") as f:
        saved = pickle.load(f)
    cfg = load_config(os.path.join(output_dir, "config.yaml"))
    curve = validation_curve(output_dir)
    result = {"task": task, "seed": seed, "model": model, "top1": saved["metrics"]["top1"],
              "top5": saved["metrics"]["top5"], "chance": 100 / cfg.MODEL.NUM_CLASSES,
              "kinds": kind_and_direction(saved["scores"], saved["labels"]), "val_curve": curve,
              "last_quarter_gain": last_quarter_gain(curve)}
    if time_shuffled:
        result["shuffled_top1"] = _shuffled_test(output_dir)["top1"]
    return result


def tables(results: list[dict], seeds: list[int]) -> list[str]:
    """Markdown tables: top-1 per task and model; EMIM - baseline paired by seed; kind and direction."""
    by_key = {(r["task"], r["model"], r["seed"]): r for r in results}
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    shuffled = "shuffled_top1" in results[0]
    lines = [f"| task | model | top-1 mean ± std (%) | per seed {tuple(seeds)} | last-quarter val gain (points) "
             f"| chance (%) |{' time-shuffled top-1 (%) |' if shuffled else ''}",
             f"|---|---|---|---|---|---|{'---|' if shuffled else ''}"]
    for task in tasks:
        for model in MODELS:
            runs = [by_key[task, model, s] for s in seeds]
            gains = [r["last_quarter_gain"] for r in runs]
            rising = sum(g >= LEVEL_POINTS for g in gains)
            per_seed = ", ".join(f"{r['top1']:.1f}" for r in runs)
            lines.append(f"| {task} | {model} | {_mean_std([r['top1'] for r in runs])} | {per_seed} | "
                         f"{np.mean(gains):+.1f} ({'still rising' if np.mean(gains) >= LEVEL_POINTS else 'levelled'}"
                         f"; {rising}/{len(runs)} runs rising) | {runs[0]['chance']:.1f} |"
                         + (f" {_mean_std([r['shuffled_top1'] for r in runs])} |" if shuffled else ""))
    lines += ["", "| task | EMIM - baseline, top-1 points: mean [95% CI] | per seed | EMIM ahead / tied / behind |",
              "|---|---|---|---|"]
    for task in tasks:
        gaps = [by_key[task, MODELS[0], s]["top1"] - by_key[task, MODELS[1], s]["top1"] for s in seeds]
        mean, low, high = paired_interval(gaps)
        counts = f"{sum(g > 0 for g in gaps)} / {sum(g == 0 for g in gaps)} / {sum(g < 0 for g in gaps)}"
        lines.append(f"| {task} | {mean:+.1f} [{low:+.1f}, {high:+.1f}] | {', '.join(f'{g:+.1f}' for g in gaps)} "
                     f"| {counts} |")
    lines += ["", "| task | model | kind | right pair (%) | right direction within the pair (%) | per seed (pair / "
              "direction) |", "|---|---|---|---|---|---|"]
    for task in tasks:
        for model in MODELS:
            runs = [by_key[task, model, s] for s in seeds]
            for kind in runs[0]["kinds"]:
                pair = [r["kinds"][kind]["pair"] for r in runs]
                direction = [r["kinds"][kind]["direction"] for r in runs]
                lines.append(f"| {task} | {model} | {kind} | {_mean_std(pair)} | {_mean_std(np.nan_to_num(direction))} "
                             f"| {', '.join(f'{p:.0f}/{d:.0f}' for p, d in zip(pair, direction))} |")
    if any("probe" in r for r in results):
        lines += ["", *probe_table(results, seeds, tasks)]
    return lines


# (model, reading, label) of the probe table's rows
READINGS = (("trained", "cost", "cost volume, EMIM"), ("untrained", "cost", "cost volume, untrained EMIM"),
            ("trained", "soft_argmax", "soft-argmax, EMIM"), ("trained", "input", "input tokens, EMIM"),
            ("untrained", "input", "input tokens, untrained EMIM"),
            ("global_twin", "input", "input tokens, global twin"))


def probe_table(results: list[dict], seeds: list[int], tasks: list[str]) -> list[str]:
    """Markdown: per task, layer and reading, the probe's direction accuracy on the test split over seeds;
    then the knock-outs' multi-view top-1."""
    emim = {(r["task"], r["seed"]): r["probe"] for r in results if "probe" in r}
    lines = [f"| task | layer | reading | direction within 45 deg (%) mean ± std | per seed {tuple(seeds)} |",
             "|---|---|---|---|---|"]
    for task in tasks:
        probes = [emim[task, s] for s in seeds]
        for layer in probes[0]["layers"]:
            for model, reading, label in READINGS:
                values = [p[model][layer][reading]["direction"] for p in probes]
                lines.append(f"| {task} | {layer} | {label} | {_mean_std(values)} | "
                             f"{', '.join(f'{v:.1f}' for v in values)} |")
    lines += ["", "| task | EMIM model tested with | multi-view top-1 (%) mean ± std | per seed |", "|---|---|---|---|"]
    for task in tasks:
        probes = [emim[task, s] for s in seeds]
        for knockout in probes[0]["knockouts_top1"]:
            values = [p["knockouts_top1"][knockout] for p in probes]
            label = "nothing knocked out" if knockout == "none" else f"{knockout} knocked out"
            lines.append(f"| {task} | {label} | {_mean_std(values)} | {', '.join(f'{v:.1f}' for v in values)} |")
    return lines


def figures(results: list[dict], seeds: list[int], out: str) -> None:
    """OUT/learning_curves_<task>.png (both models over the seeds) and, with probes, OUT/probe_<task>.png."""
    for task in dict.fromkeys(r["task"] for r in results):
        runs = [r for r in results if r["task"] == task and r["seed"] in seeds]
        plot_seed_curves({m: [r["val_curve"] for r in runs if r["model"] == m] for m in MODELS}, 1 / len(TASKS[task]),
                         os.path.join(out, f"learning_curves_{task}.png"), f"motion benchmark, {task}: validation")
        probes = [r["probe"] for r in runs if "probe" in r]
        if probes:
            bars = {layer: {label: [p[model][layer][reading]["direction"] for p in probes]
                            for model, reading, label in READINGS} for layer in probes[0]["layers"]}
            plot_probe_bars(bars, probes[0]["chance_direction"] / 100, os.path.join(out, f"probe_{task}.png"),
                            f"linear probe of the true motion, {task} (test split, {len(probes)} seeds)")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS))
    parser.add_argument("--tier", choices=TIERS, default="still", help="camera tier of every task")
    parser.add_argument("--jobs", type=int, default=2, help="runs trained at once")
    parser.add_argument("--time-shuffled", action="store_true", help="add the time-shuffled control")
    parser.add_argument("--probe", action="store_true",
                        help="tools/probe_motion.py on every EMIM run (with its twin, along training)")
    parser.add_argument("--out", default=os.path.join(REPO, "output", "bench_motion"))
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides for every run")
    args = parser.parse_args(argv)
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    jobs = []
    for task in args.tasks:
        for seed in args.seeds:
            run = f"{task}-{args.tier}-seed{seed}"
            data_dir = os.path.join(args.out, "data", run)
            if not os.path.exists(os.path.join(data_dir, "motion_dataset.json")):
                write_motion_dataset(data_dir, seed=seed, num_train=0, num_val=96, num_test=96, tier=args.tier,
                                     classes=TASKS[task])
            for model in MODELS:
                jobs.append((task, seed, model, data_dir, os.path.join(args.out, run, model)))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(_train_and_test, model, data_dir, out, seed, threads,
                               ["MODEL.NUM_CLASSES", str(len(TASKS[task])), *args.opts])
                   for task, seed, model, data_dir, out in jobs]
        failed = [f.exception() for f in concurrent.futures.as_completed(futures) if f.exception()]
    if failed:  # every run was tried; the finished ones are reused by the next call
        for err in failed:
            logger.error("error: %s", err)
        sys.exit(f"error: {len(failed)} of {len(jobs)} runs failed (their logs above)")
    torch.set_num_threads(os.cpu_count() or 1)
    results = [run_result(task, seed, model, out, args.time_shuffled) for task, seed, model, _, out in jobs]
    if args.probe:
        task_dirs = list(dict.fromkeys(os.path.dirname(out) for *_, out in jobs))
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            probes = dict(zip(task_dirs, pool.map(lambda d: _probe(d, threads), task_dirs)))
        for r, (*_, out) in zip(results, jobs):
            if r["model"] == MODELS[0]:
                r["probe"] = probes[os.path.dirname(out)]
    lines = tables(results, args.seeds)
    figures(results, args.seeds, args.out)
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
