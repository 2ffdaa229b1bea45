from .emim import BACKENDS, CUDA_KERNELS, emim_attention, resolve_backend
from .emim_torch import BORDER_VALUE, emim_attention_torch

__all__ = ["BACKENDS", "CUDA_KERNELS", "BORDER_VALUE", "emim_attention", "emim_attention_torch", "resolve_backend"]
