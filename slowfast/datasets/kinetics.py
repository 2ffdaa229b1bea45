"""`kinetics`: any video list `<path><sep><label>` (Kinetics-400/600, Diving48, the motion dataset)."""

import os

import torch

from .build import DATASET_REGISTRY
from .decoder import open_video
from .lists import VideoRecord, read_video_list
from .samplers import dense_indices
from .video_dataset import VideoDataset, missing


@DATASET_REGISTRY.register()
class Kinetics(VideoDataset):
    """Lists `DATA.PATH_TO_DATA_DIR/{train,val,test}.csv`, paths joined to DATA.PATH_PREFIX, separator
    DATA.PATH_LABEL_SEPARATOR; decoded by DATA.DECODING_BACKEND; dense sampling of DATA.NUM_FRAMES frames
    every DATA.SAMPLING_RATE frames at DATA.TARGET_FPS (`samplers.dense_indices`). Items: see `VideoDataset`."""

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        return read_video_list(os.path.join(d.PATH_TO_DATA_DIR, f"{list_split}.csv"), d.PATH_PREFIX,
                               d.PATH_LABEL_SEPARATOR, self.cfg.MODEL.NUM_CLASSES)

    def _missing_files(self, record: VideoRecord) -> list[str]:
        return missing([record.path])

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        d = self.cfg.DATA
        video = open_video(record.path, d.DECODING_BACKEND)
        try:
            fps = video.fps if video.fps > 0 else d.TARGET_FPS
            indices = dense_indices(video.num_frames, fps, self.num_frames, d.SAMPLING_RATE, d.TARGET_FPS,
                                    view, self.num_temporal_views, d.USE_OFFSET_SAMPLING)
            return video.get_frames(indices)
        finally:
            video.close()
