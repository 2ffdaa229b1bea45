"""One interface for every way of reading frames: a video decoder per backend (`decoder_decord.py`,
`decoder_pyav.py`, chosen by DATA.DECODING_BACKEND) and a reader of extracted frame files."""

import abc
import io
from collections.abc import Sequence

import numpy as np
import torch
from iopath.common.file_io import g_pathmgr
from PIL import Image

_BACKENDS: dict[str, type["VideoDecoder"]] = {}


class DecodeError(RuntimeError):
    """A video or frame file that cannot be opened or decoded; the message starts with its path."""


def register_backend(name: str):
    """Class decorator: make a `VideoDecoder` available as DATA.DECODING_BACKEND `name`."""

    def wrap(cls):
        _BACKENDS[name] = cls
        return cls

    return wrap


class VideoDecoder(abc.ABC):
    """An open video: `num_frames` (frames in the stream), `fps`, and `get_frames(indices)`.
    Subclasses open in `__init__` and raise `DecodeError` for anything they cannot read."""

    num_frames: int
    fps: float

    def __init__(self, path: str):
        self.path = path

    def get_frames(self, indices: Sequence[int]) -> torch.Tensor:
        """0-based frame indices (any order, repeats allowed) -> uint8 [len(indices), H, W, 3]."""
        wanted = sorted(set(int(i) for i in indices))
        if not wanted or wanted[0] < 0 or wanted[-1] >= self.num_frames:
            raise DecodeError(f"{self.path}: frame indices {wanted[:3]}..{wanted[-3:]} outside "
                              f"[0, {self.num_frames})")
        frames = self._read(wanted)  # uint8 [len(wanted), H, W, 3]
        position = {i: k for k, i in enumerate(wanted)}
        return frames[[position[int(i)] for i in indices]]

    @abc.abstractmethod
    def _read(self, indices: list[int]) -> torch.Tensor:
        """Sorted unique valid indices -> uint8 [len(indices), H, W, 3]."""

    def close(self) -> None:  # noqa: B027 (optional override, not abstract)
        """Release the file; the default has nothing to release."""


def open_video(path: str, backend: str) -> VideoDecoder:
    """Open `path` (any iopath path) with the backend registered as `backend` ("decord", "pyav")."""
    if backend not in _BACKENDS:
        raise ValueError(f"DATA.DECODING_BACKEND {backend!r}: allowed {sorted(_BACKENDS)}")
    return _BACKENDS[backend](path)


def local_path(path: str) -> str:
    """A local file for `path` (iopath downloads remote paths), or DecodeError when it is missing."""
    try:
        return g_pathmgr.get_local_path(path)
    except Exception as e:  # iopath handlers raise their own types
        raise DecodeError(f"{path}: cannot be read ({e})") from e


def read_frame_files(paths: Sequence[str]) -> torch.Tensor:
    """Image files (JPEG/PNG, any iopath path) -> uint8 [len(paths), H, W, 3]; DecodeError names the file."""
    frames = []
    for path in paths:
        try:
            with g_pathmgr.open(path, "rb") as f:
                data = f.read()
            with Image.open(io.BytesIO(data)) as img:
                frames.append(np.asarray(img.convert("RGB")))
        except Exception as e:  # missing file, truncated or corrupt image
            raise DecodeError(f"{path}: cannot be read as an image ({type(e).__name__}: {e})") from e
    if any(f.shape != frames[0].shape for f in frames):
        raise DecodeError(f"{paths[0]}: frames of one video differ in size")
    return torch.from_numpy(np.stack(frames))
