"""What a trained EMIM model's cost volume holds about the motion, and what its classifier uses.

    python tools/probe_motion.py --cfg exp/motion_emim_tiny/config.yaml --checkpoint CKPT \
        [--baseline-cfg exp/motion_baseline_tiny/config.yaml --baseline-checkpoint CKPT] \
        [--probe-videos 192] [--probe-seed S] [--along-training] [--no-knockouts] [--out DIR] [--opts KEY VALUE ...]

On the motion dataset of DATA.PATH_TO_DATA_DIR (its test split, ground truth motion_test.json):
1. linear probes (slowfast/visualization/probe.py) of the true per-token displacement, per EMIM layer, fit on
   a probe split this tool writes beside the dataset (DIR/probe_seed<S>: the same generator settings, seed S,
   default the dataset's seed + 1000) and scored on the test split: the raw cost volume of the checkpoint and
   of the untrained model of the same config (the floor); the layer's input tokens (frames t and t+1) of both,
   and of the global twin at the same layer (--baseline-*); and the soft-argmax (no fit: where the context
   branch's attention looks);
2. knock-outs at test, multi-view top-1: intact, motion branch zeroed, context branch zeroed, cost-volume
   window entries permuted (slowfast/visualization/knockout.py);
3. with --along-training, the cost-volume probe of every checkpoint_epoch_*.pyth beside CKPT, with the
   run's validation top-1 at that epoch.
Prints the tables and writes OUT/probe_motion.json (OUT default: the checkpoint's run folder).
"""

import argparse
import glob
import json
import logging
import os
import re
import sys

import torch

from slowfast.config import exit_on_user_error, load_config
from slowfast.datasets.motion_stream import read_dataset_info
from slowfast.datasets.motion_synth import GROUND_TRUTH_TEMPLATE, write_motion_dataset
from slowfast.engine.inference import load_model
from slowfast.utils.run_report import validation_curve
from slowfast.visualization.capture import CostVolumes
from slowfast.visualization.knockout import knockout_top1
from slowfast.visualization.motion_field import CHANCE, load_ground_truth
from slowfast.visualization.probe import collect, load_views, probe_layer

logger = logging.getLogger("probe_motion")


def probe_split(data_dir: str, seed: int, videos: int) -> str:
    """The folder of the probe split (the test split of a dataset written like data_dir's, seed `seed`),
    written on first use; returns its motion_test.json."""
    info = read_dataset_info(data_dir)
    out = os.path.join(data_dir, f"probe_seed{seed}")
    truth = os.path.join(out, GROUND_TRUTH_TEMPLATE.format("test"))
    if not os.path.exists(truth) or len(load_ground_truth(truth)[1]) != videos:
        write_motion_dataset(out, seed=seed, num_train=0, num_val=0, num_test=videos, num_frames=info["num_frames"],
                             size=info["size"], classes=info["classes"], fps=info["fps"], tier=info["tier"])
    return truth


def readings(cfg, model, probe, test, layers, device, kinds=("cost", "soft_argmax", "input")) -> dict:
    """{layer: {reading: scores}} of `model`: probes fit on the probe split, scored on the test split (each a
    (videos, views) pair)."""
    fit = collect(cfg, model, *probe, layers, device)
    held = collect(cfg, model, *test, layers, device)
    return {name: {k: probe_layer(fit[name], held[name], k) for k in kinds
                   if k == "input" or fit[name].soft_argmax_px is not None} for name in layers}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--baseline-cfg", help="config of the global twin")
    parser.add_argument("--baseline-checkpoint")
    parser.add_argument("--probe-videos", type=int, default=192)
    parser.add_argument("--probe-seed", type=int, help="default: the dataset's seed + 1000")
    parser.add_argument("--along-training", action="store_true")
    parser.add_argument("--no-knockouts", action="store_true")
    parser.add_argument("--out", help="folder for probe_motion.json (default: the checkpoint's run folder)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (last)")
    args = parser.parse_args(argv)
    if bool(args.baseline_cfg) != bool(args.baseline_checkpoint):
        parser.error("--baseline-cfg and --baseline-checkpoint go together")

    cfg = load_config(args.cfg, args.opts)
    data_dir, device = cfg.DATA.PATH_TO_DATA_DIR, torch.device(args.device)
    seed = args.probe_seed if args.probe_seed is not None else read_dataset_info(data_dir)["seed"] + 1000
    probe_truth = probe_split(data_dir, seed, args.probe_videos)
    test_truth = os.path.join(data_dir, GROUND_TRUTH_TEMPLATE.format("test"))
    probe, test = [], []
    for truth, split in ((probe_truth, probe), (test_truth, test)):
        motions = load_ground_truth(truth)[1]
        split += [motions, load_views(cfg, motions, os.path.dirname(truth))]
    model = load_model(cfg, args.checkpoint, device)
    layers = list(CostVolumes(model).layers)
    torch.manual_seed(cfg.RNG_SEED)
    untrained = load_model(cfg, None, device)
    report = {"checkpoint": args.checkpoint, "probe_split": probe_truth, "test_split": test_truth,
              "chance_direction": 100 * CHANCE, "layers": layers,
              "trained": readings(cfg, model, probe, test, layers, device),
              "untrained": readings(cfg, untrained, probe, test, layers, device)}
    if args.baseline_cfg:
        base_cfg = load_config(args.baseline_cfg, args.opts)
        base = load_model(base_cfg, args.baseline_checkpoint, device)
        report["global_twin"] = readings(base_cfg, base, probe, test, layers, device, ("input",))
    logger.info("linear probe of the true displacement of object tokens (fit on %d probe videos, seed %d; scored "
                "on %d test videos): direction within 45 deg (chance %.0f%%) / end-point error px",
                len(probe[0]), seed, len(test[0]), 100 * CHANCE)
    logger.info(f"{'layer':<10} {'reading':<34} {'direction (%)':>13} {'EPE (px)':>9} {'tokens':>7}")
    for name in layers:
        for model_name in ("trained", "untrained", "global_twin"):
            for reading, s in report.get(model_name, {}).get(name, {}).items():
                logger.info(f"{name:<10} {reading + ', ' + model_name:<34} {s['direction']:>13.1f} {s['epe']:>9.2f} "
                            f"{s['tokens']:>7d}")
    if not args.no_knockouts:
        report["knockouts_top1"] = knockout_top1(cfg, model, device)
        logger.info("multi-view test top-1 with knock-outs: " + ", ".join(
            f"{k} {v:.1f}%" for k, v in report["knockouts_top1"].items()))
    run_dir = os.path.dirname(os.path.dirname(os.path.abspath(args.checkpoint)))
    if args.along_training:
        curve = dict(validation_curve(run_dir))
        report["along_training"] = []
        for path in sorted(glob.glob(os.path.join(os.path.dirname(args.checkpoint), "checkpoint_epoch_*.pyth"))):
            epoch = int(re.search(r"(\d+)\.pyth$", path).group(1))
            cost = readings(cfg, load_model(cfg, path, device), probe, test, layers, device, ("cost",))
            report["along_training"].append({"epoch": epoch, "val_top1": curve.get(epoch),
                                             **{n: cost[n]["cost"]["direction"] for n in layers}})
            logger.info(f"epoch {epoch:>3}: val top-1 {curve.get(epoch, float('nan')):5.1f}%, cost-volume probe "
                        + ", ".join(f"{n} {cost[n]['cost']['direction']:.1f}%" for n in layers))
    out = args.out or run_dir
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "probe_motion.json"), "w") as f:
        json.dump(report, f, indent=1)
    logger.info("wrote %s", os.path.join(out, "probe_motion.json"))
    return report


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    logging.getLogger("slowfast").setLevel(logging.WARNING)  # the loaders' per-video lines
    exit_on_user_error(main, also=(ValueError, FileNotFoundError))()
