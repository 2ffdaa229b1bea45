"""Decoded-and-augmented training clips per second on one CPU core, for Something-Something V2 frame folders
and Kinetics-style mp4, through the recipes' own pipelines; and the cores a target rate needs.

    python tools/bench_data.py [--videos 20] [--splits train test] [--backends decord pyav]
                               [--frames-height 240 --frames-width 427 --frames-count 90]
                               [--video-short-sides 320 256] [--video-seconds 10] [--target 200] [--json FILE]

Writes its own data in a temp dir (slowfast/datasets/loader_bench.py): one frame folder of --frames-count
JPEGs at --frames-width x --frames-height (SSv2's 240p, extracted at 30 fps), and one 30 fps H.264 mp4 per
--video-short-sides (16:9). Then times `dataset[0]` --videos times, pinned to one core with one thread as a
DataLoader worker runs, for each split: train = the recipe's augmentation (exp/emim_s16_sthv2_k400: segment
sampling; exp/emim_s16_k400_in1k: dense 16 x 4 sampling; both: random resized crop 224 from 8-100% of the
area, RandAugment rand-m7-n4-mstd0.5-inc1, random erasing 0.25, AUG.NUM_SAMPLE 2 clips per decoded video),
test = one deterministic view. Prints videos and clips per CPU-second of one core (and the wall-clock rate) and
the cores --target clips/s needs (linear scaling assumed).
"""

import argparse
import json
import logging
import sys
import tempfile
from dataclasses import asdict

from slowfast.datasets.loader_bench import bench_frames, bench_videos

logger = logging.getLogger("bench_data")


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=20, help="videos timed per row")
    parser.add_argument("--splits", nargs="+", choices=("train", "test"), default=["train", "test"])
    parser.add_argument("--backends", nargs="+", choices=("decord", "pyav"), default=["decord", "pyav"])
    parser.add_argument("--frames-height", type=int, default=240)
    parser.add_argument("--frames-width", type=int, default=427)
    parser.add_argument("--frames-count", type=int, default=90, help="frames in the folder (3 s at 30 fps)")
    parser.add_argument("--video-short-sides", nargs="+", type=int, default=[320, 256])
    parser.add_argument("--video-seconds", type=int, default=10)
    parser.add_argument("--target", type=float, default=200.0, help="clips/s the cores are counted for")
    parser.add_argument("--json", help="write every row to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    rows = []
    with tempfile.TemporaryDirectory() as root:
        rows += bench_frames(root, args.videos, args.frames_height, args.frames_width, args.frames_count, args.splits)
        for short in args.video_short_sides:
            width = short * 16 // 9 // 2 * 2
            rows += bench_videos(root, args.videos, short, width, args.video_seconds, args.backends, args.splits)
    logger.info("one CPU core, one thread, %d videos per row; videos/s per CPU second (wall clock beside it); "
                "clips/s = videos/s x clips per video", args.videos)
    logger.info("%-13s %-6s %-26s %-7s %9s %7s %11s %8s %10s", "data", "split", "source", "decoder", "videos/s",
                "(wall)", "clips/video", "clips/s", f"cores/{args.target:.0f}")
    for r in rows:
        logger.info("%-13s %-6s %-26s %-7s %9.2f %7.2f %11d %8.2f %10d", r.form, r.split, r.source, r.backend,
                    r.videos_per_s, r.wall_videos_per_s, r.clips_per_video, r.clips_per_s, r.cores_for(args.target))
    out = [{**asdict(r), "clips_per_s": r.clips_per_s, f"cores_for_{args.target:g}": r.cores_for(args.target)}
           for r in rows]
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main()
