"""Configs of the tiny UniFormers whose released state-dict keys are in tests/data/tiny_state_dict_keys.json
(defined in the package, slowfast/config/tiny.py, for the tools too), and a helper of the model tests."""

import torch
import torch.nn as nn

from slowfast.config.tiny import TINY, TINY_BASE, tiny_cfg

__all__ = ["TINY", "TINY_BASE", "off_initial_values", "tiny_cfg"]


def off_initial_values(model: nn.Module) -> nn.Module:
    """`model` with every parameter and BatchNorm statistic moved off its initial value (in place)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))  # zero-initialised motion heads and biases become non-trivial
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.normal_(0.0, 0.1)
                m.running_var.uniform_(0.5, 2.0)
    return model
