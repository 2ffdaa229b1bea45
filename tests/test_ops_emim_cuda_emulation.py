"""The CUDA kernels' device code, run on the CPU by an emulation, against the pure-PyTorch backend.

tests/cuda_emulation/ compiles csrc/emim/cuda/emim_cuda_kernels.cuh (SIMT kernels) and
emim_cuda_tc_kernels.cuh (tensor-core kernels) as host C++ (one std::thread per CUDA thread, barriers for
__syncthreads and warp shuffles, NaN-filled shared memory, wmma fragments with the device's
preconditions checked) with the launch sequence of emim_cuda.cu. Every output (cost, context) and
gradient (dq, dk, dv, drpb) is compared with the torch backend run in float64 on the same input values.
A few shapes by default; EMIM_EMULATION_FULL=1 runs the full sweep (SIMT: odd K 3..13, every tile size,
float32/float64, plus float16/bfloat16; tensor cores: odd K 3..13, head widths 16..128, forced warps,
partial tiles, float16/bfloat16; about 10 min on 2 cores).
"""

import itertools
import os
import subprocess

import pytest
import torch
from cuda_emulation import emulator

from slowfast.ops import emim_attention

pytestmark = pytest.mark.skipif(emulator.compiler() is None, reason="no C++ compiler ($CXX or g++)")

FULL = os.environ.get("EMIM_EMULATION_FULL") == "1"
# shared memory per block (opt-in maximum) of an A100 (sm_80) and of sm_86/sm_89 GPUs
A100_SMEM, SM86_SMEM = 166_912, 101_376

# (B, T, H, W, heads, d, K), dtype, forced tile (0: picked as on an H100), incoming-gradient layout.
DEFAULT_CASES = [
    ((1, 3, 5, 7, 2, 16, 5), torch.float64, 0, "strided"),
    ((2, 4, 9, 7, 2, 70, 3), torch.float32, 0, "stride0"),  # d = 70: two channel passes
    ((1, 2, 6, 5, 1, 160, 13), torch.float64, 0, "contiguous"),  # frame smaller than the window, 3 passes
    ((1, 16, 3, 4, 1, 8, 7), torch.float32, 3, "strided"),
    ((1, 3, 7, 6, 2, 33, 9), torch.float64, 4, "stride0"),
    ((1, 3, 5, 4, 2, 24, 11), torch.float32, 1, "contiguous"),
    ((1, 3, 6, 5, 2, 32, 5), torch.float16, 0, "strided"),
    ((1, 3, 6, 5, 2, 32, 5), torch.bfloat16, 0, "strided"),
]


def _full_cases():
    """Every odd K 3..13 x every tile (0 = picked, 1..8) x float32/float64, cycling through head widths,
    frame counts and gradient layouts, on frames with partial tiles in both directions; then float16 and
    bfloat16 at each K."""
    # coprime cycle lengths (5, 4, 3): every width meets every frame count and layout
    widths = itertools.cycle((2, 33, 64, 65, 160))
    frames = itertools.cycle((2, 5, 9, 16))
    layouts = itertools.cycle(("contiguous", "strided", "stride0"))
    cases = []
    for window, tile, dtype in itertools.product(range(3, 14, 2), range(9), (torch.float32, torch.float64)):
        side = 2 if tile == 1 else max(tile, 3)  # tile 1: a 3 x 3 frame keeps the block count down
        shape = (2 if tile in (3, 6) else 1, next(frames), 2 * side - 1, side + 1, 2, next(widths), window)
        cases.append((shape, dtype, tile, next(layouts)))
    for window, dtype in itertools.product(range(3, 14, 2), (torch.float16, torch.bfloat16)):
        cases.append(((1, 3, 6, 5, 2, 32, window), dtype, 0, next(layouts)))
    return cases


CASES = _full_cases() if FULL else DEFAULT_CASES

# Tensor-core kernels: (B, T, H, W, heads, d, K), dtype, forced warps (0: picked as on an H100), layout.
DEFAULT_TC_CASES = [
    ((1, 3, 5, 7, 2, 32, 5), torch.bfloat16, 0, "strided"),  # 35 tokens: a partial last tile
    ((1, 3, 5, 7, 2, 32, 5), torch.float16, 0, "strided"),
    ((1, 2, 14, 14, 1, 64, 7), torch.bfloat16, 0, "contiguous"),  # EMIM-S stage 3 frame, one head
    ((2, 3, 7, 7, 2, 64, 7), torch.float16, 0, "stride0"),  # EMIM-S stage 4 frame
    ((1, 2, 3, 2, 1, 16, 9), torch.bfloat16, 1, "strided"),  # frame smaller than the window, one warp
    ((1, 4, 6, 5, 1, 48, 3), torch.float16, 2, "contiguous"),  # T = 4, d = 48, two warps
]


def _full_tc_cases():
    """Every odd K 3..13 x float16/bfloat16 x forced warps (0 = picked, 1, 2, 4), cycling through head
    widths (multiples of 16 up to 128), frame sizes (partial tiles, rows shorter and longer than a tile)
    and gradient layouts."""
    widths = itertools.cycle((16, 32, 48, 64, 128))
    frames = itertools.cycle(((5, 7), (14, 14), (3, 11), (9, 4), (7, 7), (2, 17), (13, 6)))
    layouts = itertools.cycle(("contiguous", "strided", "stride0"))
    cases = []
    for window, dtype, warps in itertools.product(range(3, 14, 2), (torch.float16, torch.bfloat16), (0, 1, 2, 4)):
        (height, width), dim = next(frames), next(widths)
        if (height, width) == (14, 14) and (window > 7 or dim > 64):  # the backward would not fit an H100
            height, width = 10, 9
        cases.append(((1, 2 + warps % 3, height, width, 1 + warps % 2, dim, window), dtype, warps, next(layouts)))
    return cases


TC_CASES = _full_tc_cases() if FULL else DEFAULT_TC_CASES


@pytest.fixture(scope="module")
def exe():
    return emulator.build()


def _gradient(shape, dtype, layout, gen):
    """An incoming gradient of the given shape: contiguous, a strided view, or expanded (stride 0)."""
    if layout == "contiguous":
        return torch.randn(shape, generator=gen, dtype=dtype)
    if layout == "strided":  # spatial axes swapped in memory, and every other element of the last axis
        wide = torch.randn(*shape[:2], shape[3], shape[2], shape[4], 2 * shape[5], generator=gen, dtype=dtype)
        return wide.transpose(2, 3)[..., ::2]
    assert layout == "stride0"  # one value per (b, h, w, head), shared by every frame and channel
    base = torch.randn(shape[0], 1, *shape[2:5], 1, generator=gen, dtype=dtype)
    return base.expand(shape)


def _inputs(shape, dtype, layout, seed=0):
    """q, k, v (strided views of one qkv tensor, as in the model), rpb and the incoming gradients."""
    B, T, H, W, heads, d, K = shape
    gen = torch.Generator().manual_seed(seed)
    q, k, v = torch.randn(B, T, H, W, 3, heads, d, generator=gen, dtype=dtype).unbind(4)
    rpb = torch.randn(heads, K, K, generator=gen, dtype=dtype)
    grad_cost = _gradient((B, T, H, W, heads, K * K), dtype, layout, gen)
    grad_context = _gradient((B, T, H, W, heads, d), dtype, layout, gen)
    return q, k, v, rpb, grad_cost, grad_context


def _reference(q, k, v, rpb, grad_cost, grad_context, scale):
    """The torch backend in float64 on the same values: outputs and gradients."""
    leaves = [x.detach().double().requires_grad_() for x in (q, k, v, rpb)]
    cost, context = emim_attention(*leaves, scale, backend="torch")
    grads = torch.autograd.grad((cost, context), leaves, (grad_cost.double(), grad_context.double()))
    return dict(zip(emulator.OUTPUTS, (cost.detach(), context.detach(), *grads)))


def _tolerance(dtype):
    """(atol, rtol) of an element against the float64 reference (the tensor-core kernels also round P and
    dS to the input dtype before their products, as FlashAttention does; the same bounds hold)."""
    return {torch.float64: (1e-10, 1e-10), torch.float32: (1e-4, 1e-4), torch.float16: (2e-2, 1e-2),
            torch.bfloat16: (1e-1, 5e-2)}[dtype]


def _assert_matches(got, want, dtype):
    atol, rtol = _tolerance(dtype)
    for name in emulator.OUTPUTS:
        assert got[name].dtype == dtype
        tol = dict(atol=atol, rtol=rtol)
        if name == "drpb":  # a sum over B*T*H*W terms: compared relative to its largest entry
            tol = dict(atol=atol * max(1.0, want[name].abs().max().item()), rtol=0)
        torch.testing.assert_close(got[name].double(), want[name], **tol, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("shape, dtype, tile, layout", CASES, ids=lambda x: str(x).replace(" ", ""))
def test_emulated_cuda_kernels_match_torch(exe, shape, dtype, tile, layout):
    inputs = _inputs(shape, dtype, layout)
    scale = shape[5] ** -0.5
    got = emulator.run_case(exe, *inputs, scale, tile=tile, kernel="simt")
    assert got["kernels"] == {"forward": "simt", "backward": "simt"}
    _assert_matches(got, _reference(*inputs, scale), dtype)


@pytest.mark.parametrize("shape, dtype, warps, layout", TC_CASES, ids=lambda x: str(x).replace(" ", ""))
def test_emulated_tensor_core_kernels_match_torch(exe, shape, dtype, warps, layout):
    inputs = _inputs(shape, dtype, layout)
    scale = shape[5] ** -0.5
    # Odd warps lag by 20 ms after each block barrier: few blocks here, and a missing barrier shows.
    got = emulator.run_case(exe, *inputs, scale, kernel="tensor_core", warps=warps, skew_us=20_000)
    assert got["kernels"] == {"forward": "tensor_core", "backward": "tensor_core"}
    _assert_matches(got, _reference(*inputs, scale), dtype)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("kernel", ["tensor_core", "simt"])
def test_emulated_border_value_shows_at_16_bit(exe, dtype, kernel):
    # The 1e-6 border is below a 16-bit tolerance on random inputs. Here keys and values inside the frame are
    # 0 and the queries large, so the border alone sets the cost outside the frame (scale * 1e-6 * sum q),
    # the context (1e-6 times the weight outside the frame) and dq (the border times dS outside the frame),
    # compared to relative precision (float16 holds 1e-6 as a subnormal, in steps of 6e-8: atol 1e-7).
    shape = (1, 2, 4, 5, 1, 32, 5)
    q, k, v, rpb, grad_cost, grad_context = _inputs(shape, dtype, "contiguous", seed=5)
    q = (1000 + 100 * q).to(dtype)
    k, v, rpb, grad_cost = torch.zeros_like(k), torch.zeros_like(v), torch.zeros_like(rpb), torch.zeros_like(grad_cost)
    got = emulator.run_case(exe, q, k, v, rpb, grad_cost, grad_context, 0.25, kernel=kernel)
    assert got["kernels"]["forward"] == kernel
    want = _reference(q, k, v, rpb, grad_cost, grad_context, 0.25)
    for name in ("cost", "context", "dq"):
        assert want[name].abs().max() > 0, name
        torch.testing.assert_close(got[name].double(), want[name], atol=1e-7, rtol=0.1,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_emulated_kernel_choice_both_kernels_agree(exe):
    # The same bfloat16 inputs through the key's two values: each as asked, each equal to the reference.
    inputs = _inputs((1, 3, 6, 5, 2, 32, 5), torch.bfloat16, "strided", seed=4)
    want = _reference(*inputs, 0.25)
    runs = {kernel: emulator.run_case(exe, *inputs, 0.25, kernel=kernel) for kernel in ("simt", "tensor_core")}
    for kernel, got in runs.items():
        assert got["kernels"] == {"forward": kernel, "backward": kernel}
        _assert_matches(got, want, torch.bfloat16)
    # The same float32 logits, but P rounded to 16 bits before P V on tensor cores only: the context's bits
    # differ (what the GPU test of the two kernels relies on to see that the tensor-core path ran).
    assert torch.equal(runs["simt"]["cost"], runs["tensor_core"]["cost"])
    assert not torch.equal(runs["simt"]["context"], runs["tensor_core"]["context"])


@pytest.mark.parametrize("shape, dtype, smem_limit", [
    ((1, 3, 5, 4, 2, 32, 5), torch.float32, emulator.H100_SMEM),  # float32: the SIMT kernels
    ((1, 3, 5, 4, 2, 40, 5), torch.bfloat16, emulator.H100_SMEM),  # d not a multiple of 16
    ((1, 3, 5, 4, 2, 160, 3), torch.float16, emulator.H100_SMEM),  # d above 128
    ((1, 2, 14, 14, 1, 64, 7), torch.bfloat16, 40_000),  # the frame does not fit
])
def test_emulated_tensor_core_choice_falls_back_to_simt(exe, shape, dtype, smem_limit):
    inputs = _inputs(shape, dtype, "contiguous")
    got = emulator.run_case(exe, *inputs, 0.3, kernel="tensor_core", smem_limit=smem_limit)
    assert got["kernels"] == {"forward": "simt", "backward": "simt"}
    _assert_matches(got, _reference(*inputs, 0.3), dtype)


@pytest.mark.parametrize("smem_limit", [A100_SMEM, SM86_SMEM])
def test_emulated_cuda_kernels_with_less_shared_memory(exe, smem_limit):
    # K = 13 in float64 needs the most shared memory per block: fewer channels per pass there.
    shape = (1, 3, 7, 6, 1, 64, 13)
    inputs = _inputs(shape, torch.float64, "strided")
    got = emulator.run_case(exe, *inputs, 0.125, smem_limit=smem_limit)
    _assert_matches(got, _reference(*inputs, 0.125), torch.float64)


@pytest.mark.parametrize("dtype, dim, kernel", [(torch.float32, 40, "simt"), (torch.bfloat16, 32, "tensor_core")])
def test_emulated_cuda_kernels_are_bit_identical_run_to_run(exe, dtype, dim, kernel):
    inputs = _inputs((2, 3, 9, 7, 2, dim, 5), dtype, "strided", seed=3)
    first = emulator.run_case(exe, *inputs, 0.2, kernel=kernel)
    second = emulator.run_case(exe, *inputs, 0.2, kernel=kernel)
    assert first["kernels"]["backward"] == kernel
    for name in emulator.OUTPUTS:
        assert torch.equal(first[name], second[name]), name


WMMA_MISUSES = {
    # element access: the device's element-to-lane map is unspecified, so the shim has no x[]
    "element access": ("fragment<matrix_a, 16, 16, 16, __half, row_major> a; a.x[0] = __half(1.0f);", "x"),
    "tf32 shape": ("fragment<matrix_a, 16, 16, 8, __half, row_major> a;", "shape not allowed"),
    "float inputs": ("fragment<matrix_a, 16, 16, 16, float, row_major> a;", "matrix_a/matrix_b take"),
}


@pytest.mark.parametrize("misuse", list(WMMA_MISUSES))
def test_emulated_wmma_rejects_what_the_device_does_not_define(misuse, tmp_path):
    code, message = WMMA_MISUSES[misuse]
    source = tmp_path / "misuse.cpp"
    source.write_text(f'#include "cuda_shim.h"\nusing namespace nvcuda::wmma;\nvoid f() {{ {code} }}\n')
    torch_include = emulator.pathlib.Path(torch.__file__).parent / "include"
    result = subprocess.run([emulator.compiler(), "-std=c++20", "-fsyntax-only", f"-I{emulator.HERE}", "-isystem",
                             str(torch_include), str(source)], capture_output=True, text=True)
    assert result.returncode != 0 and message in result.stderr


@pytest.mark.parametrize("misuse, message", [
    ("misaligned", "load_matrix_sync: pointer"),
    ("ldm", "load_matrix_sync: ldm 12 is not a multiple of 8 elements"),
    ("store_ldm", "store_matrix_sync: ldm 18 is not a multiple of 4 elements"),
])
def test_emulated_wmma_checks_the_device_preconditions(exe, misuse, message):
    # `emim_emulation wmma MISUSE` runs one warp that breaks a precondition of the warp matrix functions;
    # `wmma none` the same warp without it, which must pass.
    result = subprocess.run([str(exe), "wmma", misuse], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert subprocess.run([str(exe), "wmma", "none"], capture_output=True, timeout=60).returncode == 0

