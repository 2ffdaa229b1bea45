"""The demo's result table and learning curves, from finished runs of the motion demo pair.

    python tools/demo_table.py --output-root DIR NAME=MINUTES [NAME=MINUTES ...]

NAME is an exp/ folder whose run.sh and test.sh wrote DIR/NAME (OUTPUT_DIR). Prints model, parameters,
GFLOPs per view, chance, multi-view top-1/top-5, views, seed, training clips and minutes, and writes
DIR/learning_curves.png: validation top-1 of every run against training clips seen.
"""

import argparse
import logging
import os
import sys

import torch

from slowfast.config import load_config
from slowfast.datasets.motion_stream import read_dataset_info, videos_per_epoch
from slowfast.engine.evaluator import results_path
from slowfast.models import build_model
from slowfast.utils.complexity import clip_flops, count_parameters
from slowfast.utils.run_report import plot_learning_curves, test_metrics, validation_curve

logger = logging.getLogger("demo_table")


def clips_per_epoch(cfg) -> int:
    """Training clips per epoch of a motion_stream run (whole batches: the last partial one is dropped)."""
    videos = videos_per_epoch(cfg, read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR))
    return videos // cfg.TRAIN.BATCH_SIZE * cfg.TRAIN.BATCH_SIZE


def run_row(name: str, output_dir: str, minutes: float) -> dict:
    """One finished run: its config (as the run dumped it), size, test metrics and validation curve."""
    cfg = load_config(os.path.join(output_dir, "config.yaml"))
    model = build_model(cfg)
    crop = cfg.DATA.TEST_CROP_SIZE
    flops, _ = clip_flops(model, torch.zeros(1, 3, cfg.DATA.NUM_FRAMES, crop, crop))
    curve, per_epoch = validation_curve(output_dir), clips_per_epoch(cfg)
    return {"name": name, "params_m": count_parameters(model) / 1e6, "gflops": flops / 1e9,
            "chance": 100 / cfg.MODEL.NUM_CLASSES, **test_metrics(results_path(cfg)),
            "seed": cfg.RNG_SEED, "clips": per_epoch * (curve[-1][0] if curve else 0),
            "clips_per_epoch": per_epoch, "curve": curve, "minutes": minutes}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="NAME=MINUTES")
    parser.add_argument("--output-root", required=True, help="folder holding NAME/ (each run's OUTPUT_DIR)")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        name, minutes = run.split("=")
        rows.append(run_row(name, os.path.join(args.output_root, name), float(minutes)))
    logger.info(f"{'model':<22} {'params (M)':>10} {'GFLOPs/view':>11} {'chance (%)':>10} {'top-1 (%)':>9} "
                f"{'top-5 (%)':>9} {'views':>6} {'seed':>5} {'train clips':>11} {'minutes':>7}")
    for r in rows:
        logger.info(f"{r['name']:<22} {r['params_m']:>10.3f} {r['gflops']:>11.3f} {r['chance']:>10.2f} "
                    f"{r['top1']:>9.2f} {r['top5']:>9.2f} {r['views']:>6d} {r['seed']:>5d} {r['clips']:>11d} "
                    f"{r['minutes']:>7.1f}")
    figure = os.path.join(args.output_root, "learning_curves.png")
    plot_learning_curves({r["name"]: r["curve"] for r in rows}, rows[0]["clips_per_epoch"], rows[0]["chance"] / 100,
                         figure, "motion demo: validation top-1")
    logger.info("learning curves: %s", figure)
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
