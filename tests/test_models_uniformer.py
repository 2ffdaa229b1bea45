"""UniFormer + EMIM: released state-dict format, shapes, EMIM semantics against independent references."""

import json

import pytest
import torch
from conftest import DATA
from emim_naive import emim_naive
from tiny_cfg import TINY, tiny_cfg

from slowfast.models import attention, build_model
from slowfast.models.attention import EmimAttention, GlobalAttention, released_kernel_emim


@pytest.mark.parametrize("name", sorted(TINY))
def test_tiny_models_load_released_keys_and_shapes_strictly(name):
    reference = json.loads((DATA / "tiny_state_dict_keys.json").read_text())[name]
    model = build_model(tiny_cfg(name))
    state = {k: torch.randn(shape) if shape else torch.tensor(3) for k, shape in reference.items()}
    model.load_state_dict(state, strict=True)  # raises on any missing/unexpected key or shape
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == reference


@pytest.mark.parametrize("frames, height, width", [(2, 64, 96), (5, 96, 64), (16, 32, 32)])
def test_forward_backward_any_t_and_non_square(frames, height, width):
    model = build_model(tiny_cfg("tiny_s16_emim5_3", "DATA.NUM_FRAMES", str(frames)))
    logits = model([torch.randn(2, 3, frames, height, width)])
    assert logits.shape == (2, 10)
    assert torch.isfinite(logits).all()
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_stem_temporal_stride_two_halves_token_frames():
    model = build_model(tiny_cfg("tiny_s16_emim7", "UNIFORMER.STEM_TEMPORAL_STRIDE", "2", "DATA.NUM_FRAMES", "4"))
    feats = model.eval().forward_features(torch.randn(1, 3, 4, 64, 64))
    assert feats.shape == (1, 128, 2, 2, 2)
    assert model.patch_embed1.proj.weight.shape == (16, 3, 3, 4, 4)  # same weights either way


def test_input_errors_are_clear():
    model = build_model(tiny_cfg())
    with pytest.raises(ValueError, match="multiples of the total stride 32"):
        model([torch.randn(1, 3, 4, 64, 70)])
    with pytest.raises(ValueError, match=r"expected a clip \[B, 3, T, H, W\]"):
        model([torch.randn(1, 4, 64, 64)])
    with pytest.raises(ValueError, match="needs T >= 2"):
        model([torch.randn(1, 3, 1, 64, 64)])


def test_gradient_checkpointing_same_output_and_gradients():
    torch.manual_seed(1)
    plain = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.DROP_DEPTH_RATE", "0.0"))
    ckpt = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.DROP_DEPTH_RATE", "0.0",
                                "MODEL.USE_CHECKPOINT", "True", "MODEL.CHECKPOINT_NUM", "[1, 1, 4, 2]"))
    ckpt.load_state_dict(plain.state_dict())
    plain.eval(), ckpt.eval()  # BatchNorm running stats would be updated twice by recomputation
    x = torch.randn(1, 3, 4, 64, 64)
    out_plain, out_ckpt = plain([x]), ckpt([x])
    torch.testing.assert_close(out_plain, out_ckpt)
    out_plain.sum().backward(), out_ckpt.sum().backward()
    for (name, a), b in zip(plain.named_parameters(), ckpt.parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=name)


def _split_qkv(layer, x, thw):
    qkv = x @ layer.qkv.weight.T + layer.qkv.bias
    return qkv.view(x.shape[0], *thw, 3, layer.num_heads, layer.head_dim).unbind(4)


def test_fresh_emim_layer_equals_its_context_only_computation():
    layer = EmimAttention(dim=8, num_heads=2, window=3).double()
    thw = (3, 2, 3)
    x = torch.randn(2, 18, 8, dtype=torch.float64)
    q, k, v = _split_qkv(layer, x, thw)
    _, context = emim_naive(q, k, v, layer.rpb, layer.scale)
    expected = context.reshape(2, 18, 8) @ layer.proj.weight.T + layer.proj.bias
    torch.testing.assert_close(layer(x, thw), expected)


def test_emim_layer_sums_context_and_motion_mlp():
    layer = EmimAttention(dim=8, num_heads=2, window=3).double()
    torch.nn.init.normal_(layer.motion_conv[2].weight)
    thw = (2, 3, 2)
    x = torch.randn(1, 12, 8, dtype=torch.float64)
    q, k, v = _split_qkv(layer, x, thw)
    cost, context = emim_naive(q, k, v, layer.rpb, layer.scale)
    hidden = cost @ layer.motion_conv[0].weight.T + layer.motion_conv[0].bias
    hidden = hidden * torch.sigmoid(1.702 * hidden)
    motion = hidden @ layer.motion_conv[2].weight.T + layer.motion_conv[2].bias
    expected = (context + motion).reshape(1, 12, 8) @ layer.proj.weight.T + layer.proj.bias
    torch.testing.assert_close(layer(x, thw), expected)


def test_released_kernel_mode_matches_spec_3_7():
    """Forward: context channels >= 32 are 0. Backward: q, k, v get the true gradient on channels < 32
    (dP sums over all channels, as the released backward) and none above; rpb gets the true gradient."""
    B, T, H, W, n, d, K = 1, 3, 2, 3, 2, 40, 3
    qkv = torch.randn(B, T, H, W, 3, n, d, dtype=torch.float64, requires_grad=True)
    rpb = torch.randn(n, K, K, dtype=torch.float64, requires_grad=True)
    cost, context = released_kernel_emim(*qkv.unbind(4), rpb, 0.3, backend="torch")
    ref_cost, ref_context = emim_naive(*qkv.unbind(4), rpb, 0.3)
    torch.testing.assert_close(cost, ref_cost)
    torch.testing.assert_close(context[..., :32], ref_context[..., :32])
    assert (context[..., 32:] == 0).all()
    g_cost, g_context = torch.randn_like(cost), torch.randn_like(context)
    got = torch.autograd.grad((cost * g_cost).sum() + (context * g_context).sum(), (qkv, rpb))
    want = torch.autograd.grad((ref_cost * g_cost).sum() + (ref_context * g_context).sum(), (qkv, rpb))
    torch.testing.assert_close(got[0][..., :32], want[0][..., :32])
    assert (got[0][..., 32:] == 0).all()
    torch.testing.assert_close(got[1], want[1])


def test_released_kernel_mode_changes_nothing_for_head_width_32():
    qkv = torch.randn(1, 2, 2, 2, 3, 1, 32, dtype=torch.float64)
    rpb = torch.randn(1, 3, 3, dtype=torch.float64)
    for a, b in zip(released_kernel_emim(*qkv.unbind(4), rpb, 0.2, "torch"), emim_naive(*qkv.unbind(4), rpb, 0.2)):
        torch.testing.assert_close(a, b)


def _attn_kinds(model, stage):
    return [type(b.attn).__name__ for b in getattr(model, f"blocks{stage}")]


def test_continuous_attn_and_attn_type_place_emim():
    lg = build_model(tiny_cfg("tiny_s16_emim5_3"))
    assert _attn_kinds(lg, 3) == ["EmimAttention", "GlobalAttention"] * 2
    every = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.CONTINUOUS_ATTN", "l",
                                 "UNIFORMER.ATTN_TYPE", "['emim', 'global']"))
    assert _attn_kinds(every, 3) == ["EmimAttention"] * 4
    assert _attn_kinds(every, 4) == ["GlobalAttention"] * 2
    gl = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.CONTINUOUS_ATTN", "gl"))
    assert _attn_kinds(gl, 3) == ["GlobalAttention", "EmimAttention"] * 2


@pytest.mark.parametrize("kernel", ["simt", "tensor_core"])
def test_every_emim_layer_calls_the_op_with_the_configured_cuda_kernel(kernel, monkeypatch):
    calls = []
    op = attention.emim_attention

    def recording(*args, cuda_kernel):
        calls.append(cuda_kernel)
        return op(*args, cuda_kernel=cuda_kernel)

    monkeypatch.setattr(attention, "emim_attention", recording)
    model = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.EMIM_CUDA_KERNEL", kernel))
    model([torch.randn(1, 3, 2, 64, 64)])
    assert calls == [kernel] * 3  # blocks3.0, blocks3.2, blocks4.0


def test_ablation_switches_remove_their_parameters():
    model = build_model(tiny_cfg("tiny_s16_emim7", "UNIFORMER.EMIM_MOTION", "False", "UNIFORMER.EMIM_RPB", "False"))
    keys = model.state_dict().keys()
    assert not any("motion_conv" in k or k.endswith(".rpb") for k in keys)
    assert isinstance(model.blocks3[1].attn, GlobalAttention)
    model([torch.randn(1, 3, 2, 32, 32)]).sum().backward()


def test_context_off_leaves_motion_only():
    layer = EmimAttention(dim=8, num_heads=2, window=3, context=False).double()
    x = torch.randn(1, 12, 8, dtype=torch.float64)
    # Fresh motion head is zero, so with no context the output is the projection bias alone.
    torch.testing.assert_close(layer(x, (2, 3, 2)), layer.proj.bias.expand(1, 12, 8))


def test_no_weight_decay_names_rpb_and_pos_embed():
    model = build_model(tiny_cfg())
    names = model.no_weight_decay()
    params = dict(model.named_parameters())
    assert names <= params.keys()
    assert "blocks3.0.attn.rpb" in names and "blocks1.0.pos_embed.weight" in names
    assert not any("qkv" in n for n in names)


def _saved_bytes(model, x):
    """Bytes the autograd graph keeps for backward after one forward."""
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model([x]).sum()
    return total


def test_gradient_checkpointing_really_saves_activations():
    x = torch.randn(1, 3, 4, 64, 64)
    plain = build_model(tiny_cfg("tiny_s16_emim5_3"))
    ckpt = build_model(tiny_cfg("tiny_s16_emim5_3", "MODEL.USE_CHECKPOINT", "True",
                                "MODEL.CHECKPOINT_NUM", "[1, 1, 4, 2]"))
    assert _saved_bytes(ckpt, x) < 0.5 * _saved_bytes(plain, x)


@pytest.mark.parametrize("batch", [1, 2])
def test_batchnorm_kernels_get_dense_channels_last_input(batch, monkeypatch):
    """torch 2.15's CPU BatchNorm3d backward is wrong at batch 1 on mixed layouts (test_torch_faults.py): every
    BatchNorm of the model hands the kernel a dense channels-last tensor."""
    model = build_model(tiny_cfg("tiny_s16_emim7"))
    seen = []
    batch_norm = torch.nn.functional.batch_norm

    def recording(x, *args, **kwargs):
        seen.append(x.is_contiguous(memory_format=torch.channels_last_3d) and x.stride(0) == x[0].numel())
        return batch_norm(x, *args, **kwargs)

    monkeypatch.setattr(torch.nn.functional, "batch_norm", recording)
    model([torch.randn(batch, 3, 2, 64, 64)])
    assert seen == [True] * 5  # blocks1.0.norm1/norm2, blocks2.0.norm1/norm2, norm
