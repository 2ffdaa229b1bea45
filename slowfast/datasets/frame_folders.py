"""Frame folders: `FrameFolders` (registered "frame_folders", alias "sth"), any list of folders of extracted
frames `<folder> <num_frames> <label>`: Something-Something V1/V2 as the released code reads them
(segment sampling, docs/datasets.md), the motion dataset's frames."""

import os

import torch
from iopath.common.file_io import g_pathmgr

from .build import register_dataset
from .decoder import read_frame_files
from .lists import VideoRecord, read_frame_list
from .samplers import segment_indices
from .video_dataset import VideoDataset, exists, isfile, missing
from .video_list import SegmentVideoList


@register_dataset("sth")
class FrameFolders(VideoDataset):
    """Lists `DATA.PATH_TO_DATA_DIR/DATA.LABEL_PATH_TEMPLATE.format(split)`, lines
    `<folder> <num_frames> <label>`; frame k (1-based) of a video is
    `DATA.PATH_PREFIX/<folder>/DATA.IMAGE_TEMPLATE.format(k)`. The "val" list falls back to the released
    name `.format("validation")` when no `.format("val")` file exists. Segment sampling, see
    `samplers.segment_indices`. Items: see `VideoDataset`."""

    STORAGE = "frames"

    def _list_file(self, list_split: str) -> str:
        d = self.cfg.DATA
        path = os.path.join(d.PATH_TO_DATA_DIR, d.LABEL_PATH_TEMPLATE.format(list_split))
        if list_split == "val" and not g_pathmgr.exists(path):
            released = os.path.join(d.PATH_TO_DATA_DIR, d.LABEL_PATH_TEMPLATE.format("validation"))
            if g_pathmgr.exists(released):
                return released
        return path

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        return read_frame_list(self._list_file(list_split), d.PATH_PREFIX, d.PATH_LABEL_SEPARATOR,
                               self.cfg.MODEL.NUM_CLASSES)

    @staticmethod
    def frame_file(cfg, record: VideoRecord, k: int) -> str:
        """Frame file k (1-based, as the released lists number them) of the folder of `record`."""
        return os.path.join(record.path, cfg.DATA.IMAGE_TEMPLATE.format(k))

    @classmethod
    def entry_problem(cls, cfg, record: VideoRecord) -> str | None:
        """Present when the first and last frame files are: two stats, and a truncated folder is caught."""
        first, last = cls.frame_file(cfg, record, 1), cls.frame_file(cfg, record, record.num_frames)
        if isfile(first) and isfile(last):
            return None
        if not exists(record.path):
            return f"frame folder {record.path} does not exist"
        gone = os.path.basename(first if not isfile(first) else last)
        return (f"frame folder {record.path} has no {gone} (the list says {record.num_frames} frames, named "
                f"DATA.IMAGE_TEMPLATE)")

    @classmethod
    def read_sample(cls, cfg, record: VideoRecord) -> None:
        read_frame_files([cls.frame_file(cfg, record, k) for k in (1, record.num_frames // 2 + 1, record.num_frames)])

    @classmethod
    def from_paths(cls, cfg, paths: list[str]) -> VideoDataset:
        """Video files (a tool is given videos, not folders), sampled by segments over their decoded frames as
        the folders are."""
        return SegmentVideoList.from_paths(cfg, paths)

    def _frame_paths(self, record: VideoRecord, view: int | None) -> list[str]:
        indices = segment_indices(record.num_frames, self.num_frames, view, self.num_temporal_views)
        return [self.frame_file(self.cfg, record, i + 1) for i in indices]

    def _missing_files(self, record: VideoRecord) -> list[str]:
        paths = {p for v in range(self.num_temporal_views) for p in self._frame_paths(record, v)}
        return missing(sorted(paths))

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        return read_frame_files(self._frame_paths(record, view))
