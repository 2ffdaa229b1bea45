"""`ssv2`: Something-Something V2 as the original .webm videos with its own label JSON files."""

import os

import torch

from .build import DATASET_REGISTRY
from .decoder import open_video
from .lists import VideoRecord, read_ssv2_list
from .samplers import segment_indices
from .video_dataset import VideoDataset, missing

_SPLIT_FILES = {"train": "train", "val": "validation", "test": "test"}


@DATASET_REGISTRY.register()
class Ssv2(VideoDataset):
    """In DATA.PATH_TO_DATA_DIR: `something-something-v2-labels.json` and
    `something-something-v2-{train,validation,test}.json` (split "val" reads "validation"; the official
    test file has no labels, so test on it fails with a message, use TEST.SPLIT "val"); videos are
    `DATA.PATH_PREFIX/<id>.webm`, decoded by DATA.DECODING_BACKEND; segment sampling over the decoded
    frames (`samplers.segment_indices`, 0-based). Items: see `VideoDataset`."""

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        root = d.PATH_TO_DATA_DIR
        return read_ssv2_list(os.path.join(root, "something-something-v2-labels.json"),
                              os.path.join(root, f"something-something-v2-{_SPLIT_FILES[list_split]}.json"),
                              d.PATH_PREFIX, ".webm", self.cfg.MODEL.NUM_CLASSES)

    def _missing_files(self, record: VideoRecord) -> list[str]:
        return missing([record.path])

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        video = open_video(record.path, self.cfg.DATA.DECODING_BACKEND)
        try:
            indices = segment_indices(video.num_frames, self.num_frames, view, self.num_temporal_views)
            return video.get_frames(indices)
        finally:
            video.close()
