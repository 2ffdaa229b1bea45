"""Token mixers of UniFormer's attention stages and their registry: global multi-head self-attention and EMIM.

Each maps tokens [B, T*H*W, C] with their (T, H, W) grid to [B, T*H*W, C]. An attention type is an
`AttentionLayer` subclass registered under the name UNIFORMER.ATTN_LAYERS uses for it
(`@register_attention("name")`); it builds itself from the config (`from_config`), so the backbone knows
none of its arguments. How to add one: docs/model_and_kernels.md#attention-types.
"""

import functools
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import trunc_normal_
from torch import Tensor

from slowfast.config import ConfigError, attention_layer_names
from slowfast.ops import emim_attention

from .layers import QuickGELU

# Channels per head that the released CUDA kernels handled (docs/model_and_kernels.md, 'The released kernel').
RELEASED_KERNEL_CHANNELS = 32


class AttentionLayer(nn.Module):
    """An attention type: `forward(x [B, T*H*W, C], thw=(T, H, W)) -> [B, T*H*W, C]`, built by `from_config`."""

    # Token frames T the layer needs in its input (DATA.NUM_FRAMES / UNIFORMER.STEM_TEMPORAL_STRIDE).
    min_token_frames = 1

    @classmethod
    def from_config(cls, cfg, stage: int, dim: int, num_heads: int) -> "AttentionLayer":
        """The layer of a block of attention stage `stage` (0 = stage 3, 1 = stage 4), width `dim`, with
        `num_heads` heads, its other arguments read from `cfg`."""
        raise NotImplementedError(f"{cls.__name__} must define from_config(cfg, stage, dim, num_heads)")

    def init_weights(self) -> None:
        """The layer's own initialisation, run after the backbone's (trunc_normal Linear, zero bias); by
        default the backbone's is kept."""


# Registered attention types: UNIFORMER.ATTN_LAYERS name -> class.
ATTENTION_TYPES: dict[str, type[AttentionLayer]] = {}


def register_attention(name: str) -> Callable[[type[AttentionLayer]], type[AttentionLayer]]:
    """Class decorator: `cls` becomes the attention type UNIFORMER.ATTN_LAYERS calls `name`."""

    def register(cls: type[AttentionLayer]) -> type[AttentionLayer]:
        if not issubclass(cls, AttentionLayer):
            raise TypeError(f"attention type {name!r}: {cls.__name__} is not an AttentionLayer")
        if name in ATTENTION_TYPES:
            raise ValueError(f"attention type {name!r} is already registered ({ATTENTION_TYPES[name].__name__})")
        ATTENTION_TYPES[name] = cls
        return cls

    return register


def attention_layers(cfg) -> list[list[Callable[[int, int], AttentionLayer]]]:
    """Per attention stage (stage 3, stage 4), per block: `make(dim, num_heads)` building the registered
    attention type that `slowfast.config.attention_layer_names` gives that block. ConfigError naming the key
    for a name that is not registered, or for too few token frames for a type."""
    token_frames = cfg.DATA.NUM_FRAMES // cfg.UNIFORMER.STEM_TEMPORAL_STRIDE
    factories = []
    for stage, names in enumerate(attention_layer_names(cfg)):
        for name in dict.fromkeys(names):
            if name not in ATTENTION_TYPES:
                raise ConfigError(f"config key UNIFORMER.ATTN_LAYERS: stage {stage + 3} names {name!r}; allowed: "
                                  f"the registered attention types {sorted(ATTENTION_TYPES)}")
            needed = ATTENTION_TYPES[name].min_token_frames
            if token_frames < needed:
                raise ConfigError(
                    f"config key DATA.NUM_FRAMES: got {cfg.DATA.NUM_FRAMES}; attention type {name!r} (stage "
                    f"{stage + 3}) needs >= {needed} token frames, NUM_FRAMES / UNIFORMER.STEM_TEMPORAL_STRIDE = "
                    f"{token_frames}; or give stages 3-4 an attention type that needs fewer, e.g. "
                    "UNIFORMER.ATTN_TYPE ['global', 'global']")
        factories.append([functools.partial(ATTENTION_TYPES[n].from_config, cfg, stage) for n in names])
    return factories


@register_attention("global")
class GlobalAttention(AttentionLayer):
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

    @classmethod
    def from_config(cls, cfg, stage: int, dim: int, num_heads: int) -> "GlobalAttention":
        u = cfg.UNIFORMER
        return cls(dim, num_heads, qkv_bias=u.QKV_BIAS, qk_scale=u.QKV_SCALE, attn_drop=u.ATTENTION_DROPOUT_RATE,
                   proj_drop=u.DROPOUT_RATE)

    def forward(self, x: Tensor, thw: tuple[int, int, int]) -> Tensor:
        """x: [B, N, C] -> [B, N, C]."""
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).view(batch, tokens, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        x = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.attn_drop if self.training else 0.0, scale=self.scale
        )
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(batch, tokens, dim)))


def released_kernel_emim(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
                         backend: str | None = None, cuda_kernel: str = "tensor_core") -> tuple[Tensor, Tensor]:
    """The EMIM op as the released 32-channel CUDA kernels computed it, forward and backward.

    Shapes as `emim_attention`. Channels >= 32 of each head: q and k count in the cost but get no
    gradient, v gets no gradient, and the context there is 0 in value while its incoming gradient still
    reaches the softmax weights (dP sums over every channel), as in the released backward.
    """
    c = RELEASED_KERNEL_CHANNELS
    if q.shape[-1] <= c:
        return emim_attention(q, k, v, rpb, scale, backend, cuda_kernel)
    q, k, v = (torch.cat([t[..., :c], t[..., c:].detach()], dim=-1) for t in (q, k, v))
    cost, context = emim_attention(q, k, v, rpb, scale, backend, cuda_kernel)
    high = context[..., c:]
    return cost, torch.cat([context[..., :c], high - high.detach()], dim=-1)


@register_attention("emim")
class EmimAttention(AttentionLayer):
    """EMIM: each token against a K x K window of the next frame (arXiv 2510.18705; docs/model_and_kernels.md).

    The softmaxed cost volume aggregates values (context branch); the raw cost volume goes through
    `motion_conv`, an MLP shared by the heads (motion branch); their sum per head goes to `proj`.
    """

    min_token_frames = 2  # each frame is paired with the next

    def __init__(self, dim: int, num_heads: int, window: int = 7, qkv_bias: bool = True,
                 qk_scale: float | None = None, proj_drop: float = 0.0, motion: bool = True,
                 context: bool = True, relative_position_bias: bool = True, released_kernel: bool = False,
                 backend: str | None = None, cuda_kernel: str = "tensor_core"):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = qk_scale or self.head_dim ** -0.5
        self.window = window
        self.use_context = context
        # cuda_kernel: the CUDA kernels of the op (UNIFORMER.EMIM_CUDA_KERNEL), the same function either way.
        self.op = functools.partial(released_kernel_emim if released_kernel else emim_attention,
                                    cuda_kernel=cuda_kernel)
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

    @classmethod
    def from_config(cls, cfg, stage: int, dim: int, num_heads: int) -> "EmimAttention":
        u = cfg.UNIFORMER
        return cls(dim, num_heads, window=u.ATTN_MAX_DISP[stage], qkv_bias=u.QKV_BIAS, qk_scale=u.QKV_SCALE,
                   proj_drop=u.DROPOUT_RATE, motion=u.EMIM_MOTION, context=u.EMIM_CONTEXT,
                   relative_position_bias=u.EMIM_RPB, released_kernel=u.EMIM_RELEASED_KERNEL,
                   backend=u.EMIM_BACKEND or None,  # the config's "" is the op's None: the best available
                   cuda_kernel=u.EMIM_CUDA_KERNEL)

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

