"""Video datasets (each a registered `VideoDataset` that describes itself; the names: `build.dataset_names()`,
docs/data_loading.md), decoders, sampling, transforms, loaders and Mixup."""

from . import decoder_decord, decoder_pyav  # noqa: F401  (register the decoding backends)
from .build import DATASET_REGISTRY, build_dataset, dataset_class, register_dataset
from .decoder import DecodeError, open_video
from .diving48 import Diving48
from .frame_folders import FrameFolders
from .lists import ListFormatError
from .loader import collate, construct_loader
from .mixup import MixUp
from .motion_stream import MotionStream
from .ssv2 import Ssv2
from .video_dataset import STORAGE_KINDS, DataFailureError, VideoDataset
from .video_list import SegmentVideoList, VideoList

__all__ = [
    "DATASET_REGISTRY", "STORAGE_KINDS", "DataFailureError", "DecodeError", "Diving48", "FrameFolders",
    "ListFormatError", "MixUp", "MotionStream", "SegmentVideoList", "Ssv2", "VideoDataset", "VideoList",
    "build_dataset", "collate", "construct_loader", "dataset_class", "open_video", "register_dataset",
]
