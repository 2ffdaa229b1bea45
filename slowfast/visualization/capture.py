"""Recording the raw EMIM cost volumes of a model's forward pass through the `cost_volume` hook points."""

import torch.nn as nn
from torch import Tensor

from slowfast.models.attention import EmimAttention


class CostVolumes:
    """`with CostVolumes(model) as rec: model(x)`: then `rec.volumes` maps each EMIM layer, in model order,
    by the name of its block ("blocks3.0"), to its raw cost volume [B, T, H, W, heads, K*K] (detached) of
    the last forward pass. ValueError when the model has no EMIM layer."""

    def __init__(self, model: nn.Module):
        self.layers = {name.removesuffix(".attn"): m for name, m in model.named_modules()
                       if isinstance(m, EmimAttention)}
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no EMIM layer (UNIFORMER.ATTN_TYPE / CONTINUOUS_ATTN "
                             "select none): there is no cost volume to show")
        self.volumes: dict[str, Tensor] = {}
        self._handles = []

    def _hook(self, name: str):
        def record(module, inputs, output):
            self.volumes[name] = output.detach()
        return record

    def __enter__(self) -> "CostVolumes":
        self._handles = [m.cost_volume.register_forward_hook(self._hook(name)) for name, m in self.layers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
