"""Configs of the tiny UniFormers whose released state-dict keys are in tests/data/tiny_state_dict_keys.json."""

import torch
import torch.nn as nn

from slowfast.config import load_config

TINY_BASE = ["UNIFORMER.EMBED_DIM", "[16, 32, 64, 128]", "MODEL.NUM_CLASSES", "10",
             "UNIFORMER.ATTN_TYPE", "['extra_attn64', 'extra_attn64']", "UNIFORMER.CONTINUOUS_ATTN", "lg"]
TINY = {
    "tiny_s16_emim7": ["UNIFORMER.HEAD_DIM", "16", "UNIFORMER.DEPTH", "[1, 1, 2, 2]",
                       "UNIFORMER.ATTN_MAX_DISP", "[7, 7]", "DATA.NUM_FRAMES", "16"],
    "tiny_s16_emim5_3": ["UNIFORMER.HEAD_DIM", "32", "UNIFORMER.DEPTH", "[1, 1, 4, 2]",
                         "UNIFORMER.ATTN_MAX_DISP", "[5, 3]", "DATA.NUM_FRAMES", "16"],
    "tiny_s32_emim7": ["UNIFORMER.HEAD_DIM", "16", "UNIFORMER.DEPTH", "[1, 1, 2, 2]",
                       "UNIFORMER.ATTN_MAX_DISP", "[7, 7]", "DATA.NUM_FRAMES", "32"],
}


def tiny_cfg(name: str = "tiny_s16_emim7", *overrides: str):
    return load_config(None, TINY_BASE + TINY[name] + list(overrides))


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
