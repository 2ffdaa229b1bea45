"""Video files: `VideoList` (registered "video_list", alias "kinetics"), any list `<path><sep><label>`
(Kinetics-400/600, the motion dataset's videos) sampled densely; `SegmentVideoList`, video files sampled by
segments over their decoded frames, the base of `ssv2` and `diving48` and what a frame-folder config reads a
tool's video files with."""

import os

import torch

from .build import register_dataset
from .decoder import open_video
from .lists import VideoRecord, read_video_list
from .samplers import dense_indices, segment_indices
from .video_dataset import VideoDataset, isfile, missing


@register_dataset("kinetics")
class VideoList(VideoDataset):
    """Lists `DATA.PATH_TO_DATA_DIR/{train,val,test}.csv`, paths joined to DATA.PATH_PREFIX, separator
    DATA.PATH_LABEL_SEPARATOR; decoded by DATA.DECODING_BACKEND; dense sampling of DATA.NUM_FRAMES frames
    every DATA.SAMPLING_RATE frames at DATA.TARGET_FPS (`samplers.dense_indices`). Items: see `VideoDataset`."""

    STORAGE = "videos"

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        return read_video_list(os.path.join(d.PATH_TO_DATA_DIR, f"{list_split}.csv"), d.PATH_PREFIX,
                               d.PATH_LABEL_SEPARATOR, self.cfg.MODEL.NUM_CLASSES)

    @classmethod
    def entry_problem(cls, cfg, record: VideoRecord) -> str | None:
        return None if isfile(record.path) else f"video {record.path} does not exist"

    @classmethod
    def read_sample(cls, cfg, record: VideoRecord) -> None:
        video = open_video(record.path, cfg.DATA.DECODING_BACKEND)  # raises DecodeError on a video of no frames
        try:
            n = video.num_frames
            video.get_frames([0, n // 2, n - 1])
        finally:
            video.close()

    def _missing_files(self, record: VideoRecord) -> list[str]:
        return missing([record.path])

    def frame_indices(self, num_frames: int, fps: float, view: int | None) -> list[int]:
        """0-based frames of a video of `num_frames` frames at `fps` that temporal test view `view` (of
        self.num_temporal_views; None: a random training clip) reads."""
        d = self.cfg.DATA
        return dense_indices(num_frames, fps if fps > 0 else d.TARGET_FPS, self.num_frames, d.SAMPLING_RATE,
                             d.TARGET_FPS, view, self.num_temporal_views, d.USE_OFFSET_SAMPLING)

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        video = open_video(record.path, self.cfg.DATA.DECODING_BACKEND)
        try:
            return video.get_frames(self.frame_indices(video.num_frames, video.fps, view))
        finally:
            video.close()


class SegmentVideoList(VideoList):
    """A `VideoList` read by segment sampling over the decoded frames (`samplers.segment_indices`, 0-based), as
    frame folders are sampled: DATA.NUM_FRAMES segments spanning the whole video, whatever its length."""

    def frame_indices(self, num_frames: int, fps: float, view: int | None) -> list[int]:
        return segment_indices(num_frames, self.num_frames, view, self.num_temporal_views)
