"""The compiled EMIM kernels (`slowfast._C`, backends "cpu" and "cuda") against the pure-PyTorch backend.

The torch backend is itself checked against a naive loop (test_ops_emim.py). Inputs are the strided views
of a qkv Linear output, as in the model: `qkv.view(B, T, H, W, 3, heads, d).unbind(4)`.
"""

import pytest
import torch

from slowfast.config import assert_and_infer_cfg, get_cfg
from slowfast.models.attention import EmimAttention
from slowfast.ops import emim as emim_module
from slowfast.ops import emim_attention, emim_ext, resolve_backend

needs_ext = pytest.mark.skipif(emim_ext.load_error("cpu") is not None, reason="slowfast._C not built")
needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available() or emim_ext.load_error("cuda") is not None, reason="needs CUDA and CUDA kernels"
)

# (B, T, H, W, heads, d, K): odd and non-square frames, T = 2 and 3, frames smaller than the window.
SMALL_SHAPES = [
    (1, 2, 3, 5, 2, 3, 3),
    (2, 3, 4, 3, 1, 2, 3),
    (1, 2, 5, 3, 2, 4, 5),
    (1, 3, 3, 4, 2, 3, 5),
    (1, 3, 2, 1, 1, 2, 5),  # frame smaller than the window
]
STAGE3 = (2, 16, 14, 14, 5, 64, 7)  # EMIM-S stage 3 on CPU: B*T = 2*16, 14x14, 5 heads of 64, K = 7


def _qkv(shape, dtype=torch.float64, device="cpu"):
    """Leaf qkv [B, T, H, W, 3, heads, d] and rpb [heads, K, K]; q, k, v are qkv.unbind(4) (non-contiguous)."""
    B, T, H, W, n, d, K = shape
    qkv = torch.randn(B, T, H, W, 3, n, d, dtype=dtype, device=device, requires_grad=True)
    rpb = torch.randn(n, K, K, dtype=dtype, device=device, requires_grad=True)
    return qkv, rpb


def _outputs_and_grads(qkv, rpb, backend, scale, which, seed=1, cuda_kernel="tensor_core"):
    """Forward, then gradients of <cost, g1> and/or <context, g2> (which: cost, context, both)."""
    cost, context = emim_attention(*qkv.unbind(4), rpb, scale, backend=backend, cuda_kernel=cuda_kernel)
    gen = torch.Generator(device=qkv.device).manual_seed(seed)
    g_cost = torch.randn(cost.shape, generator=gen, device=qkv.device).to(cost.dtype)
    g_context = torch.randn(context.shape, generator=gen, device=qkv.device).to(context.dtype)
    terms = []
    if which in ("cost", "both"):
        terms.append((cost * g_cost).sum())
    if which in ("context", "both"):
        terms.append((context * g_context).sum())
    grads = torch.autograd.grad(sum(terms), (qkv, rpb))
    return (cost.detach(), context.detach(), *grads)


def _assert_matches_torch(shape, dtype, which="both", atol=1e-5, rtol=1e-5, device="cpu", backend="cpu"):
    qkv, rpb = _qkv(shape, dtype, device)
    scale = shape[5] ** -0.5
    got = _outputs_and_grads(qkv, rpb, backend, scale, which)
    want = _outputs_and_grads(qkv, rpb, "torch", scale, which)
    for name, a, b in zip(("cost", "context", "dqkv", "drpb"), got, want):
        assert a.dtype == b.dtype and a.shape == b.shape, name
        torch.testing.assert_close(a, b, atol=atol, rtol=rtol, msg=lambda m, name=name: f"{name}: {m}")


@needs_ext
@pytest.mark.parametrize("shape", SMALL_SHAPES)
@pytest.mark.parametrize("which", ["cost", "context", "both"])
def test_cpu_matches_torch_float64(shape, which):
    _assert_matches_torch(shape, torch.float64, which, atol=1e-12, rtol=1e-12)


@needs_ext
@pytest.mark.parametrize("shape", [(1, 2, 3, 5, 2, 3, 3), (1, 3, 4, 3, 1, 2, 5), (1, 3, 2, 1, 1, 2, 5)])
def test_cpu_gradcheck_float64(shape):
    qkv, rpb = _qkv(shape)

    def f(qkv, rpb):
        return emim_attention(*qkv.unbind(4), rpb, 0.5, backend="cpu")

    assert torch.autograd.gradcheck(f, (qkv, rpb))


@needs_ext
def test_cpu_matches_torch_float32_emim_s_stage3():
    _assert_matches_torch(STAGE3, torch.float32, atol=1e-4, rtol=1e-5)


@needs_ext
@pytest.mark.parametrize("window", [3, 5, 7, 9])
@pytest.mark.parametrize("frames", [2, 3, 16])
def test_cpu_matches_torch_float32_windows_and_frames(window, frames):
    # d = 64 takes the fixed-width path, the other widths the generic one.
    _assert_matches_torch((1, frames, 7, 9, 2, 64, window), torch.float32, atol=1e-4, rtol=1e-5)
    _assert_matches_torch((1, frames, 5, 3, 1, 24, window), torch.float32, atol=1e-4, rtol=1e-5)


@needs_ext
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_cpu_reduced_precision_close_to_float32(dtype):
    # The kernels accumulate in float32; compare with the float32 torch backend on the same rounded inputs.
    qkv, rpb = _qkv((1, 3, 6, 5, 2, 32, 5), torch.float32)
    with torch.no_grad():
        qkv.copy_(qkv.to(dtype))
        rpb.copy_(rpb.to(dtype))
    low = _outputs_and_grads(qkv.detach().to(dtype).requires_grad_(), rpb.detach().to(dtype).requires_grad_(),
                             "cpu", 0.25, "both")
    ref = _outputs_and_grads(qkv, rpb, "torch", 0.25, "both")
    tol = dict(atol=5e-2, rtol=2e-2) if dtype == torch.bfloat16 else dict(atol=1e-2, rtol=1e-2)
    for a, b in zip(low, ref):
        assert a.dtype == dtype
        torch.testing.assert_close(a.float(), b, **tol)


@needs_ext
def test_cpu_contiguous_and_strided_inputs_agree():
    qkv, rpb = _qkv((1, 3, 4, 5, 2, 8, 3), torch.float32)
    q, k, v = qkv.detach().unbind(4)
    assert not q.is_contiguous()
    strided = emim_attention(q, k, v, rpb.detach(), 0.3, backend="cpu")
    dense = emim_attention(q.contiguous(), k.contiguous(), v.contiguous(), rpb.detach(), 0.3, backend="cpu")
    for a, b in zip(strided, dense):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


@needs_ext
def test_cpu_backward_is_deterministic_across_runs_and_threads():
    qkv, rpb = _qkv((2, 4, 9, 7, 2, 64, 5), torch.float32)
    threads = torch.get_num_threads()
    first = _outputs_and_grads(qkv, rpb, "cpu", 0.125, "both")
    second = _outputs_and_grads(qkv, rpb, "cpu", 0.125, "both")
    try:
        torch.set_num_threads(1)
        single = _outputs_and_grads(qkv, rpb, "cpu", 0.125, "both")
    finally:
        torch.set_num_threads(threads)
    for a, b, c in zip(first, second, single):
        assert torch.equal(a, b) and torch.equal(a, c)


@needs_ext
def test_cpu_autocast_runs_in_input_dtype_with_float32_rpb_grad():
    B, T, H, W, n, d, K = 1, 3, 4, 5, 2, 16, 3
    linear = torch.nn.Linear(n * d, 3 * n * d)
    rpb = torch.nn.Parameter(torch.randn(n, K, K))
    x = torch.randn(B, T, H, W, n * d)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q, k, v = linear(x).view(B, T, H, W, 3, n, d).unbind(4)
        cost, context = emim_attention(q, k, v, rpb, d**-0.5, backend="cpu")
    assert q.dtype == cost.dtype == context.dtype == torch.bfloat16
    (cost.float().sum() + context.float().sum()).backward()
    assert rpb.grad.dtype == torch.float32 and linear.weight.grad is not None


@needs_ext
def test_custom_op_registration_passes_opcheck():
    qkv, rpb = _qkv((1, 3, 4, 5, 2, 4, 3), torch.float32)
    q, k, v = qkv.unbind(4)
    op = torch.ops.slowfast.emim_attention.default
    torch.library.opcheck(op, (q, k, v, rpb, 0.5, "tensor_core"))
    cost, context = op(q, k, v, rpb, 0.5, "tensor_core")
    backward = torch.ops.slowfast.emim_attention_backward.default
    torch.library.opcheck(backward, (torch.randn_like(cost), torch.randn_like(context), q.detach(), k.detach(),
                                     v.detach(), rpb.detach(), 0.5, "simt"))


@needs_ext
def test_cpu_torch_compile_smoke():
    # Inductor with the op as one opaque node (about 20 s on 2 cores, mostly C++ codegen of the rest).
    qkv, rpb = _qkv((1, 3, 4, 5, 2, 8, 3), torch.float32)

    def f(qkv, rpb):
        cost, context = emim_attention(*qkv.unbind(4), rpb, 0.5, backend="cpu")
        return cost.sum() + context.square().sum()

    compiled = torch.compile(f, fullgraph=True, backend="inductor")
    got = torch.autograd.grad(compiled(qkv, rpb), (qkv, rpb))
    want = torch.autograd.grad(f(qkv, rpb), (qkv, rpb))
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


@needs_ext
def test_cpp_checks_name_the_fault():
    q = torch.randn(1, 2, 3, 3, 1, 2)
    with pytest.raises(RuntimeError, match="share one dtype"):
        emim_ext._import_extension().emim_forward(q, q, q, torch.randn(1, 3, 3, dtype=torch.float64), 1.0)
    with pytest.raises(RuntimeError, match=r"grad_cost must be \[B, T, H, W, heads, K\*K=9\]"):
        emim_ext._import_extension().emim_backward(torch.randn(1, 2, 3, 3, 1, 4), q, q, q, q, torch.randn(1, 3, 3), 1.0)
    with pytest.raises(RuntimeError, match="cuda_kernel must be 'tensor_core' or 'simt', got 'wmma'"):
        emim_ext._import_extension().emim_forward(q, q, q, torch.randn(1, 3, 3), 1.0, "wmma")


def test_cuda_kernel_choice_is_checked():
    q = torch.randn(1, 2, 3, 3, 1, 2)
    with pytest.raises(ValueError, match=r"cuda_kernel 'wmma' unknown; allowed \('tensor_core', 'simt'\)"):
        emim_attention(q, q, q, torch.randn(1, 3, 3), 1.0, backend="torch", cuda_kernel="wmma")
    cfg = get_cfg()
    cfg.UNIFORMER.EMIM_CUDA_KERNEL = "wmma"
    with pytest.raises(ValueError, match="UNIFORMER.EMIM_CUDA_KERNEL: got 'wmma'; allowed: 'tensor_core', 'simt'"):
        assert_and_infer_cfg(cfg)


@needs_ext
@pytest.mark.parametrize("released_kernel", [False, True])
@pytest.mark.parametrize("cuda_kernel", ["simt", "tensor_core"])
def test_cuda_kernel_reaches_the_extension_forward_and_backward(monkeypatch, cuda_kernel, released_kernel):
    # EmimAttention(cuda_kernel=...) -> emim_attention -> the custom ops -> slowfast._C, in both passes.
    ext, seen = emim_ext._import_extension(), []

    class Recording:
        TORCH_VERSION, WITH_CUDA = ext.TORCH_VERSION, ext.WITH_CUDA

        def emim_forward(self, *args):
            seen.append(("forward", args[-1]))
            return ext.emim_forward(*args)

        def emim_backward(self, *args):
            seen.append(("backward", args[-1]))
            return ext.emim_backward(*args)

    monkeypatch.setattr(emim_ext, "_import_extension", Recording)
    layer = EmimAttention(64, 1, window=3, backend="cpu", released_kernel=released_kernel, cuda_kernel=cuda_kernel)
    layer(torch.randn(1, 2 * 3 * 3, 64), (2, 3, 3)).sum().backward()
    assert seen == [("forward", cuda_kernel), ("backward", cuda_kernel)]
    # and from the config key, as the model builds its layers
    cfg = get_cfg()
    cfg.UNIFORMER.EMIM_CUDA_KERNEL, cfg.UNIFORMER.EMIM_BACKEND = cuda_kernel, "cpu"
    cfg.UNIFORMER.ATTN_MAX_DISP, cfg.UNIFORMER.EMIM_RELEASED_KERNEL = [3, 3], released_kernel
    seen.clear()
    EmimAttention.from_config(cfg, 0, 64, 1)(torch.randn(1, 2 * 3 * 3, 64), (2, 3, 3)).sum().backward()
    assert seen == [("forward", cuda_kernel), ("backward", cuda_kernel)]


class _FakeExtension:
    TORCH_VERSION = torch.__version__
    WITH_CUDA = False


def test_load_error_when_extension_missing(monkeypatch, caplog):
    def missing():
        raise ImportError("No module named 'slowfast._C'")

    monkeypatch.setattr(emim_ext, "_import_extension", missing)
    monkeypatch.setattr(emim_module, "_warned_fallback", False)
    assert "not built" in emim_ext.load_error("cpu") and "make install" in emim_ext.load_error("cpu")
    with pytest.raises(RuntimeError, match="backend 'cpu' unavailable: slowfast._C is not built"):
        emim_attention(*torch.randn(3, 1, 2, 3, 3, 1, 2), torch.randn(1, 3, 3), 1.0, backend="cpu")
    with caplog.at_level("WARNING"):
        assert resolve_backend(None, torch.device("cpu")) == "torch"
    assert "using the pure-PyTorch backend" in caplog.text


def test_load_error_when_built_for_another_torch(monkeypatch):
    fake = type("Old", (_FakeExtension,), {"TORCH_VERSION": "1.0.0"})
    monkeypatch.setattr(emim_ext, "_import_extension", lambda: fake)
    assert f"built for torch 1.0.0 but torch {torch.__version__}" in emim_ext.load_error("cpu")


def test_load_error_when_built_without_cuda(monkeypatch):
    monkeypatch.setattr(emim_ext, "_import_extension", lambda: _FakeExtension)
    assert emim_ext.load_error("cpu") is None
    assert "without CUDA" in emim_ext.load_error("cuda")
    assert "no EMIM kernel for device type 'mps'" in emim_ext.load_error("mps")


# ---- CUDA (skipped without a GPU) ----


@needs_cuda
@pytest.mark.parametrize(
    "dtype, tol",
    [(torch.float32, dict(atol=1e-4, rtol=1e-4)), (torch.float16, dict(atol=2e-2, rtol=1e-2)),
     (torch.bfloat16, dict(atol=1e-1, rtol=5e-2))],
)
@pytest.mark.parametrize("shape", [STAGE3, (8, 16, 7, 7, 8, 64, 7), (1, 3, 5, 9, 2, 48, 3), (1, 2, 3, 2, 1, 160, 9)])
@pytest.mark.parametrize("cuda_kernel", ["tensor_core", "simt"])
def test_cuda_matches_torch(shape, dtype, tol, cuda_kernel):
    # Reduced precision: both backends see the same rounded inputs; compare each with float32 torch.
    qkv, rpb = _qkv(shape, torch.float32, "cuda")
    scale = shape[5] ** -0.5
    ref = _outputs_and_grads(qkv, rpb, "torch", scale, "both")
    low_qkv = qkv.detach().to(dtype).requires_grad_()
    low_rpb = rpb.detach().to(dtype).requires_grad_()
    if dtype != torch.float32:
        ref = _outputs_and_grads(low_qkv.float().detach().requires_grad_(), low_rpb.float().detach().requires_grad_(),
                                 "torch", scale, "both")
    got = _outputs_and_grads(low_qkv, low_rpb, "cuda", scale, "both", cuda_kernel=cuda_kernel)
    for name, a, b in zip(("cost", "context", "dqkv", "drpb"), got, ref):
        assert a.dtype == dtype
        if name == "drpb":  # a sum over B*T*H*W terms: compare relative to its largest entry
            rel = 1e-4 if dtype == torch.float32 else 1e-2
            tol = dict(atol=rel * b.abs().max().item(), rtol=0)
        torch.testing.assert_close(a.float(), b, **tol, msg=lambda m, name=name: f"{name}: {m}")


@needs_cuda
@pytest.mark.parametrize("which", ["cost", "context", "both"])
@pytest.mark.parametrize("window", [3, 5, 7, 9, 11, 13])
def test_cuda_matches_torch_float64_windows(which, window):
    _assert_matches_torch((1, 3, 6, 5, 2, 8, window), torch.float64, which, atol=1e-10, rtol=1e-10,
                          device="cuda", backend="cuda")


@needs_cuda
def test_cuda_gradcheck_float64():
    qkv, rpb = _qkv((1, 3, 4, 3, 2, 3, 3), torch.float64, "cuda")

    def f(qkv, rpb):
        return emim_attention(*qkv.unbind(4), rpb, 0.5, backend="cuda")

    assert torch.autograd.gradcheck(f, (qkv, rpb))


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("cuda_kernel", ["tensor_core", "simt"])
def test_cuda_backward_is_bit_identical_across_runs(dtype, cuda_kernel):
    qkv, rpb = _qkv(STAGE3, dtype, "cuda")
    first = _outputs_and_grads(qkv, rpb, "cuda", 0.125, "both", cuda_kernel=cuda_kernel)
    second = _outputs_and_grads(qkv, rpb, "cuda", 0.125, "both", cuda_kernel=cuda_kernel)
    for a, b in zip(first, second):
        assert torch.equal(a, b)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("shape", [STAGE3, (8, 16, 7, 7, 8, 64, 7)])
def test_cuda_tensor_core_kernels_run_and_agree_with_simt(shape, dtype):
    # The tensor-core kernels round P and dS to 16 bits, the SIMT ones do not: the bits differ where the
    # tensor-core path really ran (no silent fallback at the EMIM-S shapes), the values agree.
    qkv, rpb = _qkv(shape, dtype, "cuda")
    tc = _outputs_and_grads(qkv, rpb, "cuda", 0.125, "both", cuda_kernel="tensor_core")
    simt = _outputs_and_grads(qkv, rpb, "cuda", 0.125, "both", cuda_kernel="simt")
    assert not torch.equal(tc[1], simt[1])  # context
    for name, a, b in zip(("cost", "context", "dqkv", "drpb"), tc, simt):
        tol = dict(atol=1e-1, rtol=5e-2) if name != "drpb" else dict(atol=2e-2 * b.abs().max().item(), rtol=0)
        torch.testing.assert_close(a.float(), b.float(), **tol, msg=lambda m, name=name: f"{name}: {m}")
