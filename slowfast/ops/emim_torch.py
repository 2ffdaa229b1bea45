"""Pure-PyTorch EMIM cost volume and context (EMIM_SPEC section 3), the reference every kernel meets.

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


def _padded_frames(x: Tensor, r: int) -> Tensor:
    """[B, T', H, W, n, d] -> [B*T'*n, (H+2r)*(W+2r), d], padded with BORDER_VALUE."""
    x = rearrange(x, "b t h w n d -> (b t n) d h w")
    x = F.pad(x, (r, r, r, r), value=BORDER_VALUE)
    return rearrange(x, "m d h w -> m (h w) d")


def emim_attention_torch(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    """q, k, v: [B, T, H, W, n, d]; rpb: [n, K, K] -> (cost [B, T, H, W, n, K*K], context [B, T, H, W, n, d]).

    Query frame t meets frame t+1; the last output frame repeats frame T-2's result (released pairing).
    """
    batch, frames, height, width, heads, _ = q.shape
    window = rpb.shape[-1]
    r = window // 2
    index = window_index(height, width, window, q.device)  # [HW, KK]

    queries = rearrange(q[:, :-1] * scale, "b t h w n d -> (b t n) (h w) d")
    keys = _padded_frames(k[:, 1:], r)  # [M, P, d], M = B*(T-1)*n, P = padded H*W
    values = _padded_frames(v[:, 1:], r)
    dense = torch.bmm(queries, keys.transpose(1, 2))  # [M, HW, P]
    cost = torch.gather(dense, 2, index.expand(dense.shape[0], -1, -1))  # [M, HW, KK]
    cost = rearrange(cost, "(b t n) l kk -> b t n l kk", b=batch, n=heads) + rpb.reshape(heads, 1, -1).to(cost.dtype)

    # Softmax in float32 at least (float64 stays float64), whatever the input precision.
    weights = cost.softmax(dim=-1, dtype=torch.promote_types(cost.dtype, torch.float32)).to(values.dtype)
    weights = rearrange(weights, "b t n l kk -> (b t n) l kk")
    dense_weights = weights.new_zeros(dense.shape).scatter(2, index.expand_as(weights), weights)
    context = torch.bmm(dense_weights, values)  # [M, HW, d]

    cost = rearrange(cost, "b t n (h w) kk -> b t h w n kk", h=height)
    context = rearrange(context, "(b t n) (h w) d -> b t h w n d", b=batch, n=heads, h=height)
    # Released pairing: output frame T-1 equals output frame T-2.
    last = torch.full((1,), frames - 2, device=q.device, dtype=torch.long)
    return torch.cat([cost, cost.index_select(1, last)], 1), torch.cat([context, context.index_select(1, last)], 1)
