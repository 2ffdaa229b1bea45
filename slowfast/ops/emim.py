"""The EMIM op: `emim_attention(q, k, v, rpb, scale, backend=None) -> (cost, context)`.

Semantics: docs/model_and_kernels.md, 'The EMIM op' (pairing, cost volume, context). Inputs are checked once
here, then handed to a backend: "torch" (pure PyTorch, `emim_torch.py`), "cpu" or "cuda" (the `slowfast._C`
extension, `emim_ext.py`). `backend=None` picks cuda for CUDA tensors, cpu otherwise, and falls back to torch
with one warning when the extension is not built. `cuda_kernel` picks the CUDA kernels of the cuda backend:
"tensor_core" (float16/bfloat16 on tensor cores where the shape fits, else the general ones) or "simt" (the
general kernels for every dtype and shape); other backends ignore it.
"""

import logging

import torch
from torch import Tensor

from slowfast.config.defaults import EMIM_BACKENDS as BACKENDS
from slowfast.config.defaults import EMIM_CUDA_KERNELS as CUDA_KERNELS

from . import emim_ext
from .emim_torch import emim_attention_torch

logger = logging.getLogger(__name__)

_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_warned_fallback = False


def check_inputs(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor) -> None:
    """Raise ValueError naming the shape, dtype or device at fault."""
    if q.dim() != 6:
        raise ValueError(f"emim_attention: q must be [B, T, H, W, heads, d], got shape {tuple(q.shape)}")
    if k.shape != q.shape or v.shape != q.shape:
        raise ValueError(
            f"emim_attention: q, k, v must have one shape, got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}"
        )
    frames, heads = q.shape[1], q.shape[4]
    if frames < 2:
        raise ValueError(f"emim_attention: needs T >= 2 frames (each frame meets the next), got T = {frames}")
    if any(size < 1 for size in q.shape):  # not min(): it would pin a symbolic batch size (torch.export)
        raise ValueError(f"emim_attention: empty dimension in q shape {tuple(q.shape)}")
    if rpb.dim() != 3 or rpb.shape[0] != heads or rpb.shape[1] != rpb.shape[2] or rpb.shape[1] % 2 == 0:
        raise ValueError(
            f"emim_attention: rpb must be [heads={heads}, K, K] with K odd, got shape {tuple(rpb.shape)}"
        )
    for name, t in (("q", q), ("k", k), ("v", v), ("rpb", rpb)):
        if t.dtype not in _DTYPES:
            raise ValueError(f"emim_attention: {name} has dtype {t.dtype}; allowed {_DTYPES}")
        if t.device != q.device:
            raise ValueError(f"emim_attention: {name} is on {t.device} but q is on {q.device}")
    if k.dtype != q.dtype or v.dtype != q.dtype:
        raise ValueError(f"emim_attention: q, k, v dtypes differ: {q.dtype}, {k.dtype}, {v.dtype}")


def resolve_backend(backend: str | None, device: torch.device) -> str:
    """The backend that will run on `device`: the one asked for, or the best available one."""
    global _warned_fallback
    if backend not in (None, *BACKENDS):
        raise ValueError(f"emim_attention: backend {backend!r} unknown; allowed None, {BACKENDS}")
    if backend == "torch":
        return backend
    if backend is not None:
        if backend != device.type:
            raise ValueError(f"emim_attention: backend {backend!r} cannot run tensors on {device}")
        error = emim_ext.load_error(device.type)
        if error:
            raise RuntimeError(f"emim_attention: backend {backend!r} unavailable: {error}")
        return backend
    error = emim_ext.load_error(device.type)
    if error is None:
        return device.type
    if not _warned_fallback:
        logger.warning("EMIM kernels unavailable (%s); using the pure-PyTorch backend", error)
        _warned_fallback = True
    return "torch"


def emim_attention(
    q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float, backend: str | None = None,
    cuda_kernel: str = "tensor_core"
) -> tuple[Tensor, Tensor]:
    """Cost volume and context of each query against a K x K window of the next frame.

    q, k, v: [B, T, H, W, heads, d], any strides; rpb: [heads, K, K]; cuda_kernel: one of CUDA_KERNELS.
    Returns cost [B, T, H, W, heads, K*K] (scale * <q, k> + rpb, pre-softmax) and
    context [B, T, H, W, heads, d] (softmax(cost) over the window, in float32, times v).
    """
    check_inputs(q, k, v, rpb)
    if cuda_kernel not in CUDA_KERNELS:
        raise ValueError(f"emim_attention: cuda_kernel {cuda_kernel!r} unknown; allowed {CUDA_KERNELS}")
    if resolve_backend(backend, q.device) == "torch":
        return emim_attention_torch(q, k, v, rpb, scale)
    return emim_ext.emim_attention_ext(q, k, v, rpb, float(scale), cuda_kernel)
