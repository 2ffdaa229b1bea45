"""Something-Something V1 as 20BN ships it: one folder of frames `{:05d}.jpg` (1-based) per video, and
`something-something-v1-labels.csv` (one class name a line; the class index is the line's position, 0-based) with
`something-something-v1-{train,validation}.csv` (`<id>;<class name>` a line) -> `somethingv1_rgb_{train,val}.txt`,
`<folder> <num_frames> <label>` a line, as `sth` with configs/sthv1.yaml reads them. Nothing is copied: the lists
point into the frame folder (DATA.PATH_PREFIX, FRAMES_DIR of exp/*sthv1*/run.sh)."""

import logging
import os

from ..lists import LineProblems
from .common import (
    PrepareError,
    Summary,
    check_frame_count,
    count_frames,
    require_dir,
    require_file,
    run_parallel,
    write_lines,
)

logger = logging.getLogger(__name__)

LABELS_FILE = "something-something-v1-labels.csv"
SPLIT_FILES = {"train": "something-something-v1-train.csv", "val": "something-something-v1-validation.csv"}
LIST_TEMPLATE = "somethingv1_rgb_{}.txt"  # configs/sthv1.yaml DATA.LABEL_PATH_TEMPLATE
IMAGE_TEMPLATE = "{:05d}.jpg"  # configs/sthv1.yaml DATA.IMAGE_TEMPLATE


def read_labels(path: str) -> dict[str, int]:
    """{class name: index}, the index being the position among the file's non-empty lines."""
    names, problems = {}, LineProblems(path)
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            name = line.strip()
            if not name:
                continue
            if ";" in name:
                problems.add(f"{path}:{line_no}", f"expected one class name a line, got {name!r} (is this a split "
                                                  f"file? pass the {LABELS_FILE} of the download)")
            elif name in names:
                problems.add(f"{path}:{line_no}", f"class {name!r} listed twice")
            else:
                names[name] = len(names)
    problems.check(PrepareError)
    if not names:
        raise PrepareError(f"{path}: no class names")
    return names


def read_split(path: str, labels: dict[str, int], labels_path: str) -> list[tuple[str, int, str]]:
    """[(video id, label, "file:line")] of a split file `<id>;<class name>`."""
    rows, problems = [], LineProblems(path)
    with open(path) as f:
        for line_no, line in enumerate(f, 1):
            line, where = line.strip(), f"{path}:{line_no}"
            if not line:
                continue
            fields = line.split(";", 1)
            if len(fields) != 2 or not fields[0].strip():
                problems.add(where, f"expected '<id>;<class name>', got {line!r}")
            elif fields[1].strip() not in labels:
                problems.add(where, f"class {fields[1].strip()!r} is not in {labels_path}")
            else:
                rows.append((fields[0].strip(), labels[fields[1].strip()], where))
    problems.check(PrepareError)
    if not rows:
        raise PrepareError(f"{path}: no videos")
    return rows


def _count_task(task: tuple[str, str, str]) -> tuple[int, int]:
    folder, template, _ = task
    return count_frames(folder, template)


def list_frame_folders(rows: list[tuple[str, int, str]], frames_dir: str, template: str, workers: int,
                       min_frames: int, step: str) -> tuple[list[str], Summary]:
    """The `<folder> <num_frames> <label>` lines of `rows` whose folder has frames (counted in parallel), and
    what was wrong with the others."""
    summary = Summary(step)
    tasks = [(os.path.join(frames_dir, video_id), template, where) for video_id, _, where in rows]
    lines = []
    for (video_id, label, where), (n, files) in zip(rows, run_parallel(_count_task, tasks, workers, step)):
        folder = os.path.join(frames_dir, video_id)
        if n == 0:
            if not os.path.isdir(folder):
                summary.missing.append((folder, f"no such folder (listed at {where})"))
            else:
                summary.unreadable.append((folder, f"no frame {template.format(1)} (listed at {where})"))
            continue
        problem = check_frame_count(n, None, min_frames, 0.0)
        if files > n:
            problem = (f"frames 1..{n} consecutive but {files} files named like frames (the loader reads 1..{n}"
                       f"{'; ' + problem if problem else ''})")
        if problem:
            summary.out_of_range.append((folder, problem))
        lines.append(f"{video_id} {n} {label}")
        summary.written += 1
    return lines, summary


def prepare_sthv1(frames_dir: str, annotations_dir: str, out_dir: str, workers: int = 1,
                  min_frames: int = 1) -> list[Summary]:
    """Write `out_dir/somethingv1_rgb_{train,val}.txt` (videos without frames are left out and named)."""
    require_dir(frames_dir, "the 20BN frame folder (one sub-folder of {:05d}.jpg per video)", "--frames")
    labels_path = require_file(os.path.join(annotations_dir, LABELS_FILE), "the class list", "--annotations")
    labels = read_labels(labels_path)
    splits = {split: read_split(require_file(os.path.join(annotations_dir, name), f"the {split} split",
                                             "--annotations"), labels, labels_path)
              for split, name in SPLIT_FILES.items()}
    logger.info("sthv1: %d classes, %s", len(labels), ", ".join(f"{len(r)} {s} videos" for s, r in splits.items()))
    summaries = []
    for split, rows in splits.items():
        lines, summary = list_frame_folders(rows, frames_dir, IMAGE_TEMPLATE, workers, min_frames,
                                            f"sthv1 {split} list")
        if not lines:
            example = os.path.join(frames_dir, rows[0][0], IMAGE_TEMPLATE.format(1))
            raise PrepareError(f"{frames_dir}: none of the {len(rows)} videos of {SPLIT_FILES[split]} has frames "
                               f"there (e.g. {example}); pass the folder holding one sub-folder per video as --frames")
        path = os.path.join(out_dir, LIST_TEMPLATE.format(split))
        logger.info("%s %s (%d videos)", "wrote" if write_lines(path, lines) else "unchanged", path, len(lines))
        summaries.append(summary)
    return summaries
