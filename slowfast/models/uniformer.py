"""UniFormer for video with EMIM in its attention stages (arXiv 2510.18705)."""

from collections.abc import Callable

import torch
import torch.nn as nn
from timm.layers import DropPath, trunc_normal_
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from .attention import AttentionLayer, attention_layers
from .build import MODEL_REGISTRY
from .layers import BatchNorm3d, Mlp, PatchEmbed

# Spatial stride of patch_embed1 and of each later patch embedding.
STEM_STRIDE, STAGE_STRIDE = 4, 2


class ConvBlock(nn.Module):
    """Stages 1-2: depthwise 5x5x5 convolution as the token mixer. [B, C, T, H, W] -> same."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = BatchNorm3d(dim)
        self.conv1 = nn.Conv3d(dim, dim, 1)
        self.attn = nn.Conv3d(dim, dim, 5, padding=2, groups=dim)
        self.conv2 = nn.Conv3d(dim, dim, 1)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = BatchNorm3d(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop, conv=True)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        x = x + self.drop_path(self.conv2(self.attn(self.conv1(self.norm1(x)))))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class AttentionBlock(nn.Module):
    """Stages 3-4: a token mixer from `attention.py` over the T*H*W tokens. [B, C, T, H, W] -> same."""

    def __init__(self, dim: int, num_heads: int, attn_layer: Callable[[int, int], nn.Module],
                 mlp_ratio: float = 4.0, drop: float = 0.0, drop_path: float = 0.0, layer_scale: float = 0.0):
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = attn_layer(dim, num_heads)
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)
        if layer_scale > 0:
            self.gamma_1 = nn.Parameter(torch.full((dim,), layer_scale))
            self.gamma_2 = nn.Parameter(torch.full((dim,), layer_scale))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.pos_embed(x)
        batch, dim, *thw = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # [B, T*H*W, C]
        mixed = self.attn(self.norm1(tokens), tuple(thw))
        tokens = tokens + self.drop_path(mixed if self.gamma_1 is None else self.gamma_1 * mixed)
        mlp = self.mlp(self.norm2(tokens))
        tokens = tokens + self.drop_path(mlp if self.gamma_2 is None else self.gamma_2 * mlp)
        return tokens.transpose(1, 2).reshape(batch, dim, *thw)


@MODEL_REGISTRY.register()
class Uniformer(nn.Module):
    """UniFormer-S/B for video, each stage 3-4 block's token mixer the attention type UNIFORMER.ATTN_LAYERS (or
    the released ATTN_TYPE / CONTINUOUS_ATTN) names; only it and the attention types' `from_config` read cfg.

    Called as SlowFast models are: `model([clip])`, clip [B, 3, T, H, W] -> logits [B, NUM_CLASSES].
    """

    def __init__(self, cfg):
        super().__init__()
        u = cfg.UNIFORMER
        dims, depths = list(u.EMBED_DIM), list(u.DEPTH)
        self.temporal_stride = u.STEM_TEMPORAL_STRIDE
        drop_path = torch.linspace(0, u.DROP_DEPTH_RATE, sum(depths)).tolist()
        kt = 3 if u.STD else 1
        self.patch_embed1 = PatchEmbed(3, dims[0], (3, STEM_STRIDE, STEM_STRIDE),
                                       (self.temporal_stride, STEM_STRIDE, STEM_STRIDE), (1, 0, 0))
        for i in range(1, 4):
            setattr(self, f"patch_embed{i + 1}",
                    PatchEmbed(dims[i - 1], dims[i], (kt, 2, 2), (1, 2, 2), (kt // 2, 0, 0)))
        self.pos_drop = nn.Dropout(u.DROPOUT_RATE)
        attn_layers = attention_layers(cfg)  # per attention stage, per block: make(dim, num_heads)
        for i in range(4):
            start = sum(depths[:i])
            if i < 2:
                blocks = [ConvBlock(dims[i], u.MLP_RATIO, u.DROPOUT_RATE, drop_path[start + j])
                          for j in range(depths[i])]
            else:
                blocks = [
                    AttentionBlock(dims[i], dims[i] // u.HEAD_DIM, attn_layers[i - 2][j], u.MLP_RATIO,
                                   u.DROPOUT_RATE, drop_path[start + j], u.LAYER_SCALE)
                    for j in range(depths[i])
                ]
            setattr(self, f"blocks{i + 1}", nn.ModuleList(blocks))
        self.norm = BatchNorm3d(dims[-1])
        self.head = nn.Linear(dims[-1], cfg.MODEL.NUM_CLASSES)
        self.checkpoint_num = [0] * 4  # blocks recomputed in backward per stage: `set_grad_checkpointing`
        self.channels_last = False  # weights and input clips in channels_last_3d: `set_memory_format`
        self.init_weights()

    def init_weights(self) -> None:
        """Linear: trunc_normal(0.02), zero bias; LayerNorm: 1, 0; then each attention layer's own init."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, AttentionLayer):
                m.init_weights()

    def no_weight_decay(self) -> set[str]:
        """Parameter names exempt from weight decay besides 1D ones: rpb and the positional convolutions."""
        return {n for n, _ in self.named_parameters() if n.endswith(".rpb") or ".pos_embed." in n}

    def set_grad_checkpointing(self, checkpoint_num: list[int]) -> None:
        """Recompute the first checkpoint_num[i] blocks of stage i in backward instead of storing them."""
        self.checkpoint_num = list(checkpoint_num)

    def set_memory_format(self, channels_last: bool) -> None:
        """Store the 5D (Conv3d) weights in torch.channels_last_3d, and convert each input clip to it in
        `forward_features`, when `channels_last`; else torch's contiguous layout. What is computed is the same."""
        self.to(memory_format=torch.channels_last_3d if channels_last else torch.contiguous_format)
        self.channels_last = channels_last

    def _check_input(self, x: Tensor) -> None:
        stride = STEM_STRIDE * STAGE_STRIDE**3
        if x.dim() != 5 or x.shape[1] != 3:
            raise ValueError(f"Uniformer: expected a clip [B, 3, T, H, W], got shape {tuple(x.shape)}")
        _, _, frames, height, width = x.shape
        if height % stride or width % stride:
            raise ValueError(f"Uniformer: H and W must be multiples of the total stride {stride}, got {height}x{width}")
        if frames % self.temporal_stride:
            raise ValueError(
                f"Uniformer: T = {frames} is not a multiple of UNIFORMER.STEM_TEMPORAL_STRIDE = {self.temporal_stride}"
            )

    def forward_features(self, x: Tensor) -> Tensor:
        """x: [B, 3, T, H, W] -> [B, C4, T / stride, H / 32, W / 32] (after the final BatchNorm)."""
        self._check_input(x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last_3d)
        x = self.pos_drop(self.patch_embed1(x))
        for i in range(4):
            if i:
                x = getattr(self, f"patch_embed{i + 1}")(x)
            for j, block in enumerate(getattr(self, f"blocks{i + 1}")):
                if j < self.checkpoint_num[i] and torch.is_grad_enabled():
                    x = checkpoint(block, x, use_reentrant=False)
                else:
                    x = block(x)
        return self.norm(x)

    def forward(self, x: list[Tensor]) -> Tensor:
        """x: [clip [B, 3, T, H, W]] -> logits [B, NUM_CLASSES]."""
        return self.head(self.forward_features(x[0]).mean(dim=(2, 3, 4)))
