"""The EMIM op's pure-PyTorch backend against a naive loop over every query and offset (float64)."""

import pytest
import torch
from emim_naive import emim_naive

from slowfast.ops import emim_attention
from slowfast.ops.emim_torch import window_index

# (B, T, H, W, heads, d, K): small odd, non-square shapes, frames smaller than the window too.
SHAPES = [
    (1, 2, 3, 5, 2, 3, 3),
    (2, 5, 4, 3, 1, 2, 3),
    (1, 2, 5, 3, 2, 4, 5),
    (1, 5, 3, 4, 2, 3, 5),
    (1, 3, 2, 1, 1, 2, 5),  # frame smaller than the window
]


def _qkv(shape, dtype=torch.float64):
    B, T, H, W, n, d, K = shape
    # The layout a qkv Linear gives: [B, T, H, W, 3, heads, d] viewed, then split (non-contiguous views).
    qkv = torch.randn(B, T, H, W, 3, n, d, dtype=dtype, requires_grad=True)
    rpb = torch.randn(n, K, K, dtype=dtype, requires_grad=True)
    return qkv, rpb


@pytest.mark.parametrize("shape", SHAPES)
def test_torch_backend_matches_naive_loop_values_and_gradients(shape):
    qkv, rpb = _qkv(shape)
    q, k, v = qkv.unbind(4)
    assert not q.is_contiguous()
    scale = 0.37
    cost, context = emim_attention(q, k, v, rpb, scale, backend="torch")
    ref_cost, ref_context = emim_naive(q, k, v, rpb, scale)
    torch.testing.assert_close(cost, ref_cost, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(context, ref_context, rtol=1e-12, atol=1e-12)
    g_cost, g_context = torch.randn_like(cost), torch.randn_like(context)
    for which in ("cost", "context", "both"):
        def loss(c, x, which=which):
            return (c * g_cost).sum() * (which != "context") + (x * g_context).sum() * (which != "cost")
        got = torch.autograd.grad(loss(cost, context), (qkv, rpb), retain_graph=True)
        want = torch.autograd.grad(loss(ref_cost, ref_context), (qkv, rpb), retain_graph=True)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)


def test_torch_backend_gradcheck():
    qkv, rpb = _qkv((1, 3, 3, 2, 1, 2, 3))
    def f(qkv, rpb):
        return emim_attention(*qkv.unbind(4), rpb, 0.5, backend="torch")
    assert torch.autograd.gradcheck(f, (qkv, rpb))


def test_hand_computed_border_and_pairing():
    # One head, d = 1, K = 3, a 1x1 frame: every window position but the centre is the 1e-6 border.
    q = torch.tensor([2.0, 3.0]).view(1, 2, 1, 1, 1, 1).double()
    k = torch.tensor([5.0, 7.0]).view(1, 2, 1, 1, 1, 1).double()
    v = torch.tensor([11.0, 13.0]).view(1, 2, 1, 1, 1, 1).double()
    rpb = torch.arange(9.0).view(1, 3, 3).double()
    cost, context = emim_attention(q, k, v, rpb, 0.5, backend="torch")
    # Query frame 0 meets key frame 1 (value 7); output frame 1 repeats output frame 0.
    expected = torch.full((9,), 0.5 * 2.0 * 1e-6).double() + torch.arange(9.0).double()
    expected[4] = 0.5 * 2.0 * 7.0 + 4.0
    torch.testing.assert_close(cost[0, 0, 0, 0, 0], expected)
    torch.testing.assert_close(cost[0, 1], cost[0, 0])
    p = expected.softmax(0)
    expected_context = p[4] * 13.0 + (1 - p[4]) * 1e-6
    torch.testing.assert_close(context[0, 0, 0, 0, 0, 0], expected_context)


def test_window_index_is_centred():
    index = window_index(2, 3, 3, torch.device("cpu"))  # padded grid 4 x 5
    assert index.shape == (6, 9)
    assert index[0, 4].item() == 1 * 5 + 1  # query (0, 0), centre offset -> padded (1, 1)
    assert index[5, 0].item() == 1 * 5 + 2  # query (1, 2), offset (0, 0) -> padded (1, 2)


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(q=torch.randn(1, 2, 3, 3, 1)), r"q must be \[B, T, H, W, heads, d\]"),
        (dict(k=torch.randn(1, 2, 3, 4, 1, 2)), "q, k, v must have one shape"),
        (dict(q=torch.randn(1, 1, 3, 3, 1, 2), k=torch.randn(1, 1, 3, 3, 1, 2), v=torch.randn(1, 1, 3, 3, 1, 2)),
         "needs T >= 2"),
        (dict(rpb=torch.randn(1, 4, 4)), "K odd"),
        (dict(rpb=torch.randn(2, 3, 3)), r"rpb must be \[heads=1"),
        (dict(backend="tpu"), "backend 'tpu' unknown"),
        (dict(backend="cuda"), "cannot run tensors on cpu"),
    ],
)
def test_bad_inputs_name_the_fault(bad, match):
    args = dict(q=torch.randn(1, 2, 3, 3, 1, 2), k=torch.randn(1, 2, 3, 3, 1, 2), v=torch.randn(1, 2, 3, 3, 1, 2),
                rpb=torch.randn(1, 3, 3), scale=1.0, backend="torch")
    args.update(bad)
    with pytest.raises(ValueError, match=match):
        emim_attention(**args)
