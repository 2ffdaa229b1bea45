"""Diving48 as its site ships it: the annotations `Diving48_V2_{train,test}.json` (V2, the cleaned labels; the V1
release named them `Diving48_{train,test}.json`), lists of {"vid_name", "label", "start_frame", "end_frame"}, with
`Diving48_vocab.json` (the 48 classes, each as its [takeoff, movement, twist, flight] words), and the videos
`<vid_name>.mp4` (the `rgb` folder) -> `train.csv`, `val.csv` and `test.csv` in the `kinetics` loader's format
(`<path relative to the video folder>,<label>`, DATA.PATH_LABEL_SEPARATOR ","), read as the `diving48` dataset by
exp/emim_s16_diving48_k400 (configs/diving48.yaml). Diving48 has one held-out split, so val.csv and test.csv are
both its test split. The expected frame count of a video is end_frame - start_frame."""

import json
import logging
import os

from ..lists import BadLine, LineProblems
from .common import PrepareError, Summary, find_file, require_dir, write_lines
from .kinetics import VideoRow, check_resize_dirs, write_video_lists

logger = logging.getLogger(__name__)

# Each split's annotations under the V2 name, then the V1 name.
SPLIT_FILES = {"train": ("Diving48_V2_train.json", "Diving48_train.json"),
               "test": ("Diving48_V2_test.json", "Diving48_test.json")}
VOCAB_FILE = "Diving48_vocab.json"
KEYS = ("vid_name", "label", "start_frame", "end_frame")


def _load(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise PrepareError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None


def read_split(path: str) -> list[VideoRow]:
    """The videos of a split file; every malformed entry is named in one PrepareError."""
    entries = _load(path)
    if not isinstance(entries, list) or not entries:
        raise PrepareError(f"{path}: expected a non-empty JSON list of {{{', '.join(KEYS)}}} objects")
    rows, problems = [], LineProblems(path, "entries")
    for i, entry in enumerate(entries):
        where = f"{path}:#{i}"
        try:
            if not isinstance(entry, dict) or "vid_name" not in entry or "label" not in entry:
                raise BadLine(f"expected an object with {', '.join(KEYS)}, got {entry!r}")
            label = entry["label"]
            if not isinstance(label, int) or label < 0:
                raise BadLine(f"label {label!r} is not a class index (an integer >= 0)")
        except BadLine as e:
            problems.add(where, str(e))
            continue
        start, end = entry.get("start_frame"), entry.get("end_frame")
        frames = end - start if isinstance(start, int) and isinstance(end, int) and end > start else None
        rows.append(VideoRow(str(entry["vid_name"]), label, where, frames=frames))
    problems.check(PrepareError)
    return rows


def _num_classes(annotations_dir: str, train: list[VideoRow], train_path: str) -> tuple[int, str]:
    """(classes, the file that says so): the length of Diving48_vocab.json where the download has it, else the
    largest train label + 1."""
    path = os.path.join(annotations_dir, VOCAB_FILE)
    if not os.path.isfile(path):
        return max(r.label for r in train) + 1, os.path.basename(train_path)
    vocab = _load(path)
    if not isinstance(vocab, list) or not vocab:
        raise PrepareError(f"{path}: expected a non-empty JSON list of classes ([takeoff, movement, twist, flight])")
    return len(vocab), VOCAB_FILE


def prepare_diving48(videos_dir: str, annotations_dir: str, out_dir: str, short_side: int = 0,
                     resized_dir: str | None = None, crf: int = 23, probe: bool = True, workers: int = 1,
                     min_frames: int = 1, max_deviation: float = 0.1) -> list[Summary]:
    """Write `out_dir/{train,val,test}.csv` (val and test from the test split), from the V2 annotations, else the
    V1 ones (a note says so)."""
    require_dir(videos_dir, "the video folder (rgb/ of the download)", "--videos")
    resized_dir = check_resize_dirs(videos_dir, short_side, resized_dir, out_dir)
    paths = {split: find_file([os.path.join(annotations_dir, name) for name in names], f"the {split} split",
                              "--annotations") for split, names in SPLIT_FILES.items()}
    train, test = read_split(paths["train"]), read_split(paths["test"])
    num_classes, classes_file = _num_classes(annotations_dir, train, paths["train"])
    for split, rows in (("train", train), ("test", test)):
        problems = LineProblems(paths[split], "entries")
        for row in rows:
            if row.label >= num_classes:
                problems.add(row.where, f"label {row.label} is not among the {num_classes} classes of {classes_file}")
        problems.check(PrepareError)
    os.makedirs(out_dir, exist_ok=True)
    summaries = write_video_lists("diving48", {"train": train, "val": test}, videos_dir, out_dir, short_side,
                                  resized_dir, crf, probe, workers, min_frames, max_deviation)
    val, test_csv = os.path.join(out_dir, "val.csv"), os.path.join(out_dir, "test.csv")
    with open(val) as f:
        lines = f.read().splitlines()
    logger.info("%s %s (= val.csv, Diving48's one held-out split)",
                "wrote" if write_lines(test_csv, lines) else "unchanged", test_csv)
    if paths["train"].endswith(SPLIT_FILES["train"][1]):
        summaries[-1].notes.append(f"read the V1 annotations ({paths['train']}); Diving48's V2 files "
                                   f"({', '.join(names[0] for names in SPLIT_FILES.values())}) correct their labels")
    logger.info("diving48: MODEL.NUM_CLASSES %d; DATA_DIR=%s VIDEO_DIR=%s", num_classes, out_dir,
                resized_dir or videos_dir)
    return summaries
