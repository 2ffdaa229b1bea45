"""The data half of the pre-flight check (`slowfast.engine.preflight`): does a split's list parse, is every
video it names on disk, and do a few of them decode? Nothing is decoded beyond that sample.

The check never tests a dataset's name: it asks the class that reads the split (`VideoDataset.STORAGE`,
`entry_problem`, `read_sample`, `source_problems`). The full pass only stats, through `entry_problem`: a frame
folder is present when its first and last frame files are, a video when its file is. That is two stat calls
per frame folder, cheap enough for a 220k-video list (see tests/test_tools_check_data.py). The sample
(`samples` videos, evenly spaced over the present ones) goes through `read_sample`, the decoders the loaders
use. A rendered split (nothing on disk) is checked by its `source_problems` alone.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .build import dataset_class
from .decoder import DecodeError
from .lists import ListFormatError, VideoRecord
from .video_dataset import VideoDataset, exists

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
    storage: str = ""
    list_file: str = ""
    videos: int = 0
    decoded: int = 0
    problems: list[Problem] = field(default_factory=list)

    def summary(self) -> str:
        if self.storage == "rendered":
            return f"{self.split}: {self.dataset} renders {self.videos} videos per epoch"
        return (f"{self.split}: {self.videos} videos in {self.list_file}, all present, "
                f"{self.decoded} decoded")


def dataset_name(cfg, split: str) -> str:
    """The dataset `split` is read with: TEST.DATASET for "test", TRAIN.DATASET otherwise."""
    return cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET


def data_kind(name: str) -> str:
    """How dataset `name` keeps its videos (its class's STORAGE: "frames", "videos", "rendered"); "" for an
    unknown name."""
    try:
        return dataset_class(name).STORAGE
    except KeyError:
        return ""


def check_split(cfg, split: str, samples: int = 3) -> SplitCheck:
    """Check the list, the files and a decoded sample of `split` ("train", "val", "test")."""
    name = dataset_name(cfg, split)
    dataset_key = "TEST.DATASET" if split == "test" else "TRAIN.DATASET"
    check = SplitCheck(split, name)
    try:
        cls = dataset_class(name).for_split(split)
    except KeyError as err:
        check.problems.append(Problem(dataset_key, err.args[0], dataset_key))
        return check
    check.storage = cls.STORAGE
    check.problems += [Problem(key, message, key) for key, message in cls.source_problems(cfg)]
    prefix = cfg.DATA.PATH_PREFIX
    if cls.STORAGE != "rendered" and prefix and not exists(prefix):  # reported with or without a list
        check.problems.append(Problem("DATA.PATH_PREFIX", f"folder {prefix} does not exist; the listed videos "
                                      f"are looked up under it", "DATA.PATH_PREFIX"))
    if check.problems and cls.STORAGE == "rendered":
        return check
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
    if cls.STORAGE == "rendered":
        return check
    check.list_file = records[0].source.rsplit(":", 1)[0]
    if check.problems:
        return check
    present, absent = _stat_pass(cls, cfg, records)
    check.problems += _missing_problems(absent, len(records), prefix, cls.STORAGE)
    check.problems += _decode_sample(cls, cfg, present, samples, check)
    return check


def _stat_pass(cls: type[VideoDataset], cfg, records: list[VideoRecord]) -> tuple[list[VideoRecord], list[tuple]]:
    """(records present, [(record, what is missing)]) in list order, by `cls.entry_problem`: stat only. The
    first chunk is timed: on a slow (network) file system, where a stat waits a millisecond rather than
    microseconds, the rest run in STAT_THREADS threads that overlap the waits; on a local one threads only add
    GIL hand-offs (3x slower, measured), so they stay sequential."""
    chunks = [records[i:i + _STAT_CHUNK] for i in range(0, len(records), _STAT_CHUNK)] or [[]]
    start = time.perf_counter()
    present, absent = _stat_chunk(cls, cfg, chunks[0])
    slow = (time.perf_counter() - start) / max(len(chunks[0]), 1) > SLOW_STAT_S
    if slow:
        with ThreadPoolExecutor(STAT_THREADS) as pool:
            results = list(pool.map(lambda chunk: _stat_chunk(cls, cfg, chunk), chunks[1:]))
    else:
        results = [_stat_chunk(cls, cfg, chunk) for chunk in chunks[1:]]
    for chunk_present, chunk_absent in results:
        present += chunk_present
        absent += chunk_absent
    return present, absent


def _stat_chunk(cls: type[VideoDataset], cfg, records: list[VideoRecord]) -> tuple[list[VideoRecord], list[tuple]]:
    present, absent = [], []
    for record in records:
        problem = cls.entry_problem(cfg, record)
        if problem is None:
            present.append(record)
        else:
            absent.append((record, problem))
    return present, absent


def _missing_problems(absent: list[tuple], total: int, prefix: str, storage: str) -> list[Problem]:
    if not absent:
        return []
    what = "frame folders" if storage == "frames" else "videos"
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


def _decode_sample(cls: type[VideoDataset], cfg, present: list[VideoRecord], samples: int,
                   check: SplitCheck) -> list[Problem]:
    """Decode (`cls.read_sample`) `samples` present videos, evenly spaced over the list."""
    if not present or samples < 1:
        return []
    step = max(1, len(present) // samples)
    problems = []
    for record in present[::step][:samples]:
        try:
            cls.read_sample(cfg, record)
            check.decoded += 1
        except (DecodeError, OSError, RuntimeError, ValueError) as err:  # whatever a decoder says of a bad file
            backend = f" with DATA.DECODING_BACKEND {cfg.DATA.DECODING_BACKEND}" if cls.STORAGE == "videos" else ""
            problems.append(Problem(record.source, f"cannot be decoded{backend}: {err}"))
    return problems
