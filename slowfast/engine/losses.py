"""Training losses: hard-label and soft-target (Mixup/CutMix, label smoothing) cross-entropy."""

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


class SoftTargetCrossEntropy(nn.Module):
    """Mean over the batch of -sum(target * log_softmax(logits)); hard labels [B] are taken as one-hot."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """logits [B, C] (any float dtype, computed in float32); target [B, C] probabilities or [B] labels."""
        if target.dim() == 1:
            target = F.one_hot(target, logits.shape[-1])
        return torch.sum(-target.float() * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


class CrossEntropy(nn.Module):
    """Hard-label cross-entropy in float32; logits [B, C], labels [B] long."""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(logits.float(), target)


LOSSES = {"cross_entropy": CrossEntropy, "soft_cross_entropy": SoftTargetCrossEntropy}


def build_loss(name: str) -> nn.Module:
    """The loss MODEL.LOSS_FUNC names."""
    return LOSSES[name]()
