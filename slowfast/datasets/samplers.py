"""Which frames a clip reads, by the released code's arithmetic. Pure functions of the video length; `view=None` means a
training clip (random, drawn from Python's `random`, which DataLoader seeds per worker)."""

import math
import random

import torch


def segment_indices(video_frames: int, num_frames: int, view: int | None, num_views: int) -> list[int]:
    """Segment sampling (Something-Something): 0-based indices of `num_frames` frames out of `video_frames`.

    With L = video_frames, T = num_frames, seg = (L - 1) / T, segment i spans [round(seg*i), round(seg*(i+1))]
    (round half to even, as numpy's). Training: a uniform random integer in the span, inclusive. Test view
    v of V = num_views: round(seg*i) + int(seg / (V + 1) * (v + 1)), clipped to L - 1 (the released code
    could ask for frame L + 1 when seg < 0.5). Frame files are numbered index + 1.
    """
    seg = (video_frames - 1) / num_frames
    out = []
    for i in range(num_frames):
        start, end = round(seg * i), round(seg * (i + 1))
        if view is None:
            out.append(random.randint(start, end))
        else:
            out.append(min(start + int(seg / (num_views + 1) * (view + 1)), video_frames - 1))
    return out


def dense_indices(video_frames: int, fps: float, num_frames: int, sampling_rate: int, target_fps: float,
                  view: int | None, num_views: int, use_offset: bool) -> list[int]:
    """Dense sampling (video lists): `num_frames` frames every `sampling_rate` frames at `target_fps`.

    Clip length c = num_frames * sampling_rate * fps / target_fps frames, delta = max(L - c, 0). Start:
    training, uniform in [0, delta]; test view j of V with `use_offset` (DATA.USE_OFFSET_SAMPLING, the
    released video recipes): j * floor(delta / (V - 1)), or floor(delta / 2) when V = 1; without it
    (SlowFast): delta * j / V. Frames: linspace(start, start + c - 1, num_frames) (float32, as the released
    code), clipped to [0, L - 1], truncated to int.
    """
    clip = num_frames * sampling_rate * fps / target_fps
    delta = max(video_frames - clip, 0.0)
    if view is None:
        start = random.uniform(0, delta)
    elif use_offset:
        start = math.floor(delta / 2) if num_views == 1 else view * math.floor(delta / (num_views - 1))
    else:
        start = delta * view / num_views
    index = torch.linspace(start, start + clip - 1, num_frames)
    return torch.clamp(index, 0, video_frames - 1).long().tolist()
