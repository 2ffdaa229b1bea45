"""Parameters and GFLOPs per view (fvcore), the EMIM op counted as the work it does.

    python tools/model_stats.py                          # UniFormer-S/B, with/without EMIM, 16/32 frames, 224
    python tools/model_stats.py --cfg exp/X/config.yaml [KEY VALUE ...]   # one config, its own frames/crop

FLOPs need the compiled EMIM op (`make install`), which traces as one countable node.
"""

import argparse
import logging
import sys

import torch

from slowfast.config import load_config
from slowfast.models import build_model
from slowfast.utils.complexity import clip_flops, count_parameters

logger = logging.getLogger("model_stats")

SIZES = {"S": "[3, 4, 8, 3]", "B": "[5, 8, 20, 7]"}
ATTENTION = {"EMIM (lg, 7x7)": "['emim', 'emim']", "global": "['global', 'global']"}


def stats_row(cfg, name: str) -> tuple[str, int, int, float, float]:
    """(name, frames, crop, parameters in M, GFLOPs per view) of the model `cfg` describes."""
    model = build_model(cfg)
    frames, crop = cfg.DATA.NUM_FRAMES, cfg.DATA.TEST_CROP_SIZE
    flops, _ = clip_flops(model, torch.zeros(1, 3, frames, crop, crop))
    return name, frames, crop, count_parameters(model) / 1e6, flops / 1e9


def preset_configs(opts: list[str]):
    for size, depth in SIZES.items():
        for attention, attn_type in ATTENTION.items():
            for frames in (16, 32):
                cfg = load_config(None, ["UNIFORMER.DEPTH", depth, "UNIFORMER.ATTN_TYPE", attn_type,
                                         "DATA.NUM_FRAMES", str(frames), "DATA.TEST_CROP_SIZE", "224",
                                         "MODEL.NUM_CLASSES", "400", "UNIFORMER.EMIM_BACKEND", "cpu", *opts])
                yield cfg, f"UniFormer-{size} {attention}"


def main(argv: list[str] | None = None) -> list[tuple]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", help="config file; default: the UniFormer-S/B preset table")
    parser.add_argument("opts", nargs=argparse.REMAINDER, help="KEY VALUE overrides")
    args = parser.parse_args(argv)
    if args.cfg:
        configs = [(load_config(args.cfg, ["UNIFORMER.EMIM_BACKEND", "cpu", *args.opts]), args.cfg)]
    else:
        configs = preset_configs(args.opts)
    rows = [stats_row(cfg, name) for cfg, name in configs]
    logger.info("%-34s %6s %5s %10s %14s", "model", "frames", "crop", "params (M)", "GFLOPs / view")
    for name, frames, crop, params, gflops in rows:
        logger.info("%-34s %6d %5d %10.2f %14.1f", name, frames, crop, params, gflops)
    return rows


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    main()
