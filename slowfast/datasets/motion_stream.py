"""`motion_stream`: the motion dataset rendered afresh for every training item, so training never sees a
video twice.

`TRAIN.DATASET motion_stream` with `DATA.PATH_TO_DATA_DIR` a folder written by
`tools/make_motion_dataset.py`: training items are new videos of that dataset (its `motion_dataset.json`
gives size, frames, tier and classes), DATA.STREAM_VIDEOS_PER_EPOCH per epoch (0: the folder's train
count); val and test read that folder's
fixed files through the `sth` loader (set `TEST.DATASET sth` for the test split).

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

from .build import DATASET_REGISTRY
from .lists import VideoRecord
from .motion_synth import CLASS_NAMES, DATASET_INFO, render_video
from .samplers import segment_indices
from .sth import Sth
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


class MotionStreamDataset(VideoDataset):
    """Training split of `motion_stream` (see the module docstring). Items as `VideoDataset`'s."""

    def __init__(self, cfg, split: str):
        self.info = read_dataset_info(cfg.DATA.PATH_TO_DATA_DIR)
        classes = len(self.info["classes"])
        if classes != cfg.MODEL.NUM_CLASSES:
            raise ValueError(f"MODEL.NUM_CLASSES = {cfg.MODEL.NUM_CLASSES} but the motion dataset in "
                             f"{cfg.DATA.PATH_TO_DATA_DIR} has {classes} classes")
        self.epoch = 0
        super().__init__(cfg, split)

    def set_epoch(self, epoch: int) -> None:
        """Render the videos of epoch `epoch` (set before the loader's workers start)."""
        self.epoch = epoch

    def _records(self, list_split: str) -> list[VideoRecord]:
        count = videos_per_epoch(self.cfg, self.info)
        if count < 1:
            raise ValueError(f"motion_stream: no videos per epoch: set DATA.STREAM_VIDEOS_PER_EPOCH (the dataset in "
                             f"{self.cfg.DATA.PATH_TO_DATA_DIR} was written with no train videos)")
        classes = len(self.info["classes"])
        return [VideoRecord(f"motion_stream/{i}", i % classes, f"motion_stream:{i}", self.info["num_frames"])
                for i in range(count)]

    def _missing_files(self, record: VideoRecord) -> list[str]:
        return []

    def render(self, index: int, frames_wanted: list[int] | None = None) -> np.ndarray:
        """Frames `frames_wanted` (default all) of item `index` of the current epoch: uint8 [F, size, size, 3]."""
        info = self.info
        rng = np.random.default_rng([info["seed"], STREAM_SPLIT_ID, self.epoch, index])
        label = self.records[index].label
        frames, _ = render_video(rng, info["classes"][label], info["size"], info["num_frames"], info["tier"],
                                 frames_wanted)
        return frames

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        index = int(record.path.rsplit("/", 1)[1])
        indices = segment_indices(record.num_frames, self.num_frames, view, self.num_temporal_views)
        return torch.from_numpy(self.render(index, indices))  # only the sampled frames are drawn


@DATASET_REGISTRY.register()
def MotionStream(cfg, split: str) -> VideoDataset:  # noqa: N802 (registry name)
    """`motion_stream`: rendered training videos; val and test are the folder's files through `sth`."""
    return MotionStreamDataset(cfg, split) if split == "train" else Sth(cfg, split)
