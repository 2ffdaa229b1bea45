"""The dataset behaviour shared by every registered dataset: splits, test views, repeated augmentation, what
happens to a video that cannot be read, and what a dataset declares about itself (docs/data_loading.md)."""

import abc
import logging
import multiprocessing
import os
import random
from collections import deque

import torch
from iopath.common.file_io import g_pathmgr

from slowfast.config import UserError

from .decoder import DecodeError
from .lists import VideoRecord
from .transforms import EvalTransform, TrainTransform

logger = logging.getLogger(__name__)

# How a dataset keeps its videos (`VideoDataset.STORAGE`): a folder of frame files each, a file each, or drawn
# when read (nothing on disk per video).
STORAGE_KINDS = ("frames", "videos", "rendered")


class DataFailureError(UserError, RuntimeError):
    """Training stopped because more than TRAIN.MAX_DATA_FAILURES videos failed to decode."""


class VideoDataset(torch.utils.data.Dataset, abc.ABC):
    """Items are `(frames, label, index, meta)`:

    - train (AUG.NUM_SAMPLE = 1) and val: `frames` = [clip] with clip float [3, T, H, W] normalised by
      DATA.MEAN/STD (0-1 pixel scale), `label` int, `index` the video actually used (a replacement when the
      drawn one failed), `meta` = {"video_index": index, "view_index": 0}.
    - train with AUG.NUM_SAMPLE = S > 1: `frames` = S lists [clip], `label`, `index` = lists of S,
      `meta` values lists of S: S differently augmented clips of one video (`collate` flattens them,
      video-major, into the batch dimension).
    - test: one item per view, len = videos x NUM_ENSEMBLE_VIEWS x NUM_SPATIAL_CROPS, `index` the item
      index, meta {"video_index", "view_index"}; view = temporal_view * NUM_SPATIAL_CROPS + spatial_crop.
      Deterministic. Before any decoding, one pass lists every missing file in one FileNotFoundError; a
      video that fails to decode raises DecodeError naming it.

    Train and val replace a failing video by a random other one (logged with its path, up to
    DATA_LOADER.NUM_RETRIES replacements) and count it; once more than TRAIN.MAX_DATA_FAILURES (0 = no
    limit) failed, `DataFailureError` stops the run with a summary. The count is shared by this dataset's
    DataLoader workers and kept across epochs: one count per training process (rank). An item that
    replaced videos names them in meta["decode_failures"] ([{"split", "path", "source", "error"}]), which
    carries them out of the workers to the trainer's report.
    Val items are the single deterministic view (V = 1, centre crop) at DATA.TEST_CROP_SIZE.

    Subclasses give the records (`_records`), whether their files exist (`_missing_files`) and how to read
    a clip (`_read_clip`). They describe themselves to the pre-flight check and the tools, which never test a
    dataset's name: `STORAGE` (one of STORAGE_KINDS), `entry_problem` (is one entry on disk, stat only),
    `read_sample` (decode a few frames of one), `from_paths` (how a tool builds it from files) and, where a
    split is read by another class, `for_split`.
    """

    STORAGE = ""  # each registered subclass declares one of STORAGE_KINDS (checked by `register_dataset`)

    def __init__(self, cfg, split: str, records: list[VideoRecord] | None = None):
        """`records`: these entries instead of the split's list (`from_paths`)."""
        self.cfg = cfg
        self.split = split
        self.num_frames = cfg.DATA.NUM_FRAMES
        if split == "test":
            self.num_temporal_views = cfg.TEST.NUM_ENSEMBLE_VIEWS
            self.num_spatial_crops = cfg.TEST.NUM_SPATIAL_CROPS
        else:
            self.num_temporal_views, self.num_spatial_crops = 1, 1
        self.num_views = self.num_temporal_views * self.num_spatial_crops
        self.num_samples = cfg.AUG.NUM_SAMPLE if split == "train" else 1
        list_split = _list_split(cfg, split)
        self.records: list[VideoRecord] = self._records(list_split) if records is None else list(records)
        self._train_transform = TrainTransform(cfg) if split == "train" else None
        self._test_transform = EvalTransform(cfg)
        self._max_retries = cfg.DATA_LOADER.NUM_RETRIES
        self._max_failures = cfg.TRAIN.MAX_DATA_FAILURES
        # Shared with the DataLoader workers (passed to them at start, for fork and spawn alike).
        self._failures = multiprocessing.Value("i", 0)
        self._recent_failures = deque(maxlen=5)
        if split == "test":
            self._check_files()
        logger.info("%s %s: %d videos, %d items (list %s)", type(self).__name__, split, len(self.records),
                    len(self), list_split)

    @classmethod
    def split_records(cls, cfg, split: str) -> list[VideoRecord]:
        """The records `cls(cfg, split)` would hold, read from its list (TEST.SPLIT's for "test") without
        building the dataset: no transforms, no file checks. The pre-flight check reads lists this way."""
        dataset = cls.__new__(cls)
        dataset.cfg, dataset.split = cfg, split
        return dataset._records(_list_split(cfg, split))

    @classmethod
    def for_split(cls, split: str) -> type["VideoDataset"]:
        """The class that reads `split`: this one, unless the dataset keeps that split another way."""
        return cls

    @classmethod
    def source_problems(cls, cfg) -> list[tuple[str, str]]:
        """(config key, message) for what the split lists are made from beyond the lists themselves (a
        rendered dataset's parameters); none for datasets whose lists are files."""
        return []

    @classmethod
    @abc.abstractmethod
    def entry_problem(cls, cfg, record: VideoRecord) -> str | None:
        """Whether entry `record` is on disk, by a stat or two and no decoding: None, or what is missing
        (one line naming the path)."""

    @classmethod
    @abc.abstractmethod
    def read_sample(cls, cfg, record: VideoRecord) -> None:
        """Decode the first, middle and last frame of a present entry; raises DecodeError (or OSError) when
        the loader could not read it."""

    @classmethod
    def from_paths(cls, cfg, paths: list[str]) -> "VideoDataset":
        """The test views of the files `paths` (labels -1), read as this dataset reads its videos: how a tool
        (tools/predict.py, tools/visualize_motion.py) builds it. Item i is view i % V of file i // V; a
        missing file raises FileNotFoundError. Inference also reads the result's `frame_indices(num_frames, fps,
        view)` (`VideoList`'s); a dataset of frame folders returns the video files read by its own sampling."""
        return cls(cfg, "test", records=[VideoRecord(path, -1, path) for path in paths])

    @classmethod
    def class_names(cls, cfg) -> tuple[list[str], str] | None:
        """(class names, line k = class k; the file read) from the dataset's folder, or None when it has none:
        `classes.txt` in DATA.PATH_TO_DATA_DIR, one name a line (the motion dataset writes it). tools/predict.py
        labels its output with them."""
        path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, "classes.txt")
        if not cfg.DATA.PATH_TO_DATA_DIR or not g_pathmgr.exists(path):
            return None
        return read_class_names(path), path

    @abc.abstractmethod
    def _records(self, list_split: str) -> list[VideoRecord]:
        """The parsed list of `list_split` ("train", "val" or "test")."""

    @abc.abstractmethod
    def _missing_files(self, record: VideoRecord) -> list[str]:
        """Files the test views of `record` will read that do not exist (no decoding)."""

    @abc.abstractmethod
    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        """uint8 [T, H, W, 3] of temporal view `view` (of self.num_temporal_views), or a training clip
        when `view` is None; raises DecodeError."""

    def _check_files(self) -> None:
        missing = [(r.source, p) for r in self.records for p in self._missing_files(r)]
        if missing:
            lines = "\n".join(f"  {p} (listed at {src})" for src, p in missing)
            raise FileNotFoundError(f"{len(missing)} file(s) of the {self.split} split are missing:\n{lines}")

    @property
    def failure_count(self) -> int:
        """Videos of this dataset that failed to decode so far, over all its workers."""
        return self._failures.value

    def __len__(self) -> int:
        return len(self.records) * self.num_views

    def __getitem__(self, index: int):
        if self.split == "test":
            return self._test_item(index)
        failures = []  # the videos this item replaced, in meta["decode_failures"] (the trainer reports them)
        for _ in range(self._max_retries + 1):
            record = self.records[index]
            try:
                frames = self._read_clip(record, None if self.split == "train" else 0)
            except DecodeError as e:
                self._count_failure(record, e)
                failures.append({"split": self.split, "path": record.path, "source": record.source, "error": str(e)})
                index = random.randrange(len(self.records))
                continue
            item = self._train_item(frames, record, index)
            if failures:
                item[3]["decode_failures"] = failures
            return item
        raise DataFailureError(f"{self._max_retries + 1} videos in a row failed to decode "
                               f"(DATA_LOADER.NUM_RETRIES = {self._max_retries}); last: {self._recent_failures[-1]}")

    def _count_failure(self, record: VideoRecord, error: DecodeError) -> None:
        with self._failures.get_lock():
            self._failures.value += 1
            count = self._failures.value
        self._recent_failures.append(f"{record.path} ({record.source}): {error}")
        logger.warning("%s video %s (listed at %s) failed, replaced by another (%d failure(s) so far): %s",
                       self.split, record.path, record.source, count, error)
        if 0 < self._max_failures < count:
            recent = "\n".join(f"  {f}" for f in self._recent_failures)
            raise DataFailureError(
                f"{count} {self.split} videos failed to decode, more than TRAIN.MAX_DATA_FAILURES = "
                f"{self._max_failures} (counted per training process); most recent in this worker:\n{recent}\n"
                f"Fix or remove them from the list, or raise TRAIN.MAX_DATA_FAILURES.")

    def _train_item(self, frames: torch.Tensor, record: VideoRecord, index: int):
        meta = {"video_index": index, "view_index": 0}
        if self.split != "train":
            return [self._test_transform(frames, 1)], record.label, index, meta
        if self.num_samples == 1:
            return [self._train_transform(frames)], record.label, index, meta
        clips = [[self._train_transform(frames)] for _ in range(self.num_samples)]
        s = self.num_samples
        return clips, [record.label] * s, [index] * s, {k: [v] * s for k, v in meta.items()}

    def _test_item(self, index: int):
        video_index, view_index = divmod(index, self.num_views)
        temporal, spatial = divmod(view_index, self.num_spatial_crops)
        record = self.records[video_index]
        frames = self._read_clip(record, temporal)
        crop = spatial if self.num_spatial_crops == 3 else 1
        meta = {"video_index": video_index, "view_index": view_index}
        return [self._test_transform(frames, crop)], record.label, index, meta


def _list_split(cfg, split: str) -> str:
    """The list a split reads: its own, except "test", which reads TEST.SPLIT's ("val" for the sth recipes)."""
    return cfg.TEST.SPLIT if split == "test" else split


def missing(paths) -> list[str]:
    """The paths among `paths` that do not exist."""
    return [p for p in paths if not g_pathmgr.exists(p)]


def read_class_names(path: str) -> list[str]:
    """One class name a line (blank lines skipped), line k = class k."""
    with g_pathmgr.open(path, "r") as f:
        return [line.strip() for line in f.read().splitlines() if line.strip()]


def exists(path: str) -> bool:
    """`path` exists: os.path for local paths (a 220k-entry pre-flight is stat-bound), iopath for URLs."""
    return g_pathmgr.exists(path) if "://" in path else os.path.exists(path)


def isfile(path: str) -> bool:
    """`path` is a file, as `exists` looks."""
    return g_pathmgr.isfile(path) if "://" in path else os.path.isfile(path)
