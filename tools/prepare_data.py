"""From the files a dataset officially ships to the lists (and frames) the recipes in exp/ read (docs/datasets.md).

    python tools/prepare_data.py sthv1 --frames DIR --annotations DIR --out DATA_DIR
    python tools/prepare_data.py sthv2 --videos DIR --annotations DIR --out DATA_DIR [--fps 30 --quality 95]
    python tools/prepare_data.py kinetics --videos DIR --annotations DIR --out DATA_DIR [--short-side 320]
    python tools/prepare_data.py diving48 --videos DIR --annotations DIR --out DATA_DIR

Every step runs over --workers processes with a progress bar, and is resumable and idempotent: frame folders and
resized videos are written under a temporary name and renamed when complete (a finished one is skipped, an
interrupted one redone; Ctrl-C stops at once), lists are written through a temporary file and only when they
change; one run at a time per --out. It ends with a summary per step (written, skipped, unreadable, missing, frame
counts out of range), every problem named in DATA_DIR/prepare_<dataset>_report.txt. Input that cannot be read as
the official format: one `error:` line naming the file (and line) and what to pass, exit status 2.
"""

import argparse
import contextlib
import fcntl
import logging
import os
import time

from slowfast.datasets.prepare import (
    PrepareError,
    prepare_diving48,
    prepare_kinetics,
    prepare_sthv1,
    prepare_sthv2,
    write_report,
)

logger = logging.getLogger("prepare_data")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def _common(parser: argparse.ArgumentParser, frames_from: str) -> None:
    parser.add_argument("--annotations", required=True,
                        help="folder of the official split files, under any name their publishers shipped them "
                             "with (docs/datasets.md)")
    parser.add_argument("--out", required=True, help="folder the lists are written to (the recipe's DATA_DIR)")
    parser.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1,
                        help="processes (default: all CPUs)")
    parser.add_argument("--min-frames", type=int, default=16,
                        help="report videos with fewer frames (default 16, one clip of the 16-frame recipes; "
                             "shorter videos are still listed, their frames repeat)")
    parser.add_argument("--max-deviation", type=float, default=0.1,
                        help=f"report videos whose frame count differs from the one {frames_from} by more than "
                             "this fraction (default 0.1)")


def _video_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--videos", required=True, help="folder of the videos (searched recursively by file name)")
    parser.add_argument("--short-side", type=int, default=0,
                        help="re-encode the listed videos with this shorter side (default 0: use them as they are)")
    parser.add_argument("--resized-videos", help="where resized videos go, same relative paths "
                                                 "(default OUT/videos_short<SIDE>); then VIDEO_DIR of the recipe")
    parser.add_argument("--crf", type=int, default=23, help="quality of resized videos (x264/VP9 CRF, default 23)")
    parser.add_argument("--no-probe", action="store_true",
                        help="do not open every video (no unreadable or frame-count report; faster)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="dataset", required=True, metavar="{sthv1,sthv2,kinetics,diving48}")

    p = sub.add_parser("sthv1", help="Something-Something V1: frame folders + csv -> somethingv1_rgb_{train,val}.txt")
    p.add_argument("--frames", required=True,
                   help="the extracted 20BN folder (one sub-folder of 00001.jpg ... per video); FRAMES_DIR")
    _common(p, "nothing gives (only --min-frames applies)")

    p = sub.add_parser("sthv2", help="Something-Something V2: webm + json -> frames, somethingv2_rgb_{train,val}.txt")
    p.add_argument("--videos", required=True, help="folder of <id>.webm (20bn-something-something-v2)")
    p.add_argument("--frames-dir", help="where frame folders <id>/img_00001.jpg go (default OUT/frames); FRAMES_DIR")
    p.add_argument("--fps", type=float, default=30,
                   help="frame rate of the extracted frames (default 30, as UniFormer and mmaction; 0 = every "
                        "decoded frame, the source rate)")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality 1-95 (default 95)")
    p.add_argument("--short-side", type=int, default=0, help="resize frames to this shorter side (default 0: kept)")
    _common(p, "the video's duration x --fps gives")

    p = sub.add_parser("kinetics", help="Kinetics: videos + {train,validate,test}.csv -> train/val/test.csv")
    _video_options(p)
    _common(p, "(time_end - time_start) x frame rate gives")

    p = sub.add_parser("diving48", help="Diving48: videos + Diving48_V2_{train,test}.json (or V1) -> "
                                        "train/val/test.csv")
    _video_options(p)
    _common(p, "end_frame - start_frame gives")
    return parser


def _make_dir(path: str) -> None:
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise PrepareError(f"{path}: cannot create the --out folder ({e.strerror})") from None


@contextlib.contextmanager
def _lock(out: str):
    """One run at a time per --out: two runs would remove each other's temporary folders."""
    path = os.path.join(out, ".prepare_data.lock")
    with open(path, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise PrepareError(f"{path}: another tools/prepare_data.py run is writing to this --out; wait for it "
                               f"or stop it") from None
        yield


def run(args: argparse.Namespace) -> list:
    common = {"workers": args.workers, "min_frames": args.min_frames, "max_deviation": args.max_deviation}
    if args.dataset == "sthv1":
        common.pop("max_deviation")
        return prepare_sthv1(args.frames, args.annotations, args.out, **common)
    if args.dataset == "sthv2":
        if not 1 <= args.quality <= 95:
            raise PrepareError(f"--quality {args.quality}: expected 1..95")
        return prepare_sthv2(args.videos, args.annotations, args.out, args.frames_dir, args.fps, args.short_side,
                             args.quality, **common)
    prepare = {"kinetics": prepare_kinetics, "diving48": prepare_diving48}[args.dataset]
    return prepare(args.videos, args.annotations, args.out, args.short_side, args.resized_videos, args.crf,
                   not args.no_probe, **common)


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s %(levelname)s %(name)s] %(message)s")
    start = time.perf_counter()
    try:
        _make_dir(args.out)
        with _lock(args.out):
            summaries = run(args)
    except PrepareError as e:
        parser.exit(2, f"error: {e}\n")
    except KeyboardInterrupt:
        parser.exit(130, "interrupted: finished folders and videos are kept; run the same command again to resume\n")
    for summary in summaries:
        summary.log()
    report = os.path.join(args.out, f"prepare_{args.dataset}_report.txt")
    write_report(report, summaries)
    problems = sum(len(items) for s in summaries for _, items in s.problems())
    logger.info("%s done in %.1f s; %d problem(s)%s", args.dataset, time.perf_counter() - start, problems,
                f", all listed in {report}" if problems else "")


if __name__ == "__main__":
    main()
