"""Model registry: `MODEL.MODEL_NAME` -> class, constructed as `cls(cfg)`."""

import torch.nn as nn
from fvcore.common.registry import Registry

MODEL_REGISTRY = Registry("MODEL")
MODEL_REGISTRY.__doc__ = """Registered video models: `cls(cfg) -> nn.Module`, called as `model([clip])`
with clip [B, 3, T, H, W], returning logits [B, MODEL.NUM_CLASSES]; `set_grad_checkpointing(checkpoint_num)`
where configs set MODEL.USE_CHECKPOINT."""


def build_model(cfg) -> nn.Module:
    """The model `cfg.MODEL.MODEL_NAME` names, on the CPU, with gradient checkpointing per MODEL.USE_CHECKPOINT
    and MODEL.CHECKPOINT_NUM; placement and DDP are the engine's job."""
    model = MODEL_REGISTRY.get(cfg.MODEL.MODEL_NAME)(cfg)
    if cfg.MODEL.USE_CHECKPOINT:
        model.set_grad_checkpointing(cfg.MODEL.CHECKPOINT_NUM)
    return model
