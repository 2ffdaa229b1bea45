"""`sth`: Something-Something V1/V2 as extracted frames (EMIM_SPEC 5)."""

import os

import torch
from iopath.common.file_io import g_pathmgr

from .build import DATASET_REGISTRY
from .decoder import read_frame_files
from .lists import VideoRecord, read_frame_list
from .samplers import segment_indices
from .video_dataset import VideoDataset, missing


@DATASET_REGISTRY.register()
class Sth(VideoDataset):
    """Lists `DATA.PATH_TO_DATA_DIR/DATA.LABEL_PATH_TEMPLATE.format(split)`, lines
    `<folder> <num_frames> <label>`; frame k (1-based) of a video is
    `DATA.PATH_PREFIX/<folder>/DATA.IMAGE_TEMPLATE.format(k)`. The "val" list falls back to the released
    name `.format("validation")` when no `.format("val")` file exists. Segment sampling, see
    `samplers.segment_indices`. Items: see `VideoDataset`."""

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

    def _frame_paths(self, record: VideoRecord, view: int | None) -> list[str]:
        indices = segment_indices(record.num_frames, self.num_frames, view, self.num_temporal_views)
        template = self.cfg.DATA.IMAGE_TEMPLATE
        return [os.path.join(record.path, template.format(i + 1)) for i in indices]

    def _missing_files(self, record: VideoRecord) -> list[str]:
        paths = {p for v in range(self.num_temporal_views) for p in self._frame_paths(record, v)}
        return missing(sorted(paths))

    def _read_clip(self, record: VideoRecord, view: int | None) -> torch.Tensor:
        return read_frame_files(self._frame_paths(record, view))
