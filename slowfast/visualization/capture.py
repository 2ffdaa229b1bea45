"""Recording what a model's attention layers see in a forward pass: EMIM's raw cost volumes (through the
`cost_volume` hook points) and the tokens each attention layer receives."""

import torch.nn as nn
from torch import Tensor

from slowfast.models.attention import AttentionLayer, EmimAttention


class CostVolumes:
    """`with CostVolumes(model) as rec: model(x)`: then `rec.volumes` maps each EMIM layer, in model order,
    by the name of its block ("blocks3.0"), to its raw cost volume [B, T, H, W, heads, K*K] (detached) of
    the last forward pass. ValueError when the model has no EMIM layer."""

    def __init__(self, model: nn.Module):
        self.layers = {name.removesuffix(".attn"): m for name, m in model.named_modules()
                       if isinstance(m, EmimAttention)}
        if not self.layers:
            raise ValueError(f"{type(model).__name__} has no EMIM layer (UNIFORMER.ATTN_LAYERS, or ATTN_TYPE / "
                             "CONTINUOUS_ATTN, name 'emim' in no block): there is no cost volume to show")
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


class AttentionInputs:
    """`with AttentionInputs(model, names) as rec: model(x)`: then `rec.tokens` maps each block name
    ("blocks3.0", its token mixer `<name>.attn` an AttentionLayer of any registered type) to the tokens that
    mixer received in the last forward pass, [B, T, H, W, C] (detached). ValueError naming a block that
    has no attention."""

    def __init__(self, model: nn.Module, names: list[str]):
        modules = dict(model.named_modules())
        missing = [n for n in names if not isinstance(modules.get(f"{n}.attn"), AttentionLayer)]
        if missing:
            raise ValueError(f"{type(model).__name__} has no attention block named {missing}")
        self.layers = {n: modules[f"{n}.attn"] for n in names}
        self.tokens: dict[str, Tensor] = {}
        self._handles = []

    def _hook(self, name: str):
        def record(module, args):
            x, (t, h, w) = args
            self.tokens[name] = x.detach().reshape(x.shape[0], t, h, w, x.shape[-1])
        return record

    def __enter__(self) -> "AttentionInputs":
        self._handles = [m.register_forward_pre_hook(self._hook(name)) for name, m in self.layers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []
