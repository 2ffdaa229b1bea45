"""Mixup / CutMix with label smoothing for video batches (timm's batch mode, box on H and W)."""

import numpy as np
import torch
from timm.data.mixup import cutmix_bbox_and_lam, mixup_target


class MixUp:
    """Built from MIXUP.* and MODEL.NUM_CLASSES. Per batch, with probability MIXUP.PROB: CutMix (with
    probability MIXUP.SWITCH_PROB when both MIXUP.ALPHA and MIXUP.CUTMIX_ALPHA are > 0) or Mixup,
    mixing each clip with the batch reversed; targets
    become smoothed one-hot vectors (MIXUP.LABEL_SMOOTH_VALUE) mixed with the same weight. timm's `Mixup`
    boxes the last two dims of a 4D batch; here the box spans all frames of a [B, C, T, H, W] clip at the
    same (y, x), and lam is corrected to the clipped box area as in timm."""

    def __init__(self, cfg):
        m = cfg.MIXUP
        if m.ALPHA <= 0 and m.CUTMIX_ALPHA <= 0:
            raise ValueError("MIXUP.ALPHA or MIXUP.CUTMIX_ALPHA must be > 0 when MIXUP.ENABLE")
        self.alpha, self.cutmix_alpha = m.ALPHA, m.CUTMIX_ALPHA
        self.prob, self.switch_prob = m.PROB, m.SWITCH_PROB
        self.label_smoothing, self.num_classes = m.LABEL_SMOOTH_VALUE, cfg.MODEL.NUM_CLASSES

    def _draw(self) -> tuple[float, bool]:
        if np.random.rand() >= self.prob:
            return 1.0, False
        use_cutmix = self.cutmix_alpha > 0 and (self.alpha <= 0 or np.random.rand() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.alpha
        return float(np.random.beta(alpha, alpha)), use_cutmix

    def __call__(self, x: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [B, C, T, H, W] (mixed in place), target [B] int -> (x, soft targets [B, num_classes] float)."""
        if x.dim() != 5:
            raise ValueError(f"expected clips [B, C, T, H, W], got shape {tuple(x.shape)}")
        lam, use_cutmix = self._draw()
        if lam < 1.0:
            if use_cutmix:
                (y0, y1, x0, x1), lam = cutmix_bbox_and_lam(x.shape[-2:], lam, correct_lam=True)
                x[..., y0:y1, x0:x1] = x.flip(0)[..., y0:y1, x0:x1]
            else:
                x.mul_(lam).add_(x.flip(0).mul(1.0 - lam))
        return x, mixup_target(target, self.num_classes, lam, self.label_smoothing)

