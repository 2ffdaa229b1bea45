"""Top-5 classes of any video files with a trained model, from the config's multi-view test.

    python tools/predict.py --cfg exp/motion_emim_tiny/config.yaml --checkpoint CKPT [--labels classes.txt]
        [--json] [--device cpu|cuda] VIDEO [VIDEO ...] [--opts KEY VALUE ...]

Each video is decoded with DATA.DECODING_BACKEND and scored on the config's test views
(TEST.NUM_ENSEMBLE_VIEWS clips x TEST.NUM_SPATIAL_CROPS crops, the test loader's own sampling and
transform), the views ensembled as the evaluator does (DATA.ENSEMBLE_METHOD). One line per video on
stdout: `VIDEO<TAB>label prob<TAB>...` (5 best, best first), or with --json one JSON object per line.
Probabilities: softmax of the mean logit over the views (sum ensembling) or of the max logit (max).
A video that cannot be read is reported on stderr and the others still run; the exit status is then 1.
"""

import argparse
import json
import logging
import sys

import torch

from slowfast.config import exit_on_user_error, load_config
from slowfast.datasets import DecodeError
from slowfast.engine.inference import load_labels, load_model, predict_video

logger = logging.getLogger("predict")


def format_line(prediction, labels: list[str], as_json: bool) -> str:
    """One output line for a `Prediction`."""
    top = prediction.top(5)
    if as_json:
        return json.dumps({"video": prediction.path, "views": prediction.views,
                           "top5": [{"class": c, "label": labels[c], "probability": round(p, 6),
                                     "score": float(prediction.scores[c])} for c, p in top]})
    return "\t".join([prediction.path] + [f"{labels[c]} {p:.4f}" for c, p in top])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", required=True, help="config the checkpoint was trained with")
    parser.add_argument("--checkpoint", required=True, help="engine checkpoint or state dict of that model")
    parser.add_argument("--labels", help="class names, one per line (default: the config's data folder)")
    parser.add_argument("--json", action="store_true", help="one JSON object per video")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("videos", nargs="+", help="video files (any container decord/PyAV read)")
    parser.add_argument("--opts", nargs=argparse.REMAINDER, default=[], help="KEY VALUE config overrides (last)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    cfg = load_config(args.cfg, args.opts)
    labels = load_labels(args.labels, cfg)
    device = torch.device(args.device)
    model = load_model(cfg, args.checkpoint, device)
    failed = 0
    for path in args.videos:
        try:
            prediction = predict_video(model, cfg, path, device)
        except (DecodeError, FileNotFoundError) as err:
            logger.error("%s", err)
            failed += 1
            continue
        print(format_line(prediction, labels, args.json), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(exit_on_user_error(main, also=(ValueError, FileNotFoundError))())
