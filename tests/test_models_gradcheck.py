"""Whole-model gradients against central finite differences: a tiny UniFormer in float64.

Loss: (logits * g).sum() + (features * G).sum(), features [B, 128, 2, 2, 2] the output of the final
BatchNorm. The second term is needed in train mode at batch 1: that BatchNorm's statistics then cover
exactly the positions the head averages, so logits = head(norm.bias) and carry no gradient upstream.
Each parameter group (a patch embedding, a stage's blocks, the final norm's weight and bias, the head)
and the input clip gets one random direction; autograd's directional derivative must match the central
finite difference. Windows [3, 7] on a 64x64 clip: stage 3's 4x4 frame is larger than its 3x3 window,
stage 4's 2x2 frame smaller than its 7x7 one. Train mode uses BatchNorm's batch statistics, which are
deterministic; drop path is off.
"""

import logging

import pytest
import torch
from finite_diff import along, finite_difference, random_directions
from tiny_cfg import off_initial_values, tiny_cfg

from slowfast.models import build_model
from slowfast.models.attention import RELEASED_KERNEL_CHANNELS, EmimAttention
from slowfast.ops import emim_attention

logger = logging.getLogger(__name__)

SIZE, CLASSES = 64, 10
BASE = ["UNIFORMER.DROP_DEPTH_RATE", "0.0", "UNIFORMER.ATTN_MAX_DISP", "[3, 7]"]
# One 64-wide head in stage 3, two in stage 4: the released kernel differs from the true gradient there.
HEAD64 = ["UNIFORMER.HEAD_DIM", "64"]
CASES = {
    "default": [],
    "stem_temporal_stride_2": ["UNIFORMER.STEM_TEMPORAL_STRIDE", "2", "DATA.NUM_FRAMES", "4"],
    "checkpointing": ["MODEL.USE_CHECKPOINT", "True", "MODEL.CHECKPOINT_NUM", "[1, 1, 2, 2]"],
    "torch_backend": ["UNIFORMER.EMIM_BACKEND", "torch"],
    "head_dim_64": HEAD64,
}


def _model(opts, train):
    """A tiny float64 UniFormer with every parameter and BatchNorm statistic moved off its initial value."""
    model = build_model(tiny_cfg("tiny_s16_emim7", *BASE, *opts)).double().train(train)
    return off_initial_values(model)


def _groups(model, clip):
    """{"input": [clip], "patch_embed1": [...], "blocks1": [...], ..., "norm.weight": [...], "head": [...]}."""
    groups = {"input": [clip]}
    for name, p in model.named_parameters():
        groups.setdefault(name if name.startswith("norm.") else name.split(".")[0], []).append(p)
    return groups


def _loss(model, clip, g, weights):
    """(logits * g).sum() + (features * weights).sum(), features the final BatchNorm's output."""
    features = []
    hook = model.norm.register_forward_hook(lambda module, args, out: features.append(out))
    logits = model([clip])
    hook.remove()
    return (logits * g).sum() + (features[0] * weights).sum()


def _check(model, batch, reference=None):
    """Autograd of `model` against finite differences of `reference` (default: `model`; same parameter names)."""
    frames = model.temporal_stride * 2  # two token frames: the fewest EMIM takes
    clip = torch.randn(batch, 3, frames, SIZE, SIZE, dtype=torch.float64, requires_grad=True)
    g = torch.randn(batch, CLASSES, dtype=torch.float64)
    weights = torch.randn(batch, *model.norm.weight.shape, *model.forward_features(clip).shape[2:],
                          dtype=torch.float64)
    reference = reference or model
    groups, reference_groups = _groups(model, clip), _groups(reference, clip)
    directions = random_directions(groups)
    flat = [t for tensors in groups.values() for t in tensors]
    grads = iter(torch.autograd.grad(_loss(model, clip, g, weights), flat, allow_unused=True))
    results = {}
    for name, tensors in groups.items():
        autograd = along([next(grads) for _ in tensors], directions[name])
        results[name] = autograd, finite_difference(lambda: _loss(reference, clip, g, weights),
                                                    reference_groups[name], directions[name])
        logger.info("batch %d %s %-18s autograd %+.9f finite difference %+.9f", batch,
                    "train" if model.training else "eval", name, *results[name])
    assert any(abs(finite) > 1e-3 for _, finite in results.values())
    bad = {k: v for k, v in results.items() if abs(v[0] - v[1]) > 1e-6 * (1 + abs(v[1]))}
    assert not bad, f"autograd vs finite difference: {bad}"


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("batch", [1, 2], ids=["batch1", "batch2"])
def test_gradients_match_finite_differences(batch, train):
    _check(_model([], train), batch)


@pytest.mark.parametrize("case", [c for c in CASES if c != "default"])
def test_gradients_match_finite_differences_variants(case):
    _check(_model(CASES[case], train=True), batch=1)


def _released_gradient_as_function(model):
    """`model` with each EMIM op replaced by a function whose true gradient is the released kernel's
    (docs/model_and_kernels.md).

    Channels >= 32 of q, k and v are frozen at their values in the first call, and the context there is its
    change since that call: 0 in value at the first call, while its gradient reaches the softmax weights.
    The op is the torch backend (tested against a naive loop in test_ops_emim.py).
    """
    c = RELEASED_KERNEL_CHANNELS
    for layer in model.modules():
        if isinstance(layer, EmimAttention):
            first = {}

            def op(q, k, v, rpb, scale, backend, first=first):
                if not first:
                    first.update(q=q[..., c:].detach(), k=k[..., c:].detach(), v=v[..., c:].detach())
                q, k, v = (torch.cat([t[..., :c], first[name]], dim=-1) for t, name in ((q, "q"), (k, "k"), (v, "v")))
                cost, context = emim_attention(q, k, v, rpb, scale, backend="torch")
                first.setdefault("high", context[..., c:].detach())
                return cost, torch.cat([context[..., :c], context[..., c:] - first["high"]], dim=-1)

            layer.op = op
    return model


def test_released_kernel_gradients_match_their_formula():
    released = _model(HEAD64 + ["UNIFORMER.EMIM_RELEASED_KERNEL", "True"], train=True)
    reference = _released_gradient_as_function(_model(HEAD64, train=True))
    reference.load_state_dict(released.state_dict())
    assert any(isinstance(m, EmimAttention) and m.head_dim > RELEASED_KERNEL_CHANNELS for m in released.modules())
    _check(released, 1, reference)
