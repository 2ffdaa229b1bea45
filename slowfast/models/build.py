"""Model registry: `MODEL.MODEL_NAME` -> class, constructed as `cls(cfg)`."""

import torch.nn as nn
from fvcore.common.registry import Registry

from .layers import PointwiseConv3d

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = """Registered video models: `cls(cfg) -> nn.Module`, called as `model([clip])`
with clip [B, 3, T, H, W], returning logits [B, MODEL.NUM_CLASSES]; `set_grad_checkpointing(checkpoint_num)`
where configs set MODEL.USE_CHECKPOINT, `set_memory_format(channels_last)` where they set PERF.CHANNELS_LAST."""


def build_model(cfg) -> nn.Module:
    """The model `cfg.MODEL.MODEL_NAME` names, on the CPU, with gradient checkpointing per MODEL.USE_CHECKPOINT
    and MODEL.CHECKPOINT_NUM, its 1x1x1 convolutions as Linear layers per PERF.POINTWISE_AS_LINEAR and its
    memory format per PERF.CHANNELS_LAST (none of which changes its state dict); placement, DDP and
    torch.compile are the engine's job."""
    model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
    if cfg.MODEL.USE_CHECKPOINT:
        model.set_grad_checkpointing(cfg.MODEL.CHECKPOINT_NUM)
    if cfg.PERF.POINTWISE_AS_LINEAR:
        PointwiseConv3d.convert(model)
    if cfg.PERF.CHANNELS_LAST:
        model.set_memory_format(True)
    return model
