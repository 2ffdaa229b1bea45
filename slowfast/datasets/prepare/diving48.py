"""Diving48 (V2 annotations) as its site ships it: `Diving48_V2_{train,test}.json` (lists of {"vid_name",
"label", "start_frame", "end_frame"}) and the videos `<vid_name>.mp4` (the `rgb` folder) -> `train.csv`,
`val.csv` and `test.csv` in the `kinetics` loader's format (`<path relative to the video folder>,<label>`,
DATA.PATH_LABEL_SEPARATOR ","). No recipe in exp/ trains Diving48; these lists serve configs/kinetics.yaml with
MODEL.NUM_CLASSES 48. Diving48 has one held-out split, so val.csv and test.csv are both its test split. The
expected frame count of a video is end_frame - start_frame."""

import json
import logging
import os

from .common import PrepareError, Summary, require_dir, require_file, write_lines
from .kinetics import VideoRow, check_resize_dirs, write_video_lists

logger = logging.getLogger(__name__)

SPLIT_FILES = {"train": "Diving48_V2_train.json", "test": "Diving48_V2_test.json"}
KEYS = ("vid_name", "label", "start_frame", "end_frame")


def read_split(path: str) -> list[VideoRow]:
    try:
        with open(path) as f:
            entries = json.load(f)
    except json.JSONDecodeError as e:
        raise PrepareError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    if not isinstance(entries, list) or not entries:
        raise PrepareError(f"{path}: expected a non-empty JSON list of {{{', '.join(KEYS)}}} objects")
    rows = []
    for i, entry in enumerate(entries):
        where = f"{path}:#{i}"
        if not isinstance(entry, dict) or "vid_name" not in entry or "label" not in entry:
            raise PrepareError(f"{where}: expected an object with {', '.join(KEYS)}, got {entry!r}")
        label = entry["label"]
        if not isinstance(label, int) or label < 0:
            raise PrepareError(f"{where}: label {label!r} is not a class index (an integer >= 0)")
        start, end = entry.get("start_frame"), entry.get("end_frame")
        frames = end - start if isinstance(start, int) and isinstance(end, int) and end > start else None
        rows.append(VideoRow(str(entry["vid_name"]), label, where, frames=frames))
    return rows


def prepare_diving48(videos_dir: str, annotations_dir: str, out_dir: str, short_side: int = 0,
                     resized_dir: str | None = None, crf: int = 23, probe: bool = True, workers: int = 1,
                     min_frames: int = 1, max_deviation: float = 0.1) -> list[Summary]:
    """Write `out_dir/{train,val,test}.csv` (val and test from Diving48_V2_test.json)."""
    require_dir(videos_dir, "the video folder (rgb/ of the download)", "--videos")
    resized_dir = check_resize_dirs(videos_dir, short_side, resized_dir, out_dir)
    train = read_split(require_file(os.path.join(annotations_dir, SPLIT_FILES["train"]), "the train split",
                                    "--annotations"))
    test = read_split(require_file(os.path.join(annotations_dir, SPLIT_FILES["test"]), "the test split",
                                   "--annotations"))
    num_classes = max(r.label for r in train) + 1
    for row in test:
        if row.label >= num_classes:
            raise PrepareError(f"{row.where}: label {row.label} is not among the {num_classes} classes of "
                               f"{SPLIT_FILES['train']}")
    os.makedirs(out_dir, exist_ok=True)
    summaries = write_video_lists("diving48", {"train": train, "val": test}, videos_dir, out_dir, short_side,
                                  resized_dir, crf, probe, workers, min_frames, max_deviation)
    val, test_csv = os.path.join(out_dir, "val.csv"), os.path.join(out_dir, "test.csv")
    with open(val) as f:
        lines = f.read().splitlines()
    logger.info("%s %s (= val.csv, Diving48's one held-out split)",
                "wrote" if write_lines(test_csv, lines) else "unchanged", test_csv)
    logger.info("diving48: MODEL.NUM_CLASSES %d; DATA_DIR=%s VIDEO_DIR=%s", num_classes, out_dir,
                resized_dir or videos_dir)
    return summaries
