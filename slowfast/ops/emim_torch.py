"""Pure-PyTorch EMIM cost volume and context (docs/model_and_kernels.md, 'The EMIM op'), the reference every kernel
meets.

Formulation (the fastest one in plain PyTorch on CPU): per frame pair and head, one dense GEMM of the
queries against every key of the 1e-6-padded next frame, a gather of each query's K x K window from
it, a float32 softmax, a scatter of the weights back into the dense layout, and one GEMM with the
padded values. No K*K-times copy of keys or values is ever made.
"""

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

# Keys and values outside the frame are this constant in every channel (the released code pads with it).
BORDER_VALUE = 1e-6


def window_index(height: int, width: int, window: int, device: torch.device) -> Tensor:
    """Flat index into the padded (H + 2r) x (W + 2r) grid of each query's K x K window.

    Returns [H*W, K*K] int64: entry (i*W + j, u*K + v) is (i + u) * (W + 2r) + (j + v).
    """
    r = window // 2
    padded_width = width + 2 * r
    rows = torch.arange(height, device=device).view(-1, 1, 1, 1) + torch.arange(window, device=device).view(1, 1, -1, 1)
    cols = torch.arange(width, device=device).view(1, -1, 1, 1) + torch.arange(window, device=device).view(1, 1, 1, -1)
    return (rows * padded_width + cols).reshape(height * width, window * window)


def padded_frames(x: Tensor, r: int) -> Tensor:
    """[B, T', H, W, n, d] -> [B*T'*n, (H+2r)*(W+2r), d], padded with BORDER_VALUE."""
    x = rearrange(x, "b t h w n d -> (b t n) d h w")
    x = F.pad(x, (r, r, r, r), value=BORDER_VALUE)
    return rearrange(x, "m d h w -> m (h w) d")


def window_cost(q: Tensor, k: Tensor, rpb: Tensor, scale: float) -> Tensor:
    """q, k: [B, T, H, W, n, d]; rpb: [n, K, K] -> the cost volume of frame pairs (t, t+1), t < T-1:
    [B*(T-1)*n, H*W, K*K] (scale * <q, k> + rpb), from one dense GEMM against the padded next frame and a
    gather of each query's window.
    """
    batch, _, height, width, heads, _ = q.shape
    window = rpb.shape[-1]
    index = window_index(height, width, window, q.device)  # [HW, KK]
    queries = rearrange(q[:, :-1] * scale, "b t h w n d -> (b t n) (h w) d")
    keys = padded_frames(k[:, 1:], window // 2)  # [M, P, d], M = B*(T-1)*n, P = padded H*W
    dense = torch.bmm(queries, keys.transpose(1, 2))  # [M, HW, P]
    cost = torch.gather(dense, 2, index.expand(dense.shape[0], -1, -1))  # [M, HW, KK]
    cost = rearrange(cost, "(b t n) l kk -> b t n l kk", b=batch, n=heads) + rpb.reshape(heads, 1, -1).to(cost.dtype)
    return rearrange(cost, "b t n l kk -> (b t n) l kk")


def repeat_last_pair(x: Tensor, batch: int, heads: int, height: int) -> Tensor:
    """[B*(T-1)*n, H*W, C] per frame pair -> [B, T, H, W, n, C], output frame T-1 a copy of frame T-2
    (released pairing)."""
    x = rearrange(x, "(b t n) (h w) c -> b t h w n c", b=batch, n=heads, h=height)
    last = torch.full((1,), x.shape[1] - 1, device=x.device, dtype=torch.long)
    return torch.cat([x, x.index_select(1, last)], 1)


def emim_attention_torch(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """q, k, v: [B, T, H, W, n, d]; rpb: [n, K, K] -> (cost [B, T, H, W, n, K*K], context [B, T, H, W, n, d]).

    Query frame t meets frame t+1; the last output frame repeats frame T-2's result (released pairing).
    """
    batch, _, height, width, heads, _ = q.shape
    window = rpb.shape[-1]
    index = window_index(height, width, window, q.device)  # [HW, KK]
    cost = window_cost(q, k, rpb, scale)  # [M, HW, KK]
    values = padded_frames(v[:, 1:], window // 2)  # [M, P, d]

    # Softmax in float32 at least (float64 stays float64), whatever the input precision.
    weights = cost.softmax(dim=-1, dtype=torch.promote_types(cost.dtype, torch.float32)).to(values.dtype)
    dense_weights = weights.new_zeros(*weights.shape[:2], values.shape[1]).scatter(2, index.expand_as(weights), weights)
    context = torch.bmm(dense_weights, values)  # [M, HW, d]
    return repeat_last_pair(cost, batch, heads, height), repeat_last_pair(context, batch, heads, height)
