"""Video Mixup/CutMix: the CutMix box spans H and W (same in every frame and channel), targets are the
smoothed one-hot vectors mixed with the area-corrected weight."""

import numpy as np
import torch

from slowfast.config import get_cfg
from slowfast.datasets.mixup import MixUp


def _mixup(alpha, cutmix_alpha, smoothing=0.1, classes=5):
    cfg = get_cfg()
    cfg.MIXUP.ALPHA, cfg.MIXUP.CUTMIX_ALPHA, cfg.MIXUP.PROB = alpha, cutmix_alpha, 1.0
    cfg.MIXUP.LABEL_SMOOTH_VALUE, cfg.MODEL.NUM_CLASSES = smoothing, classes
    return MixUp(cfg)


def _batch():
    x = torch.zeros(2, 3, 4, 16, 20)
    x[1] = 1.0  # clip 0 all 0, clip 1 all 1
    return x, torch.tensor([0, 3])


def test_cutmix_box_on_height_and_width_only():
    np.random.seed(0)
    for _ in range(10):
        x, y = _batch()
        out, target = _mixup(0.0, 1.0)(x, y)
        pasted = out[0] == 1.0  # [C, T, H, W]: the box taken from clip 1
        assert torch.equal(pasted, pasted[:1, :1].expand_as(pasted))  # same box in every channel and frame
        area = pasted[0, 0].float().mean().item()
        lam = 1.0 - area
        off, on = 0.1 / 5, 1.0 - 0.1 + 0.1 / 5
        expected = torch.full((5,), off * lam + off * (1 - lam))
        expected[0] += (on - off) * lam
        expected[3] += (on - off) * (1 - lam)
        torch.testing.assert_close(target[0], expected)
        torch.testing.assert_close(target.sum(1), torch.ones(2))


def test_mixup_blends_whole_clips_with_matching_targets():
    np.random.seed(1)
    x, y = _batch()
    out, target = _mixup(0.8, 0.0, smoothing=0.0)(x, y)
    lam = 1.0 - out[0, 0, 0, 0, 0].item()
    assert torch.allclose(out[0], torch.full_like(out[0], 1 - lam))
    torch.testing.assert_close(target[0], torch.tensor([lam, 0, 0, 1 - lam, 0]))
