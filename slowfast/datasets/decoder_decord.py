"""Decoding with decord (DATA.DECODING_BACKEND "decord", the released setting): random access by index."""

import decord
import torch

from .decoder import DecodeError, VideoDecoder, local_path, register_backend


@register_backend("decord")
class DecordDecoder(VideoDecoder):
    """decord.VideoReader with one thread (data-loader workers give the parallelism)."""

    def __init__(self, path: str):
        super().__init__(path)
        try:
            self._reader = decord.VideoReader(local_path(path), ctx=decord.cpu(0), num_threads=1)
            self.num_frames = len(self._reader)
            self.fps = float(self._reader.get_avg_fps())
        except DecodeError:
            raise
        except Exception as e:  # decord raises DECORDError / RuntimeError
            raise DecodeError(f"{path}: decord cannot open it ({type(e).__name__}: {e})") from e
        if self.num_frames < 1:
            raise DecodeError(f"{path}: no video frames")

    def _read(self, indices: list[int]) -> torch.Tensor:
        try:
            return torch.from_numpy(self._reader.get_batch(indices).asnumpy())
        except Exception as e:
            raise DecodeError(f"{self.path}: decord cannot decode frames {indices[0]}..{indices[-1]} "
                              f"({type(e).__name__}: {e})") from e

    def close(self) -> None:
        del self._reader
