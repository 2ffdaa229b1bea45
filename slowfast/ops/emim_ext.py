"""Python face of the compiled EMIM kernels in `slowfast._C` (csrc/emim): custom ops and availability.

`slowfast::emim_attention` (forward, returns (cost, context)) and `slowfast::emim_attention_backward`
are `torch.library` custom ops with fake (meta) implementations, so `torch.compile` traces them as
single graph nodes; the autograd rule recomputes the softmax from q, k, rpb (nothing but the inputs
is saved). Autocast: the op runs in q's dtype (the dtype of the qkv Linear's output, e.g. float16
under CUDA autocast) with rpb cast to it; logits, softmax and every sum inside the kernels are
float32 (float64 for float64 inputs), and cost and context come back in q's dtype. `cuda_kernel` picks
the CUDA kernels ("tensor_core": float16/bfloat16 on tensor cores where the shape fits, else "simt",
the general kernels; docs/model_and_kernels.md); the CPU kernels ignore it.
"""

import importlib
from types import ModuleType

import torch
from torch import Tensor


def _import_extension() -> ModuleType:
    return importlib.import_module("slowfast._C")


# torch.compile evaluates this once while tracing instead of tracing the import machinery.
@torch.compiler.assume_constant_result
def load_error(device_type: str) -> str | None:
    """None if the compiled kernels can run on `device_type` ("cpu" or "cuda"), else why not."""
    try:
        ext = _import_extension()
    except ImportError as err:
        return f"slowfast._C is not built ({err}); run `make install`"
    if ext.TORCH_VERSION != torch.__version__:
        return (
            f"slowfast._C was built for torch {ext.TORCH_VERSION} but torch {torch.__version__} is installed; "
            "rebuild it with `make install`"
        )
    if device_type == "cuda" and not ext.WITH_CUDA:
        return "slowfast._C was built without CUDA (no nvcc or a CPU-only torch at build time); rebuild with nvcc"
    if device_type not in ("cpu", "cuda"):
        return f"slowfast._C has no EMIM kernel for device type {device_type!r}"
    return None


@torch.library.custom_op("slowfast::emim_attention", mutates_args=())
def _emim_attention(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
                    cuda_kernel: str) -> tuple[Tensor, Tensor]:
    cost, context = _import_extension().emim_forward(q, k, v, rpb, scale, cuda_kernel)
    return cost, context


@_emim_attention.register_fake
def _emim_attention_fake(q, k, v, rpb, scale, cuda_kernel):
    window = rpb.shape[-1]
    return q.new_empty((*q.shape[:-1], window * window)), q.new_empty(q.shape)


@torch.library.custom_op("slowfast::emim_attention_backward", mutates_args=())
def _emim_attention_backward(
    grad_cost: Tensor, grad_context: Tensor, q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
    cuda_kernel: str
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    dq, dk, dv, drpb = _import_extension().emim_backward(grad_cost, grad_context, q, k, v, rpb, scale, cuda_kernel)
    return dq, dk, dv, drpb


@_emim_attention_backward.register_fake
def _emim_attention_backward_fake(grad_cost, grad_context, q, k, v, rpb, scale, cuda_kernel):
    return q.new_empty(q.shape), q.new_empty(q.shape), q.new_empty(q.shape), rpb.new_empty(rpb.shape)


def _setup_context(ctx, inputs, output):
    q, k, v, rpb, scale, cuda_kernel = inputs
    ctx.save_for_backward(q, k, v, rpb)
    ctx.scale = scale
    ctx.cuda_kernel = cuda_kernel


def _backward(ctx, grad_cost, grad_context):
    q, k, v, rpb = ctx.saved_tensors
    dq, dk, dv, drpb = _emim_attention_backward(grad_cost, grad_context, q, k, v, rpb, ctx.scale, ctx.cuda_kernel)
    return dq, dk, dv, drpb, None, None


_emim_attention.register_autograd(_backward, setup_context=_setup_context)


def emim_attention_ext(q: Tensor, k: Tensor, v: Tensor, rpb: Tensor, scale: float,
                       cuda_kernel: str = "tensor_core") -> tuple[Tensor, Tensor]:
    """q, k, v: [B, T, H, W, heads, d] (any strides, one dtype); rpb: [heads, K, K], cast to q's dtype;
    cuda_kernel: "tensor_core" or "simt".

    Returns cost [B, T, H, W, heads, K*K] and context [B, T, H, W, heads, d], contiguous, in q's dtype.
    """
    return _emim_attention(q, k, v, rpb.to(q.dtype), float(scale), cuda_kernel)
