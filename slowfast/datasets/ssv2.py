"""`ssv2`: Something-Something V2 as the original .webm videos with its own label JSON files."""

from iopath.common.file_io import g_pathmgr

from .build import register_dataset
from .lists import VideoRecord, read_ssv2_labels, read_ssv2_list, ssv2_annotation_paths
from .video_list import SegmentVideoList

_SPLIT_FILES = {"train": "train", "val": "validation", "test": "test"}


def annotation_file(root: str, name: str) -> str:
    """The first of the places SSv2's annotation `name` ("labels", "train", "validation", "test") has shipped
    in under `root` that exists: the 20BN `something-something-v2-<name>.json`, or today's `labels/<name>.json`
    (`root` may also be that labels/ folder). None existing: the 20BN path, which the error names."""
    candidates = ssv2_annotation_paths(root, name)
    return next((p for p in candidates if g_pathmgr.exists(p)), candidates[0])


@register_dataset()
class Ssv2(SegmentVideoList):
    """In DATA.PATH_TO_DATA_DIR: `something-something-v2-labels.json` and
    `something-something-v2-{train,validation,test}.json`, or today's `labels/{labels,train,validation,test}.json`
    (`annotation_file`; split "val" reads "validation"; the official
    test file has no labels, so test on it fails with a message, use TEST.SPLIT "val"); videos are
    `DATA.PATH_PREFIX/<id>.webm`, decoded by DATA.DECODING_BACKEND; segment sampling over the decoded
    frames (`samplers.segment_indices`, 0-based). Items: see `VideoDataset`."""

    def _records(self, list_split: str) -> list[VideoRecord]:
        d = self.cfg.DATA
        root = d.PATH_TO_DATA_DIR
        return read_ssv2_list(annotation_file(root, "labels"), annotation_file(root, _SPLIT_FILES[list_split]),
                              d.PATH_PREFIX, ".webm", self.cfg.MODEL.NUM_CLASSES)

    @classmethod
    def class_names(cls, cfg) -> tuple[list[str], str] | None:
        """The names of the labels JSON ({name: id}), by id; else `VideoDataset.class_names`'s."""
        path = annotation_file(cfg.DATA.PATH_TO_DATA_DIR, "labels")
        if not cfg.DATA.PATH_TO_DATA_DIR or not g_pathmgr.exists(path):
            return super().class_names(cfg)
        ids = read_ssv2_labels(path)
        return sorted(ids, key=ids.get), path
