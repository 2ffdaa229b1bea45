"""Token mixers of UniFormer's attention stages: global multi-head self-attention and EMIM.

Both map tokens [B, T*H*W, C] with their (T, H, W) grid to [B, T*H*W, C]; `ATTN_LAYERS` names them.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import Tensor

from slowfast.ops import emim_attention

from .layers import QuickGELU

# Channels per head that the released CUDA kernels handled (EMIM_SPEC 3.7).
RELEASED_KERNEL_CHANNELS = 32


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all T*H*W tokens."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, qk_scale: float | None = None,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        self.num_heads = num_heads
        self.scale = qk_scale or (dim // num_heads) ** -0.5
        self.attn_drop = attn_drop
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> Tensor:
        """x: [B, N, C] -> [B, N, C]."""
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale
        )
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(batch, tokens, dim)))


def released_kernel_emim(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
                         backend: str | None = None) -> tuple[Tensor, Tensor]:
    """The EMIM op as the released 32-channel CUDA kernels computed it, forward and backward (EMIM_SPEC 3.7).

    Shapes as `emim_attention`. Channels >= 32 of each head: q and k count in the cost but get no
    gradient, v gets no gradient, and the context there is 0 in value while its incoming gradient still
    reaches the softmax weights (dP sums over every channel), as in the released backward.
    """
    c = RELEASED_KERNEL_CHANNELS
    if q.shape[-1] <= c:
        return emim_attention(q, k, v, rpb, scale, backend)
    q, k, v = (torch.cat([t[..., :c], t[..., c:].detach()], dim=-1) for t in (q, k, v))
    cost, context = emim_attention(q, k, v, rpb, scale, backend)
    high = context[..., c:]
    return cost, torch.cat([context[..., :c], high - high.detach()], dim=-1)


class EmimAttention(nn.Module):
    """EMIM: each token against a K x K window of the next frame (EMIM_SPEC 3).

    The softmaxed cost volume aggregates values (context branch); the raw cost volume goes through
    `motion_conv`, an MLP shared by the heads (motion branch); their sum per head goes to `proj`.
    """

    def __init__(self, dim: int, num_heads: int, window: int = 7, qkv_bias: bool = True,
                 qk_scale: float | None = None, proj_drop: float = 0.0, motion: bool = True,
                 context: bool = True, relative_position_bias: bool = True, released_kernel: bool = False,
                 backend: str | None = None):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.window = window
        self.use_context = context
        self.op = released_kernel_emim if released_kernel else emim_attention
        self.backend = backend
        if relative_position_bias:
            self.rpb = nn.Parameter(torch.zeros(num_heads, window, window))
        else:
            self.register_buffer("rpb", torch.zeros(num_heads, window, window), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # Hook points (no parameters, identity): forward hooks on them see the raw cost volume
        # [B, T, H, W, n, K*K] (what the motion MLP reads) and the context branch's output [B, T, H, W, n, d].
        self.cost_volume = nn.Identity()
        self.context_output = nn.Identity()
        area = window * window
        self.motion_conv = (
            nn.Sequential(nn.Linear(area, 4 * area), QuickGELU(), nn.Linear(4 * area, self.head_dim))
            if motion else None
        )
        self.init_weights()

    def init_weights(self) -> None:
        """rpb ~ trunc_normal(0.02); motion MLP: Xavier first layer, zero last layer (starts as context only)."""
        if isinstance(self.rpb, nn.Parameter):
            trunc_normal_(self.rpb, std=0.02)
        if self.motion_conv is not None:
            nn.init.xavier_uniform_(self.motion_conv[0].weight)
            nn.init.zeros_(self.motion_conv[0].bias)
            nn.init.zeros_(self.motion_conv[2].weight)
            nn.init.zeros_(self.motion_conv[2].bias)

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> Tensor:
        """x: [B, T*H*W, C] with thw = (T, H, W) -> [B, T*H*W, C]."""
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, *thw, 3, self.num_heads, self.head_dim).unbind(4)
        cost, context = self.op(q, k, v, self.rpb, self.scale, self.backend)  # [B, T, H, W, n, K*K / d]
        cost = self.cost_volume(cost)
        out = self.context_output(context) if self.use_context else None
        if self.motion_conv is not None:
            motion = self.motion_conv(cost)
            out = motion if out is None else out + motion
        return self.proj_drop(self.proj(out.reshape(batch, tokens, dim)))


ATTN_LAYERS = {"global": GlobalAttention, "emim": EmimAttention}
