"""`ssv2`: Something-Something V2 as the original .webm videos with its own label JSON files."""

import os

from iopath.common.file_io import g_pathmgr

from .build import register_dataset
from .lists import VideoRecord, read_ssv2_labels, read_ssv2_list
from .video_list import SegmentVideoList

_SPLIT_FILES = {"train": "train", "val": "validation", "test": "test"}
_LABELS_FILE = "something-something-v2-labels.json"


@register_dataset()
class Ssv2(SegmentVideoList):
    """In DATA.PATH_TO_DATA_DIR: `something-something-v2-labels.json` and
    `something-something-v2-{train,validation,test}.json` (split "val" reads "validation"; the official
    test file has no labels, so test on it fails with a message, use TEST.SPLIT "val"); videos are
    `DATA.PATH_PREFIX/<id>.webm`, decoded by DATA.DECODING_BACKEND; segment sampling over the decoded
    frames (`samplers.segment_indices`, 0-based). Items: see `VideoDataset`."""

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        root = d.PATH_TO_DATA_DIR
        return read_ssv2_list(os.path.join(root, _LABELS_FILE),
                              os.path.join(root, f"something-something-v2-{_SPLIT_FILES[list_split]}.json"),
                              d.PATH_PREFIX, ".webm", self.cfg.MODEL.NUM_CLASSES)

    @classmethod
    def class_names(cls, cfg) -> tuple[list[str], str] | None:
        """The names of the labels JSON ({name: id}), by id; else `VideoDataset.class_names`'s."""
        path = os.path.join(cfg.DATA.PATH_TO_DATA_DIR, _LABELS_FILE)
        if not cfg.DATA.PATH_TO_DATA_DIR or not g_pathmgr.exists(path):
            return super().class_names(cfg)
        ids = read_ssv2_labels(path)
        return sorted(ids, key=ids.get), path
