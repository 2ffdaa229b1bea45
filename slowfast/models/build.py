"""Model registry: `MODEL.MODEL_NAME` -> class, constructed as `cls(cfg)`."""

import torch.nn as nn
from fvcore.common.registry import Registry

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = """Registered video models: `cls(cfg) -> nn.Module`, called as `model([clip])`
with clip [B, 3, T, H, W], returning logits [B, MODEL.NUM_CLASSES]."""


def build_model(cfg) -> nn.Module:
    """The model `cfg.MODEL.MODEL_NAME` names, on the CPU; placement and DDP are the engine's job."""
    return MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
