"""`motion_stream`: the motion dataset rendered afresh for every training item, so training never sees a
video twice.

`TRAIN.DATASET motion_stream` with `DATA.PATH_TO_DATA_DIR` a folder written by
`tools/make_motion_dataset.py`: training items are new videos of that dataset (its `motion_dataset.json`
gives size, frames, tier and classes), DATA.STREAM_VIDEOS_PER_EPOCH per epoch (0: the folder's train
count); val and test read that folder's
fixed files through `FrameFolders` (`sth`; `TEST.DATASET motion_stream` and `sth` read the same).

Item i of epoch e is video `render_video(default_rng([seed, STREAM_SPLIT_ID, e, i]), ...)` with label
i % classes, seed the dataset's: a function of (seed, epoch, index) alone, rendered inside the loader
workers, then sampled and augmented exactly as `sth` does with a frame folder. The trainer calls
`set_epoch(e)` before each epoch, so a run resumed at epoch e (TRAIN.AUTO_RESUME) renders the videos an
uninterrupted run would. The stream's generators never meet those of the written splits (their second
key is 0, 1 or 2).
"""

import json
import os

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr

from .build import register_dataset
from .frame_folders import FrameFolders
from .lists import VideoRecord
from .motion_synth import CLASS_NAMES, DATASET_INFO, render_video
from .samplers import segment_indices
from .video_dataset import VideoDataset

STREAM_SPLIT_ID = 3


def read_dataset_info(data_dir: str) -> dict:
    """The generator parameters a motion dataset folder was written with (`motion_dataset.json`)."""
    path = os.path.join(data_dir, DATASET_INFO)
    if not g_pathmgr.exists(path):
        raise FileNotFoundError(f"{path} not found: DATA.PATH_TO_DATA_DIR must be a folder written by "
                                f"tools/make_motion_dataset.py (motion dataset v2)")
    with g_pathmgr.open(path) as f:
        info = json.load(f)
    unknown = [c for c in info["classes"] if c not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"{path}: unknown classes {unknown}")
    return info


def videos_per_epoch(cfg, info: dict) -> int:
    """Training videos per epoch: DATA.STREAM_VIDEOS_PER_EPOCH, or the dataset folder's train count."""
    return cfg.DATA.STREAM_VIDEOS_PER_EPOCH or info["counts"]["train"]


@register_dataset()
class MotionStream(VideoDataset):
    """`motion_stream`: its training split rendered (see the module docstring), val and test the folder's frame
    files read by `FrameFolders` (`for_split`). Items as `VideoDataset`'s."""

    STORAGE = "rendered"

    def __init__(self, cfg, split: str):
        self.info = read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR)
        problems = _info_problems(cfg, self.info)
        if problems:
            raise ValueError("; ".join(f"{key} {message}" for key, message in problems))
        self.epoch = 0
        super().__init__(cfg, split)

    @classmethod
    def for_split(cls, split: str) -> type[VideoDataset]:
        return cls if split == "train" else FrameFolders

    @classmethod
    def source_problems(cls, cfg) -> list[tuple[str, str]]:
        """The folder's motion_dataset.json readable, of MODEL.NUM_CLASSES classes, with videos to render."""
        try:
            info = read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR)
        except (FileNotFoundError, ValueError, KeyError) as err:
            return [("DATA.PATH_TO_DATA_DIR", str(err))]
        return _info_problems(cfg, info)

    @classmethod
    def split_records(cls, cfg, split: str) -> list[VideoRecord]:
        return _stream_records(cfg, read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR))

    @classmethod
    def entry_problem(cls, cfg, record: VideoRecord) -> str | None:
        return None  # rendered when read: nothing on disk

    @classmethod
    def read_sample(cls, cfg, record: VideoRecord) -> None:
        info = read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR)
        n = info["num_frames"]
        _render(info, 0, int(record.path.rsplit("/", 1)[1]), record.label, [0, n // 2, n - 1])

    def set_epoch(self, epoch: int) -> None:
        """Render the videos of epoch `epoch` (set before the loader's workers start)."""
        self.epoch = epoch

    def _records(self, list_split: str) -> list[VideoRecord]:
        return _stream_records(self.cfg, self.info)

    def _missing_files(self, record: VideoRecord) -> list[str]:
        return []

    def render(self, index: int, frames_wanted: list[int] | None = None) -> np.ndarray:
        """Frames `frames_wanted` (default all) of item `index` of the current epoch: uint8 [F, size, size, 3]."""
        return _render(self.info, self.epoch, index, self.records[index].label, frames_wanted)

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        index = int(record.path.rsplit("/", 1)[1])
        indices = segment_indices(record.num_frames, self.num_frames, view, self.num_temporal_views)
        return torch.from_numpy(self.render(index, indices))  # only the sampled frames are drawn


def _info_problems(cfg, info: dict) -> list[tuple[str, str]]:
    """(config key, what is wrong with its value) for a class count other than the dataset's and for no videos
    per epoch."""
    data_dir = cfg.DATA.PATH_TO_DATA_DIR
    problems = []
    classes = len(info["classes"])
    if classes != cfg.MODEL.NUM_CLASSES:
        problems.append(("MODEL.NUM_CLASSES", f"is {cfg.MODEL.NUM_CLASSES} but the motion dataset in {data_dir} has "
                                              f"{classes} classes"))
    if videos_per_epoch(cfg, info) < 1:
        problems.append(("DATA.STREAM_VIDEOS_PER_EPOCH", f"is 0 and the dataset in {data_dir} was written with no "
                                                         f"train videos: no videos per epoch"))
    return problems


def _stream_records(cfg, info: dict) -> list[VideoRecord]:
    """One record per video of an epoch: path `motion_stream/<i>`, label i % classes."""
    classes = len(info["classes"])
    return [VideoRecord(f"motion_stream/{i}", i % classes, f"motion_stream:{i}", info["num_frames"])
            for i in range(videos_per_epoch(cfg, info))]


def _render(info: dict, epoch: int, index: int, label: int, frames_wanted: list[int] | None) -> np.ndarray:
    rng = np.random.default_rng([info["seed"], STREAM_SPLIT_ID, epoch, index])
    frames, _ = render_video(rng, info["classes"][label], info["size"], info["num_frames"], info["tier"],
                             frames_wanted)
    return frames
