"""Video datasets (`sth`, `ssv2`, `kinetics`, the rendered `motion_stream`), decoders, sampling, transforms,
loaders and Mixup."""

from . import decoder_decord, decoder_pyav  # noqa: F401  (register the decoding backends)
from .build import DATASET_REGISTRY, build_dataset
from .decoder import DecodeError, open_video
from .kinetics import Kinetics
from .lists import ListFormatError
from .loader import collate, construct_loader
from .mixup import MixUp
from .motion_stream import MotionStream
from .ssv2 import Ssv2
from .sth import Sth
from .video_dataset import DataFailureError, VideoDataset

__all__ = [
    "DATASET_REGISTRY", "DataFailureError", "DecodeError", "Kinetics", "ListFormatError", "Ssv2", "Sth",
    "MixUp", "MotionStream", "VideoDataset", "build_dataset", "collate", "construct_loader",
    "open_video",
]
