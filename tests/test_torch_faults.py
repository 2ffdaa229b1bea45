"""CPU kernels on the strided / channels-last layouts the model makes at batch 1, against finite differences.

At N = 1 a tensor's batch stride is free, and elementwise ops that mix a channels-last and a contiguous
operand leave [1, C, T, H, W] with strides (C, 1, H*W*C, W*C, C) ("n1_channels_last" below), as does
`tokens.transpose(1, 2).reshape(...)` of [1, T*H*W, C] tokens. torch 2.15's CPU BatchNorm backward is
wrong when exactly one of its input and its incoming gradient has that layout and the other is contiguous;
the model avoids it by handing the BatchNorm kernel a dense channels-last copy of its input
(slowfast/models/layers.py BatchNorm3d). The other kernels the model feeds such layouts are right.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from emim_naive import emim_naive
from finite_diff import along, finite_difference, random_directions

from slowfast.ops import emim_attention
from slowfast.ops.emim_ext import load_error

C, T, H, W = 8, 2, 4, 4
FIXED = ("torch fixed the BatchNorm channels-last N=1 backward; the workaround in slowfast/models/layers.py "
         "BatchNorm3d (a dense channels-last copy of the input) can go")


def _layout(x, layout):
    """x [N, C, T, H, W] (any strides) as a fresh tensor of the named layout, same values."""
    if layout == "contiguous":
        return x.clone(memory_format=torch.contiguous_format)
    if layout == "channels_last":
        return x.clone(memory_format=torch.channels_last_3d)
    if layout == "n1_channels_last":  # what transpose(1, 2).reshape(...) of [N, T*H*W, C] tokens gives
        tokens = x.permute(0, 2, 3, 4, 1).reshape(x.shape[0], -1, x.shape[1]).contiguous()
        return tokens.transpose(1, 2).reshape(x.shape)
    raise ValueError(layout)


def _check_module(module, x, grad_out, fn=None):
    """{input, parameters}: (autograd with `grad_out` as the incoming gradient, finite difference) of sum(f(x) g)."""
    fn = fn or module
    x = x.detach().requires_grad_()
    groups = {"input": [x], "parameters": list(module.parameters())}
    directions = random_directions(groups, seed=1)
    grads = torch.autograd.grad(fn(x), [x, *groups["parameters"]], grad_outputs=grad_out)
    autograd = {"input": along(grads[:1], directions["input"]),
                "parameters": along(grads[1:], directions["parameters"])}

    def loss():
        return (fn(x) * grad_out).sum()

    return {k: (autograd[k], finite_difference(loss, groups[k], directions[k])) for k in groups}


def _close(results):
    return all(abs(a - f) <= 1e-6 * (1 + abs(f)) for a, f in results.values())


def _batchnorm(train):
    bn = nn.BatchNorm3d(C).double().train(train)
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5), bn.bias.normal_(), bn.running_mean.normal_(), bn.running_var.uniform_(0.5, 2)
    return bn


def _assert_n1_channels_last(x):
    assert x.shape[0] == 1 and x.stride()[:2] == (C, 1) and x.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_torch_batchnorm3d_backward_still_wrong_on_n1_channels_last(train):
    """The fault itself: the issue's repro, [1, T*H*W, C] tokens transposed and reshaped to [1, C, T, H, W]."""
    bn = _batchnorm(train)
    base = torch.randn(1, C, T, H, W, dtype=torch.float64)
    grad_out = torch.randn(1, C, T, H, W, dtype=torch.float64)
    strided = _layout(base, "n1_channels_last")
    _assert_n1_channels_last(strided)
    assert _close(_check_module(bn, base, grad_out))  # the reference itself is sound
    two = torch.randn(2, C, T, H, W, dtype=torch.float64)
    assert _close(_check_module(bn, _layout(two, "n1_channels_last"), torch.randn_like(two)))  # fine at N = 2
    assert _close(_check_module(bn, strided, _layout(grad_out, "n1_channels_last")))  # fine if both agree
    assert not _close(_check_module(bn, strided, grad_out)), FIXED
    assert not _close(_check_module(bn, base, _layout(grad_out, "n1_channels_last"))), FIXED


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("grad", ["contiguous", "expanded"])
def test_batchnorm3d_right_on_what_the_model_gives_it(batch, grad):
    """Contiguous input; the incoming gradient contiguous (from a convolution) or expanded (from the head's mean)."""
    bn = _batchnorm(train=True)
    x = torch.randn(batch, C, T, H, W, dtype=torch.float64)
    grad_out = torch.randn(batch, C, 1, 1, 1, dtype=torch.float64).expand_as(x)
    assert _close(_check_module(bn, x, grad_out if grad == "expanded" else grad_out.contiguous()))


KERNELS = {
    "conv_depthwise_3": lambda: nn.Conv3d(C, C, 3, padding=1, groups=C),
    "conv_depthwise_5": lambda: nn.Conv3d(C, C, 5, padding=2, groups=C),
    "conv_1x1x1": lambda: nn.Conv3d(C, 2 * C, 1),
    "conv_patch_embed": lambda: nn.Conv3d(C, 2 * C, (3, 2, 2), (1, 2, 2), (1, 0, 0)),
    "layer_norm_channels": lambda: nn.LayerNorm(C),
}


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "n1_channels_last"])
@pytest.mark.parametrize("grad_layout", ["contiguous", "n1_channels_last"])
@pytest.mark.parametrize("kernel", sorted(KERNELS))
@pytest.mark.parametrize("batch", [1, 2])
def test_kernels_right_on_strided_layouts(kernel, layout, grad_layout, batch):
    """Conv3d (as pos_embed, attn, conv1/2, mlp, patch embedding) and LayerNorm over channels (PatchEmbed,
    norm1/norm2 of the attention blocks, on permuted / transposed views)."""
    module = KERNELS[kernel]().double()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = _layout(torch.randn(batch, C, T, H, W, dtype=torch.float64), layout)
    if kernel == "layer_norm_channels":
        fn = lambda t: module(t.permute(0, 2, 3, 4, 1))  # noqa: E731
        grad_out = torch.randn(batch, T, H, W, C, dtype=torch.float64)
        if grad_layout != "contiguous":
            grad_out = _layout(grad_out.permute(0, 4, 1, 2, 3), grad_layout).permute(0, 2, 3, 4, 1)
    else:
        fn = module
        grad_out = _layout(module(x).detach().normal_(), grad_layout)
    assert _close(_check_module(module, x, grad_out, fn))


@pytest.mark.parametrize("batch", [1, 2])
def test_sdpa_and_linear_right_on_the_attention_views(batch):
    """GlobalAttention: q, k, v permuted views of the qkv Linear output; the Linear on transposed tokens."""
    tokens, heads, d = 12, 2, 4
    qkv = nn.Linear(C, 3 * heads * d).double()
    x = _layout(torch.randn(batch, C, 3, 2, 2, dtype=torch.float64), "n1_channels_last")

    def fn(t):
        q, k, v = qkv(t.flatten(2).transpose(1, 2)).view(batch, tokens, 3, heads, d).permute(2, 0, 3, 1, 4)
        return F.scaled_dot_product_attention(q, k, v, scale=0.4)

    grad_out = torch.randn(batch, tokens, heads, d, dtype=torch.float64).transpose(1, 2)
    assert _close(_check_module(qkv, x, grad_out, fn))


BACKENDS = ["torch"] + ([] if load_error("cpu") else ["cpu"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_emim_op_right_at_batch_1_on_strided_views_and_gradients(backend):
    """The EMIM op at batch 1 on q, k, v views with an N = 1 batch stride, gradients arriving transposed."""
    n, d, K = 2, 3, 3
    qkv = torch.randn(1, T * H * W, 3 * n * d, dtype=torch.float64)
    qkv = qkv.transpose(1, 2).contiguous().transpose(1, 2).requires_grad_()  # strides (3nd, 1, T*H*W)
    rpb = torch.randn(n, K, K, dtype=torch.float64, requires_grad=True)
    q, k, v = qkv.view(1, T, H, W, 3, n, d).unbind(4)
    cost, context = emim_attention(q, k, v, rpb, 0.4, backend)
    g_cost = torch.randn(1, T, H, W, K * K, n, dtype=torch.float64).transpose(-1, -2)
    g_context = torch.randn(1, T, H, W, d, n, dtype=torch.float64).transpose(-1, -2)
    got = torch.autograd.grad((cost, context), (qkv, rpb), (g_cost, g_context))
    ref_cost, ref_context = emim_naive(q, k, v, rpb, 0.4)
    want = torch.autograd.grad((ref_cost, ref_context), (qkv, rpb), (g_cost, g_context))
    torch.testing.assert_close(cost, ref_cost)
    torch.testing.assert_close(context, ref_context)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)
