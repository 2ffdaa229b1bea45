"""Write the motion dataset (slowfast/datasets/motion_synth.py) in both formats, deterministic from a seed.

    python tools/make_motion_dataset.py --out DIR [--seed 0 --num-train 400 --num-val 80 --num-test 80
                                                   --frames 16 --size 96 --fps 30 --classes 8 --tier still]

Also writes motion_dataset.json (the generator's parameters, read by TRAIN.DATASET motion_stream) and
motion_<split>.json (each video's ground-truth motion).

Read it back with DATA.PATH_TO_DATA_DIR DIR, DATA.PATH_PREFIX DIR, DATA.PATH_LABEL_SEPARATOR " ",
MODEL.NUM_CLASSES <classes>, DATA.RANDOM_FLIP False, and either
  TRAIN.DATASET motion_stream  TEST.DATASET sth  (training renders fresh videos; val/test read the files)
or
  TRAIN.DATASET sth  TEST.DATASET sth  DATA.LABEL_PATH_TEMPLATE motion_frames_{}.txt  DATA.IMAGE_TEMPLATE {:05d}.jpg
or
  TRAIN.DATASET kinetics  TEST.DATASET kinetics  DATA.TARGET_FPS <fps>  (NUM_FRAMES x SAMPLING_RATE <= frames)
"""

import argparse
import logging
import time

from slowfast.datasets.motion_synth import CLASS_NAMES, TIERS, write_motion_dataset

logger = logging.getLogger("make_motion_dataset")


def _classes(text: str) -> tuple[str, ...]:
    """"N" = the first N classes; else comma-separated names."""
    if text.isdigit():
        n = int(text)
        if not 1 <= n <= len(CLASS_NAMES):
            raise argparse.ArgumentTypeError(f"--classes N needs 1 <= N <= {len(CLASS_NAMES)}")
        return CLASS_NAMES[:n]
    names = tuple(c.strip() for c in text.split(","))
    if any(c not in CLASS_NAMES for c in names):
        raise argparse.ArgumentTypeError(f"--classes: names among {', '.join(CLASS_NAMES)}")
    return names


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="output folder (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-train", type=int, default=400, help="videos in the train split")
    parser.add_argument("--num-val", type=int, default=80)
    parser.add_argument("--num-test", type=int, default=80)
    parser.add_argument("--frames", type=int, default=16, help="frames per video")
    parser.add_argument("--size", type=int, default=96, help="frame height = width in pixels (even)")
    parser.add_argument("--fps", type=int, default=30, help="frame rate of the mp4 videos")
    parser.add_argument("--classes", type=_classes, default=CLASS_NAMES,
                        help=f"N (the first N of {', '.join(CLASS_NAMES)}) or comma-separated names")
    parser.add_argument("--tier", choices=TIERS, default="still",
                        help="difficulty: still camera, or a camera pan (classes = motion relative to the background)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(levelname)s %(name)s] %(message)s")
    start = time.perf_counter()
    counts = write_motion_dataset(args.out, args.seed, args.num_train, args.num_val, args.num_test, args.frames,
                                  args.size, args.classes, args.fps, tier=args.tier)
    logger.info("wrote %s (%d classes: %s) to %s in %.1f s", counts, len(args.classes), ", ".join(args.classes),
                args.out, time.perf_counter() - start)


if __name__ == "__main__":
    main()
