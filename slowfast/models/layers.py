"""Layers shared by the UniFormer family."""

import torch
import torch.nn as nn
from torch import Tensor


class QuickGELU(nn.Module):
    """x * sigmoid(1.702 x), the activation of EMIM's motion MLP."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


class Mlp(nn.Module):
    """Token MLP: Linear -> GELU -> Linear, on [..., C]; or 1x1x1 convolutions on [B, C, T, H, W]."""

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0, conv: bool = False):
        super().__init__()
        layer = (lambda i, o: nn.Conv3d(i, o, 1)) if conv else nn.Linear
        self.fc1 = layer(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = layer(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class BatchNorm3d(nn.BatchNorm3d):
    """nn.BatchNorm3d (same parameters and state dict) that normalises a dense channels-last copy of its input.

    torch 2.15's CPU BatchNorm3d backward is wrong at batch 1 when its input and incoming gradient differ in
    layout (one contiguous, the other channels-last), which the permuted and transposed views of this model
    produce (tests/test_torch_faults.py). Making every producer contiguous instead fixes it too, but puts the
    conv blocks' depthwise Conv3d on its contiguous CPU path, 4x slower per training step; a dense
    channels-last input keeps the fast convolutions around it and gives exact gradients (test_models_gradcheck).
    """

    def forward(self, x: Tensor) -> Tensor:
        """x: [B, C, T, H, W] in any layout -> [B, C, T, H, W] channels-last (copied only when x is not dense
        channels-last already: at batch 1 the batch stride decides, which `is_contiguous` ignores)."""
        dense = x.is_contiguous(memory_format=torch.channels_last_3d) and x.stride(0) == x[0].numel()
        return super().forward(x if dense else torch.empty_like(x, memory_format=torch.channels_last_3d).copy_(x))


class PatchEmbed(nn.Module):
    """Conv3d patchify then LayerNorm over channels: [B, C_in, T, H, W] -> [B, C_out, T', H', W']."""

    def __init__(self, in_dim: int, out_dim: int, kernel: tuple[int, int, int], stride: tuple[int, int, int],
                 padding: tuple[int, int, int]):
        super().__init__()
        self.proj = nn.Conv3d(in_dim, out_dim, kernel, stride, padding)
        self.norm = nn.LayerNorm(out_dim, eps=1e-5)

    def forward(self, x: Tensor) -> Tensor:
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class PointwiseConv3d(nn.Conv3d):
    """A 1x1x1 nn.Conv3d computed as a Linear over the channels: [B, C_in, T, H, W] -> [B, C_out, T, H, W].

    Same parameters, initialisation and state dict as the Conv3d it replaces (weight [C_out, C_in, 1, 1, 1],
    bias [C_out]), so released checkpoints load unchanged; only the kernel differs: one GEMM over the
    B*T*H*W positions (cuBLAS / oneDNN matmul) instead of a 3D convolution. On a channels-last input the
    [B, T, H, W, C] view it multiplies is dense, and the output is channels-last again, without copies.
    PERF.POINTWISE_AS_LINEAR selects it (`convert`).
    """

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight.view(self.out_channels, self.in_channels)
        return nn.functional.linear(x.permute(0, 2, 3, 4, 1), weight, self.bias).permute(0, 4, 1, 2, 3)

    @staticmethod
    def is_pointwise(module: nn.Module) -> bool:
        """A plain Conv3d with a 1x1x1 kernel, stride 1, no padding, dilation or groups."""
        return (type(module) is nn.Conv3d and module.kernel_size == (1, 1, 1) and module.stride == (1, 1, 1)
                and module.padding == (0, 0, 0) and module.dilation == (1, 1, 1) and module.groups == 1
                and module.padding_mode == "zeros")

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """`module` with every 1x1x1 Conv3d in it replaced by a PointwiseConv3d holding the same Parameter
        objects (in place, as nn.SyncBatchNorm.convert_sync_batchnorm does; call before building the optimizer)."""
        if cls.is_pointwise(module):
            pointwise = cls(module.in_channels, module.out_channels, 1, bias=module.bias is not None,
                            device=module.weight.device, dtype=module.weight.dtype)
            pointwise.weight, pointwise.bias = module.weight, module.bias
            pointwise.train(module.training)
            return pointwise
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module
