"""Parameters and FLOPs of a model with fvcore, counting the EMIM op as the work it does.

fvcore counts one multiply-add as one FLOP (the convention of the UniFormer and SlowFast papers).
The compiled EMIM op appears in a traced graph as one `slowfast::emim_attention` node; its handle
counts the window work: K*K dot products of width d per query for the cost volume and K*K
multiply-adds of width d per query for the context, over the T-1 frame pairs it computes (the last
output frame is a copy). The motion MLP is ordinary Linear layers, which fvcore counts itself.
Global attention runs through `scaled_dot_product_attention`, which fvcore does not know: its handle
counts QK^T and PV, N*N*d each per head.
"""

import math
from typing import Any

import torch.nn as nn
from fvcore.nn import FlopCountAnalysis
from torch import Tensor

EMIM_OP = "slowfast::emim_attention"


def _shape(value: Any) -> list[int]:
    return list(value.type().sizes())


def emim_flop_handle(inputs: list[Any], outputs: list[Any]) -> int:
    """FLOPs of one EMIM op call from its traced input shapes: q [B, T, H, W, n, d], rpb [n, K, K]."""
    batch, frames, height, width, heads, dim = _shape(inputs[0])
    window_area = math.prod(_shape(inputs[3])[1:])
    queries = batch * (frames - 1) * height * width * heads
    return 2 * queries * window_area * dim  # cost volume + context aggregation


def sdpa_flop_handle(inputs: list[Any], outputs: list[Any]) -> int:
    """FLOPs of scaled_dot_product_attention: q [..., N, d], k [..., M, d] -> 2 * N * M * d per batch x head."""
    *lead, queries, dim = _shape(inputs[0])
    keys = _shape(inputs[1])[-2]
    return 2 * math.prod(lead) * queries * keys * dim


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_flops(model: nn.Module, inputs: tuple[Any, ...]) -> tuple[int, dict[str, int]]:
    """Total FLOPs of `model(*inputs)` and the split by operator."""
    analysis = FlopCountAnalysis(model, inputs).set_op_handle(
        EMIM_OP, emim_flop_handle, "aten::scaled_dot_product_attention", sdpa_flop_handle
    )
    analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    return analysis.total(), dict(analysis.by_operator())


def clip_flops(model: nn.Module, clip: Tensor) -> tuple[int, dict[str, int]]:
    """FLOPs of one view: `model([clip])` with clip [1, 3, T, H, W]."""
    was_training = model.training
    model.eval()
    try:
        return count_flops(model, ([clip],))
    finally:
        model.train(was_training)
