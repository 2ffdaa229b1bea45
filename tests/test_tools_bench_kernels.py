"""tools/bench_kernels.py: the FlexAttention formulation it times (slowfast/ops/emim_flex.py) equals the torch
backend (itself checked against a naive loop in test_ops_emim.py), and its rows per backend and CUDA kernel.

FlexAttention runs forward only on CPU, in eager mode (its math reference; torch.compile is what the benchmark
uses on GPU), so its backward is not checked here.
"""

import sys
import warnings

import pytest
import torch
from conftest import REPO

from slowfast.ops import emim_attention
from slowfast.ops.emim_flex import emim_attention_flex

sys.path.insert(0, str(REPO / "tools"))
import bench_kernels  # noqa: E402


@pytest.mark.parametrize("shape", [
    (2, 3, 5, 7, 2, 16, 5),  # non-square frame, partial FlexAttention blocks
    (1, 2, 2, 3, 1, 8, 7),  # frame smaller than the window, T = 2
    (1, 3, 14, 14, 2, 32, 7),  # EMIM-S stage 3 frame
])
def test_flex_formulation_matches_torch_float64(shape):
    B, T, H, W, heads, d, K = shape
    gen = torch.Generator().manual_seed(0)
    q, k, v = torch.randn(B, T, H, W, 3, heads, d, generator=gen, dtype=torch.float64).unbind(4)
    rpb = torch.randn(heads, K, K, generator=gen, dtype=torch.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # FlexAttention's note that eager mode is slow
        cost, context = emim_attention_flex(q, k, v, rpb, 0.3)
    want_cost, want_context = emim_attention(q, k, v, rpb, 0.3, backend="torch")
    torch.testing.assert_close(cost, want_cost, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(context, want_context, atol=1e-12, rtol=1e-12)


def test_backends_split_cuda_into_its_kernels():
    assert bench_kernels.expand_backends(None, "cuda", ["tensor_core", "simt"]) == [
        "torch", "cuda:tensor_core", "cuda:simt", "released", "flex"]
    assert bench_kernels.expand_backends(None, "cpu", ["tensor_core", "simt"]) == ["torch", "cpu"]
    assert bench_kernels.expand_backends(["cuda", "flex"], "cuda", ["simt"]) == ["cuda:simt", "flex"]
    args = bench_kernels.build_parser().parse_args(["--kernel", "simt"])
    assert args.kernel == ["simt"]
    with pytest.raises(SystemExit):
        bench_kernels.build_parser().parse_args(["--kernel", "wmma"])
