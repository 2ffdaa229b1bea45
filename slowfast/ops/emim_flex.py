"""The EMIM op as a user of PyTorch would write it today: FlexAttention for the context, a separate logits op
for the cost volume (FlexAttention returns no scores). A benchmark baseline (tools/bench_kernels.py), not a
backend of `emim_attention`.

Context: per frame pair and head, the queries of frame t against every key of frame t+1 padded with the 1e-6
border, `mask_mod` keeping each query's K x K window
and `score_mod` adding rpb[head, u, v]; FlexAttention's softmax runs in float32. Cost: `window_cost` of the
torch backend (one dense GEMM per pair and a gather). Both repeat the last pair for output frame T-1.
FlexAttention needs torch.compile to be fast (`compiled=True`); on CPU it runs forward only, on inputs
that need no gradient.
"""

import functools

import torch
from einops import rearrange
from torch import Tensor
from torch.nn.attention.flex_attention import BlockMask, create_block_mask, flex_attention

from .emim_torch import padded_frames, repeat_last_pair, window_cost


@functools.lru_cache(maxsize=16)
def _window_mask(height: int, width: int, window: int, device: str) -> BlockMask:
    """Block mask of each query (i, j) of an H x W frame against the keys (i + u, j + v), 0 <= u, v < K, of
    the next frame padded by K // 2 on each side (row-major, (H + K - 1) x (W + K - 1))."""
    padded_width = width + window - 1

    def mask_mod(b, h, q_idx, kv_idx):
        u = kv_idx // padded_width - q_idx // width
        v = kv_idx % padded_width - q_idx % width
        return (u >= 0) & (u < window) & (v >= 0) & (v < window)

    keys = (height + window - 1) * padded_width
    return create_block_mask(mask_mod, None, None, height * width, keys, device=device)


@functools.cache
def _compiled_flex_attention():
    return torch.compile(flex_attention, dynamic=False)


def emim_attention_flex(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
                        compiled: bool = False) -> tuple[Tensor, Tensor]:
    """q, k, v: [B, T, H, W, n, d]; rpb: [n, K, K] -> (cost [B, T, H, W, n, K*K], context [B, T, H, W, n, d])."""
    batch, _, height, width, heads, _ = q.shape
    window = rpb.shape[-1]
    padded_width = width + window - 1
    bias = rpb.reshape(heads, window * window).to(q.dtype)

    def score_mod(score, b, h, q_idx, kv_idx):
        u = kv_idx // padded_width - q_idx // width
        v = kv_idx % padded_width - q_idx % width
        return score + bias[h, (u * window + v).clamp(0, window * window - 1)]  # masked where clamped

    queries = rearrange(q[:, :-1], "b t h w n d -> (b t) n (h w) d")
    keys, values = (rearrange(padded_frames(x[:, 1:], window // 2), "(m n) p d -> m n p d", n=heads) for x in (k, v))
    attend = _compiled_flex_attention() if compiled else flex_attention
    context = attend(queries, keys, values, score_mod=score_mod,
                     block_mask=_window_mask(height, width, window, str(q.device)), scale=scale)
    context = rearrange(context, "m n l d -> (m n) l d")
    cost = window_cost(q, k, rpb, scale)
    return repeat_last_pair(cost, batch, heads, height), repeat_last_pair(context, batch, heads, height)
