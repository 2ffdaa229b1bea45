"""Kinetics (400/600/700) as the official annotations give it: `{train,validate,test}.csv` (`val.csv` for
validate.csv in the CVDF mirror, `kinetics-400_{train,val,test}.csv` as the ActivityNet crawler copied the original
release) with the columns label, youtube_id, time_start, time_end, split (more columns, as the mirror's is_cc, are
ignored), and a folder of videos named `<youtube_id>_<time_start:06d>_<time_end:06d>.<ext>` (flat, per split or
per class: the folder is searched recursively by file stem) -> `train.csv`, `val.csv`, `test.csv` as the
`kinetics` loader reads them with configs/kinetics.yaml (`<path relative to the video folder>,<label>`,
DATA.PATH_LABEL_SEPARATOR ","), the label being the index of the class among the sorted class names of the train
split, written one a line to `classes.txt`. Videos not found or unreadable are left out of the lists and named;
optionally every listed video is re-encoded with a shorter side (`resize_videos`) into a second folder with the
same relative paths.

`VideoRow` and `write_video_lists` are shared with Diving48 (diving48.py)."""

import csv
import logging
import os
from dataclasses import dataclass

from ..lists import BadLine, LineProblems
from .common import (
    PrepareError,
    Summary,
    check_frame_count,
    find_file,
    index_videos,
    probe_videos,
    require_dir,
    resize_videos,
    write_lines,
)

logger = logging.getLogger(__name__)

# The official names of each split's annotations: DeepMind's release names the validation split validate.csv,
# the CVDF mirror (cvdfoundation/kinetics-dataset) val.csv, the ActivityNet crawler's copies of the original
# Kinetics-400 and -600 releases kinetics-<400|600>_<split>.csv.
SPLIT_FILES = {split: (*names, *(f"kinetics-{n}_{short}.csv" for n in (400, 600)))
               for split, short, names in (("train", "train", ("train.csv",)),
                                           ("val", "val", ("validate.csv", "val.csv")),
                                           ("test", "test", ("test.csv",)))}
COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")
SEPARATOR = ","  # configs/uniformer_video.yaml DATA.PATH_LABEL_SEPARATOR
# What to pass when the annotations give no labelled test split (the recipes test on test.csv).
_TEST_ON_VAL = ("test on the validation list with `bash exp/<recipe>/test.sh TEST.SPLIT val`, or put the labelled "
                "test.csv of the CVDF mirror (github.com/cvdfoundation/kinetics-dataset) in --annotations and run "
                "this again")


@dataclass(frozen=True)
class VideoRow:
    """One annotated video: its file stem, class index, "file:line" and, where the annotations say, how long it
    is (seconds, or frames)."""

    stem: str
    label: int
    where: str
    seconds: float | None = None
    frames: int | None = None


def _time(text: str, column: str) -> int:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value.is_integer() or value < 0:
        raise BadLine(f"{column} {text!r} is not a whole number of seconds")
    return int(value)


def read_split(path: str) -> tuple[list[tuple[str, str, int, int, str]], bool]:
    """[(label name or "", youtube_id, time_start, time_end, "file:line")] and whether the file has labels; every
    malformed row is named in one PrepareError."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = header
        lacking = [c for c in COLUMNS[1:4] if c not in header]
        if lacking:
            raise PrepareError(f"{path}:1: missing column(s) {', '.join(lacking)}; expected the official header "
                               f"{','.join(COLUMNS)} (got {','.join(header) or 'an empty file'})")
        labelled = "label" in header
        rows, problems = [], LineProblems(path, "rows")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            try:
                if None in row or any(row.get(c) is None for c in header):
                    raise BadLine(f"expected {len(header)} fields ({','.join(header)})")
                label = row["label"].strip() if labelled else ""
                if labelled and not label:
                    raise BadLine("empty label")
                rows.append((label, row["youtube_id"].strip(), _time(row["time_start"], "time_start"),
                             _time(row["time_end"], "time_end"), where))
            except BadLine as e:
                problems.add(where, str(e))
    problems.check(PrepareError)
    if not rows:
        raise PrepareError(f"{path}: no videos")
    return rows, labelled


def video_stem(youtube_id: str, time_start: int, time_end: int) -> str:
    return f"{youtube_id}_{time_start:06d}_{time_end:06d}"


def write_video_lists(dataset: str, splits: dict[str, list[VideoRow]], videos_dir: str, out_dir: str,
                      short_side: int = 0, resized_dir: str | None = None, crf: int = 23, probe: bool = True,
                      workers: int = 1, min_frames: int = 1, max_deviation: float = 0.1) -> list[Summary]:
    """Find every row's video under `videos_dir`, probe it (unless `probe` is False), resize it into `resized_dir`
    when `short_side` > 0, and write `out_dir/<split>.csv`, `<relative path>,<label>` a line."""
    index, duplicates = index_videos(videos_dir)
    logger.info("%s: %d videos under %s", dataset, len(index), videos_dir)
    for stem, rel in duplicates[:20]:
        logger.warning("%s: %s also at %s; listing %s", dataset, stem, rel, index[stem])
    if not index:
        raise PrepareError(f"{videos_dir}: no video files (.mp4, .mkv, .webm, ...) in it or below; pass the folder "
                           f"the videos were downloaded to as --videos")
    summaries = []
    for split, rows in splits.items():
        summary = Summary(f"{dataset} {split} list")
        found = {}
        for i, row in enumerate(rows):
            if row.stem in index:
                found[i] = index[row.stem]
            else:
                summary.missing.append((row.stem, f"no {row.stem}.* under {videos_dir} (listed at {row.where})"))
        if not found:
            raise PrepareError(f"{videos_dir}: none of the {len(rows)} videos of the {split} split is there (e.g. "
                               f"{rows[0].stem}.mp4); pass the folder the videos were downloaded to as --videos")
        if probe:
            infos = probe_videos({i: os.path.join(videos_dir, rel) for i, rel in found.items()}, workers,
                                 f"{summary.step}: probe")
            for i, info in infos.items():
                row = rows[i]
                if isinstance(info, str):
                    summary.unreadable.append((found.pop(i), f"{info} (listed at {row.where})"))
                    continue
                frames, fps = info
                expected = row.frames if row.frames is not None else (row.seconds * fps if row.seconds else None)
                problem = check_frame_count(frames, expected, min_frames, max_deviation)
                if problem:
                    summary.out_of_range.append((found[i], problem))
        if short_side > 0:
            resized, failed = resize_videos(found, videos_dir, resized_dir, short_side, crf, workers,
                                            f"{dataset} {split} resize to short side {short_side}")
            summaries.append(resized)
            for i in failed:
                found.pop(i)
        lines = [f"{found[i]}{SEPARATOR}{rows[i].label}" for i in sorted(found)]
        summary.written = len(lines)
        path = os.path.join(out_dir, f"{split}.csv")
        logger.info("%s %s (%d videos)", "wrote" if write_lines(path, lines) else "unchanged", path, len(lines))
        summaries.append(summary)
    return summaries


def _check_out_dir(out_dir: str, annotations_dir: str, names: list[str]) -> None:
    """The official split files must not be overwritten by the lists of the same name."""
    if os.path.realpath(out_dir) == os.path.realpath(annotations_dir):
        raise PrepareError(f"{out_dir}: --out is the --annotations folder; the lists would overwrite the official "
                           f"{', '.join(names)}: pass another --out (the DATA_DIR of the recipe)")


def check_resize_dirs(videos_dir: str, short_side: int, resized_dir: str | None, out_dir: str) -> str | None:
    """The folder resized videos go to (default `out_dir/videos_short<short_side>`), never the source folder."""
    if short_side <= 0:
        return None
    resized_dir = resized_dir or os.path.join(out_dir, f"videos_short{short_side}")
    if os.path.realpath(resized_dir) == os.path.realpath(videos_dir):
        raise PrepareError(f"{resized_dir}: --resized-videos is the --videos folder; pass another folder")
    return resized_dir


def prepare_kinetics(videos_dir: str, annotations_dir: str, out_dir: str, short_side: int = 0,
                     resized_dir: str | None = None, crf: int = 23, probe: bool = True, workers: int = 1,
                     min_frames: int = 1, max_deviation: float = 0.1) -> list[Summary]:
    """Write `out_dir/{train,val,test}.csv` and `classes.txt` (test.csv only where the official test split has
    labels, else a note on the last summary says what to pass); the expected frame count of a video is
    (time_end - time_start) x its frame rate."""
    require_dir(videos_dir, "the video folder", "--videos")
    _check_out_dir(out_dir, annotations_dir, [n for names in SPLIT_FILES.values() for n in names])
    resized_dir = check_resize_dirs(videos_dir, short_side, resized_dir, out_dir)
    raw, paths, notes = {}, {}, []
    for split, names in SPLIT_FILES.items():
        candidates = [os.path.join(annotations_dir, name) for name in names]
        if split == "test" and not any(os.path.isfile(p) for p in candidates):
            notes.append(f"no test split in {annotations_dir} (looked for {', '.join(names)}), so no test.csv is "
                         f"written: {_TEST_ON_VAL}")
            continue
        paths[split] = find_file(candidates, f"the official {split} split", "--annotations")
        rows, labelled = read_split(paths[split])
        if not labelled:
            if split != "test":
                raise PrepareError(f"{paths[split]}:1: no label column; expected the official header "
                                   f"{','.join(COLUMNS)}")
            notes.append(f"{paths[split]} has no labels (the original Kinetics-400 release held them back), so no "
                         f"test.csv is written: {_TEST_ON_VAL}")
            continue
        raw[split] = rows
    classes = sorted({label for label, *_ in raw["train"]})
    index = {name: i for i, name in enumerate(classes)}
    splits = {}
    for split, rows in raw.items():
        problems = LineProblems(paths[split], "rows")
        for label, *_, where in rows:
            if label not in index:
                problems.add(where, f"class {label!r} is not among the {len(classes)} classes of "
                                    f"{os.path.basename(paths['train'])}")
        problems.check(PrepareError)
        splits[split] = [VideoRow(video_stem(yid, start, end), index[label], where, seconds=end - start)
                         for label, yid, start, end, where in rows]
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "classes.txt")
    logger.info("kinetics: %d classes; %s %s", len(classes), "wrote" if write_lines(path, classes) else "unchanged",
                path)
    summaries = write_video_lists("kinetics", splits, videos_dir, out_dir, short_side, resized_dir, crf, probe,
                                  workers, min_frames, max_deviation)
    summaries[-1].notes += notes
    logger.info("kinetics: MODEL.NUM_CLASSES %d; DATA_DIR=%s VIDEO_DIR=%s", len(classes), out_dir,
                resized_dir or videos_dir)
    return summaries
