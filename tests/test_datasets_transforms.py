"""Clip transforms: crop geometry, flip only when allowed, identical augmentation in every frame."""

import random

import numpy as np
import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets.transforms import (
    ClipRandAugment,
    ClipRandomErasing,
    EvalTransform,
    TrainTransform,
    normalize,
    random_resized_crop,
    short_side_resize,
    uniform_crop,
)


def _ramp(t, h, w):
    """uint8 [t, 3, h, w] whose pixel value encodes its column (x) and row (y)."""
    y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    return torch.stack([x % 256, y % 256, (x + y) % 256]).to(torch.uint8).expand(t, 3, h, w).contiguous()


@pytest.mark.parametrize("h,w,idx,y,x", [
    (10, 16, 0, 0, 0), (10, 16, 1, 0, 3), (10, 16, 2, 0, 6),  # landscape: left / centre / right
    (16, 10, 0, 0, 0), (16, 10, 1, 3, 0), (16, 10, 2, 6, 0),  # portrait: top / centre / bottom
    (11, 17, 1, 1, 4),  # centre offsets are ceil((H - size) / 2), as SlowFast
])
def test_uniform_crop_positions(h, w, idx, y, x):
    frames = _ramp(2, h, w)
    size = min(h, w) if (h, w) != (11, 17) else 9
    out = uniform_crop(frames, size, idx)
    assert out.shape == (2, 3, size, size)
    assert (int(out[0, 1, 0, 0]), int(out[0, 0, 0, 0])) == (y, x)


def test_short_side_resize_keeps_aspect():
    assert short_side_resize(_ramp(2, 60, 80), 30).shape == (2, 3, 30, 40)
    assert short_side_resize(_ramp(2, 80, 60), 30).shape == (2, 3, 40, 30)


def test_random_resized_crop_area_and_aspect_in_range():
    random.seed(0)
    frames = _ramp(1, 100, 100)
    for _ in range(50):
        out = random_resized_crop(frames, 16, (0.25, 0.25), (1.0, 1.0))
        assert out.shape == (1, 3, 16, 16)
        span = int(out[0, 0, 0, -1]) - int(out[0, 0, 0, 0])  # columns covered ~ sqrt(0.25) * 100
        assert 40 <= span <= 50


def _cfg(**data):
    cfg = get_cfg()
    cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = 32, 32
    cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE, cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE = [1.0, 1.0], [1.0, 1.0]
    cfg.DATA.MEAN, cfg.DATA.STD = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    for k, v in data.items():
        setattr(cfg.DATA, k, v)
    return cfg


@pytest.mark.parametrize("flip", [False, True])
def test_horizontal_flip_only_with_random_flip(flip):
    random.seed(0)
    frames = _ramp(2, 32, 32).permute(0, 2, 3, 1)  # [T, H, W, C]
    transform = TrainTransform(_cfg(RANDOM_FLIP=flip))
    flipped = 0
    for _ in range(40):
        out = transform(frames)  # [C, T, H, W], full frame kept (scale 1, aspect 1)
        flipped += bool(out[0, 0, 0, 0] > out[0, 0, 0, -1])
    assert (flipped > 5) if flip else (flipped == 0)


def test_train_transform_shapes_and_short_side_jitter():
    cfg = _cfg(TRAIN_JITTER_SCALES_RELATIVE=[], TRAIN_JITTER_SCALES=[40, 48])
    cfg.AUG.ENABLE = True
    out = TrainTransform(cfg)(torch.randint(0, 256, (4, 60, 80, 3), dtype=torch.uint8))
    assert out.shape == (3, 4, 32, 32) and out.dtype == torch.float32


def test_rand_augment_and_erasing_identical_in_every_frame():
    random.seed(3)
    np.random.seed(3)
    frame = torch.randint(0, 256, (1, 3, 32, 32), dtype=torch.uint8)
    clip = frame.expand(6, 3, 32, 32).contiguous()
    augment = ClipRandAugment("rand-m9-n4-mstd0.5-inc1", 32, (0.45,) * 3, "bicubic")
    changed = 0
    for _ in range(10):
        out = augment(clip)
        assert all(torch.equal(out[0], out[t]) for t in range(6))
        changed += not torch.equal(out[0], frame[0])
    assert changed >= 5
    erase = ClipRandomErasing(1.0, "const", 1)
    x = erase(torch.ones(3, 6, 32, 32))
    zero = x == 0
    assert zero.any() and all(torch.equal(zero[:, 0], zero[:, t]) for t in range(6))


def test_eval_transform_normalises_and_crops():
    cfg = _cfg()
    cfg.DATA.MEAN, cfg.DATA.STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    frames = torch.full((2, 64, 96, 3), 255, dtype=torch.uint8)
    out = EvalTransform(cfg)(frames, 2)
    assert out.shape == (3, 2, 32, 32) and torch.allclose(out, torch.full_like(out, 2.0))
    assert torch.equal(normalize(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), [0.5] * 3, [0.25] * 3),
                       torch.full((3, 1, 2, 2), -2.0))
