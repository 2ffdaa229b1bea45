"""Decoding with PyAV (DATA.DECODING_BACKEND "pyav"): seek to the key frame before the first wanted frame,
then decode forward until the last one, keeping only the wanted frames."""

import av
import numpy as np
import torch

from .decoder import DecodeError, VideoDecoder, local_path, register_backend


@register_backend("pyav")
class PyAVDecoder(VideoDecoder):
    """Frame i is the frame whose presentation time is closest to start_time + i / fps."""

    def __init__(self, path: str):
        super().__init__(path)
        try:
            self._container = av.open(local_path(path))
            self._stream = self._container.streams.video[0]
            rate = self._stream.average_rate or self._stream.guessed_rate
            self.fps = float(rate) if rate else 0.0
            self.num_frames = self._stream.frames or self._count_frames()
        except DecodeError:
            raise
        except Exception as e:  # av.error.* (InvalidDataError, FileNotFoundError, ...), IndexError
            raise DecodeError(f"{path}: PyAV cannot open it ({type(e).__name__}: {e})") from e
        if self.num_frames < 1 or self.fps <= 0:
            raise DecodeError(f"{path}: no video frames (frames {self.num_frames}, fps {self.fps})")
        self._start = self._stream.start_time or 0
        self._time_base = float(self._stream.time_base)

    def _count_frames(self) -> int:
        """Frames by demuxing (no decoding), for containers such as webm that do not store a count."""
        count = sum(1 for p in self._container.demux(self._stream) if p.size > 0)
        self._container.seek(0, stream=self._stream)
        return count

    def _index(self, pts: int) -> int:
        return int(round((pts - self._start) * self._time_base * self.fps))

    def _read(self, indices: list[int]) -> torch.Tensor:
        wanted, found = set(indices), {}
        try:
            target = self._start + int(indices[0] / self.fps / self._time_base)
            self._container.seek(target, stream=self._stream, backward=True, any_frame=False)
            for frame in self._container.decode(self._stream):
                if frame.pts is None:
                    continue
                i = self._index(frame.pts)
                if i in wanted:
                    found[i] = frame.to_ndarray(format="rgb24")
                if i >= indices[-1]:
                    break
        except Exception as e:
            raise DecodeError(f"{self.path}: PyAV cannot decode frames {indices[0]}..{indices[-1]} "
                              f"({type(e).__name__}: {e})") from e
        missing = [i for i in indices if i not in found]
        if missing:
            raise DecodeError(f"{self.path}: frames {missing[:5]}{'...' if len(missing) > 5 else ''} "
                              f"not decodable (stream says {self.num_frames} frames)")
        return torch.from_numpy(np.stack([found[i] for i in indices]))

    def close(self) -> None:
        self._container.close()
