"""The data half of the pre-flight check (`slowfast.engine.preflight`): does a split's list parse, is every
video it names on disk, and do a few of them decode? Nothing is decoded beyond that sample.

The full pass only stats: a frame folder (`sth`) is present when its first and last frame files are
(`DATA.IMAGE_TEMPLATE` of 1 and of the list's `num_frames`), a video when its file is. That is two stat
calls per `sth` video, cheap enough for a 220k-video list (see tests/test_tools_check_data.py). The sample
(`samples` videos, evenly spaced over the present ones) goes through the same decoders the loaders use:
`read_frame_files` for frames, `open_video` with DATA.DECODING_BACKEND for videos.
"""

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from iopath.common.file_io import g_pathmgr

from .build import DATASET_REGISTRY, _key
from .decoder import DecodeError, open_video, read_frame_files
from .lists import ListFormatError, VideoRecord
from .motion_stream import read_dataset_info, videos_per_epoch
from .sth import Sth
from .video_dataset import VideoDataset

# Missing videos of one list named one by one; the rest are counted.
MAX_LISTED = 20
# The stat pass: list entries per chunk; seconds per entry above which the file system counts as slow and the
# chunks after the first are statted in STAT_THREADS threads (see `_stat_pass`).
_STAT_CHUNK = 4096
SLOW_STAT_S = 50e-6
STAT_THREADS = 16


@dataclass(frozen=True)
class Problem:
    """One thing that stops the run: where (`list_file:line`, a file, or a config key), what is wrong and
    what was expected, and the config key that fixes it (empty: fix the named file itself)."""

    where: str
    message: str
    key: str = ""


@dataclass
class SplitCheck:
    """What the check found for one split: its dataset, list file, number of videos, problems."""

    split: str
    dataset: str
    list_file: str = ""
    videos: int = 0
    decoded: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        if self.dataset == "motion_stream" and self.split == "train":
            return f"{self.split}: motion_stream renders {self.videos} videos per epoch"
        return (f"{self.split}: {self.videos} videos in {self.list_file}, all present, "
                f"{self.decoded} decoded")


def dataset_name(cfg, split: str) -> str:
    """The dataset `split` is read with: TEST.DATASET for "test", TRAIN.DATASET otherwise."""
    return cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET


def data_kind(name: str) -> str:
    """How dataset `name` keeps its videos on disk: "frames" (folders of frame files), "videos" (files), or
    "rendered" (motion_stream: a dataset folder whose lists name paths inside it); "" for an unknown name."""
    if _key(name) == _key("motion_stream"):
        return "rendered"
    cls = _dataset_class(name)
    return "" if cls is None else "frames" if issubclass(cls, Sth) else "videos"


def _dataset_class(name: str) -> type[VideoDataset] | None:
    """The VideoDataset class `build_dataset(name, cfg, split)` makes for a listed split, or None for an unknown
    name. `motion_stream` reads val/test as `sth` (its rendered training split: `_check_motion_stream`)."""
    if _key(name) == _key("motion_stream"):
        return Sth
    obj = {_key(n): obj for n, obj in DATASET_REGISTRY}.get(_key(name))
    return obj if isinstance(obj, type) and issubclass(obj, VideoDataset) else None


def check_split(cfg, split: str, samples: int = 3) -> SplitCheck:
    """Check the list, the files and a decoded sample of `split` ("train", "val", "test")."""
    name = dataset_name(cfg, split)
    dataset_key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    check = SplitCheck(split, name)
    if _key(name) == _key("motion_stream") and split == "train":
        _check_motion_stream(cfg, check)
        return check
    cls = _dataset_class(name)
    if cls is None:
        names = sorted(n for n, _ in DATASET_REGISTRY)
        check.problems.append(Problem(dataset_key, f"no dataset named {name!r}; registered: {', '.join(names)}",
                                      dataset_key))
        return check
    prefix = cfg.DATA.PATH_PREFIX
    if prefix and not _exists(prefix):  # reported with or without a list: the user sets both at once
        check.problems.append(Problem("DATA.PATH_PREFIX", f"folder {prefix} does not exist; the listed videos "
                                      f"are looked up under it", "DATA.PATH_PREFIX"))
    try:
        records = cls.split_records(cfg, split)
    except FileNotFoundError as err:
        message = str(err).replace(" (check DATA.PATH_TO_DATA_DIR)", "")
        check.problems.append(Problem(f"{split} list", message, "DATA.PATH_TO_DATA_DIR"))
        return check
    except ListFormatError as err:
        key = "MODEL.NUM_CLASSES" if "MODEL.NUM_CLASSES" in str(err) else ""
        check.problems.append(Problem(f"{split} list", f"{err} (fix the list)" if not key else str(err), key))
        return check
    check.videos = len(records)
    check.list_file = records[0].source.rsplit(":", 1)[0]
    if check.problems:
        return check
    frames = issubclass(cls, Sth)
    present, absent = _stat_pass(records, cfg.DATA.IMAGE_TEMPLATE if frames else None)
    check.problems += _missing_problems(absent, len(records), prefix, frames)
    check.problems += _decode_sample(cfg, present, samples, frames, check)
    return check


def _check_motion_stream(cfg, check: SplitCheck) -> None:
    """motion_stream has no train list: its videos are rendered from the folder's motion_dataset.json."""
    data_dir = cfg.DATA.PATH_TO_DATA_DIR
    try:
        info = read_dataset_info(data_dir)
    except (FileNotFoundError, ValueError, KeyError) as err:
        check.problems.append(Problem("DATA.PATH_TO_DATA_DIR", str(err), "DATA.PATH_TO_DATA_DIR"))
        return
    classes = len(info.get("classes", []))
    if classes != cfg.MODEL.NUM_CLASSES:
        check.problems.append(Problem("MODEL.NUM_CLASSES", f"is {cfg.MODEL.NUM_CLASSES} but the motion dataset in "
                                      f"{data_dir} has {classes} classes", "MODEL.NUM_CLASSES"))
    check.videos = videos_per_epoch(cfg, info)
    if check.videos < 1:
        check.problems.append(Problem("DATA.STREAM_VIDEOS_PER_EPOCH", f"no videos per epoch (the dataset in "
                                      f"{data_dir} was written with no train videos)", "DATA.STREAM_VIDEOS_PER_EPOCH"))


def _exists(path: str) -> bool:
    return g_pathmgr.exists(path) if "://" in path else os.path.exists(path)


def _isfile(path: str) -> bool:
    return g_pathmgr.isfile(path) if "://" in path else os.path.isfile(path)


def _frame_files(record: VideoRecord, template: str) -> tuple[str, str]:
    """The first and last frame files of a frame folder (frames are numbered from 1, as `Sth` reads them)."""
    return os.path.join(record.path, template.format(1)), os.path.join(record.path, template.format(record.num_frames))


def _stat_pass(records: list[VideoRecord], template: str | None) -> tuple[list[VideoRecord], list[tuple]]:
    """(records present, [(record, what is missing)]) in list order: stat only. `template` None: records are
    video files. The first chunk is timed: on a slow (network) file system, where a stat waits a millisecond
    rather than microseconds, the rest run in STAT_THREADS threads that overlap the waits; on a local one
    threads only add GIL hand-offs (3x slower, measured), so they stay sequential."""
    chunks = [records[i:i + _STAT_CHUNK] for i in range(0, len(records), _STAT_CHUNK)] or [[]]
    start = time.perf_counter()
    present, absent = _stat_chunk(chunks[0], template)
    slow = (time.perf_counter() - start) / max(len(chunks[0]), 1) > SLOW_STAT_S
    if slow:
        with ThreadPoolExecutor(STAT_THREADS) as pool:
            results = list(pool.map(lambda chunk: _stat_chunk(chunk, template), chunks[1:]))
    else:
        results = [_stat_chunk(chunk, template) for chunk in chunks[1:]]
    for chunk_present, chunk_absent in results:
        present += chunk_present
        absent += chunk_absent
    return present, absent


def _stat_chunk(records: list[VideoRecord], template: str | None) -> tuple[list[VideoRecord], list[tuple]]:
    present, absent = [], []
    for record in records:
        if template is None:
            if _isfile(record.path):
                present.append(record)
            else:
                absent.append((record, f"video {record.path} does not exist"))
            continue
        first, last = _frame_files(record, template)
        if _isfile(first) and _isfile(last):
            present.append(record)
        elif not _exists(record.path):
            absent.append((record, f"frame folder {record.path} does not exist"))
        else:
            gone = os.path.basename(first if not _isfile(first) else last)
            absent.append((record, f"frame folder {record.path} has no {gone} (the list says {record.num_frames} "
                                   f"frames, named DATA.IMAGE_TEMPLATE)"))
    return present, absent


def _missing_problems(absent: list[tuple], total: int, prefix: str, frames: bool) -> list[Problem]:
    if not absent:
        return []
    what = "frame folders" if frames else "videos"
    problems = [Problem(r.source, message, "DATA.PATH_PREFIX") for r, message in absent[:MAX_LISTED]]
    if len(absent) > MAX_LISTED:
        first, last = absent[MAX_LISTED][0], absent[-1][0]
        problems.append(Problem(first.source.rsplit(":", 1)[0], f"and {len(absent) - MAX_LISTED} more missing "
                                f"{what} (lines {first.source.rsplit(':', 1)[1]} to {last.source.rsplit(':', 1)[1]})",
                                "DATA.PATH_PREFIX"))
    if len(absent) == total:
        where = prefix or "the paths as listed"
        problems.append(Problem("DATA.PATH_PREFIX", f"none of the {total} listed {what} exist under {where}: "
                                f"is it the folder holding them?", "DATA.PATH_PREFIX"))
    return problems


def _decode_sample(cfg, present: list[VideoRecord], samples: int, frames: bool, check: SplitCheck) -> list[Problem]:
    """Decode the first, middle and last frame of `samples` present videos, evenly spaced over the list."""
    if not present or samples < 1:
        return []
    step = max(1, len(present) // samples)
    problems = []
    for record in present[::step][:samples]:
        try:
            if frames:
                first, last = _frame_files(record, cfg.DATA.IMAGE_TEMPLATE)
                middle = os.path.join(record.path, cfg.DATA.IMAGE_TEMPLATE.format(record.num_frames // 2 + 1))
                read_frame_files([first, middle, last])
            else:
                video = open_video(record.path, cfg.DATA.DECODING_BACKEND)
                try:
                    n = video.num_frames
                    if n < 1:
                        raise DecodeError(f"{record.path}: no frames")
                    video.get_frames([0, n // 2, n - 1])
                finally:
                    video.close()
            check.decoded += 1
        except (DecodeError, OSError, RuntimeError, ValueError) as err:  # whatever a decoder says of a bad file
            backend = "" if frames else f" with DATA.DECODING_BACKEND {cfg.DATA.DECODING_BACKEND}"
            problems.append(Problem(record.source, f"cannot be decoded{backend}: {err}"))
    return problems
