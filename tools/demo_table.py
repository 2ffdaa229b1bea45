"""The demo's result table: model, parameters, GFLOPs per view, multi-view top-1, minutes.

    python tools/demo_table.py NAME=MINUTES [NAME=MINUTES ...]    # NAME: an exp/ folder that was run

Parameters and GFLOPs come from `tools/model_stats.py` (fvcore, the EMIM op counted); top-1 from the
TEST.SAVE_RESULTS_PATH pickle that exp/NAME/test.sh wrote under exp/NAME/output.
"""

import argparse
import logging
import os
import pickle
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model_stats import stats_row  # noqa: E402

from slowfast.config import load_config  # noqa: E402

logger = logging.getLogger("demo_table")
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def row(name: str, minutes: float, output_root: str) -> tuple:
    """(name, parameters M, GFLOPs, top-1 %, top-5 %, views, seed, minutes) of one finished demo experiment."""
    cfg = load_config(os.path.join(REPO, "exp", name, "config.yaml"))
    _, _, _, params, gflops = stats_row(cfg, name)
    output_dir = os.path.join(output_root or os.path.join(REPO, "exp", name), "output")
    with open(os.path.join(output_dir, cfg.TEST.SAVE_RESULTS_PATH), "rb") as f:
        metrics = pickle.load(f)["metrics"]
    return name, params, gflops, metrics["top1"], metrics["top5"], metrics["views"], cfg.RNG_SEED, minutes


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", help="NAME=MINUTES")
    parser.add_argument("--output-root", default="", help="folder holding NAME/output (default exp/NAME)")
    args = parser.parse_args(argv)
    rows = []
    for run in args.runs:
        name, minutes = run.split("=")
        rows.append(row(name, float(minutes), args.output_root and os.path.join(args.output_root, name)))
    header = f"{'model':<22} {'params (M)':>10} {'GFLOPs/view':>11} {'top-1 (%)':>9} {'top-5 (%)':>9} {'views':>6} {'seed':>5} {'minutes':>7}"
    logger.info(header)
    for name, params, gflops, top1, top5, views, seed, minutes in rows:
        logger.info(f"{name:<22} {params:>10.3f} {gflops:>11.3f} {top1:>9.2f} {top5:>9.2f} {views:>6d} {seed:>5d} {minutes:>7.1f}")
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
