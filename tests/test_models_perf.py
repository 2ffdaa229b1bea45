"""The PERF levers change how the model runs, never what it computes: channels-last-3d, 1x1x1 convolutions
as Linear layers and torch.compile give the logits and gradients of today's contiguous Conv3d model (same
weights), keep the released state-dict keys and shapes (tests/data/tiny_state_dict_keys.json), and
cudnn.benchmark is set by the process set-up."""

import json

import pytest
import torch
import torch.nn as nn
from conftest import DATA
from tiny_cfg import off_initial_values, tiny_cfg

from slowfast.engine.launch import run_process, setup_model
from slowfast.models import build_model
from slowfast.models.layers import PointwiseConv3d

# Dropout and drop path off: the same weights then give the same numbers in train mode (BatchNorm batch stats).
NO_DROP = ("UNIFORMER.DROP_DEPTH_RATE", "0.0")
LEVERS = {"channels_last": ("PERF.CHANNELS_LAST", "True"), "pointwise_linear": ("PERF.POINTWISE_AS_LINEAR", "True"),
          "both": ("PERF.CHANNELS_LAST", "True", "PERF.POINTWISE_AS_LINEAR", "True")}


def _step(model: nn.Module, clip: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Logits of a training-mode forward and every parameter's gradient of a fixed function of them."""
    model.train()
    model.zero_grad(set_to_none=True)
    logits = model([clip])
    (logits * torch.linspace(-1, 1, logits.numel()).view_as(logits)).sum().backward()
    return logits.detach(), {n: p.grad for n, p in model.named_parameters()}


def _assert_gradients_close(grads: dict, reference: dict, tolerance: float) -> None:
    """Each gradient within `tolerance` of its reference, relative to the reference's largest entry (at least
    1e-3 of the model's largest gradient: the biases before a BatchNorm have a gradient of zero in exact
    arithmetic, so only roundoff there)."""
    assert grads.keys() == reference.keys()
    floor = 1e-3 * max(g.abs().max().item() for g in reference.values())
    for name, grad in grads.items():
        scale = max(reference[name].abs().max().item(), floor)
        torch.testing.assert_close(grad / scale, reference[name] / scale, rtol=0, atol=tolerance, msg=name)


@pytest.fixture(scope="module")
def today():
    """Today's model (contiguous, Conv3d) moved off its initial values, a clip, its logits and gradients."""
    torch.manual_seed(0)
    model = off_initial_values(build_model(tiny_cfg("tiny_s16_emim7", *NO_DROP)))
    clip = torch.randn(2, 3, 16, 64, 64)
    return model, clip, *_step(model, clip)


@pytest.mark.parametrize("lever", sorted(LEVERS))
def test_lever_gives_todays_logits_gradients_and_state_dict(today, lever):
    model0, clip, logits0, grads0 = today
    model = build_model(tiny_cfg("tiny_s16_emim7", *NO_DROP, *LEVERS[lever]))
    reference = json.loads((DATA / "tiny_state_dict_keys.json").read_text())["tiny_s16_emim7"]
    assert {k: list(v.shape) for k, v in model.state_dict().items()} == reference
    model.load_state_dict(model0.state_dict(), strict=True)  # a released checkpoint loads unchanged
    saved = model.state_dict()
    for name, value in model0.state_dict().items():  # values too, whatever their layout in memory
        torch.testing.assert_close(saved[name], value, rtol=0, atol=0)
    model.load_state_dict(model0.state_dict(), strict=True)
    logits, grads = _step(model, clip)
    torch.testing.assert_close(logits, logits0, rtol=1e-5, atol=1e-5)
    _assert_gradients_close(grads, grads0, 1e-4)


def _five_d_outputs(model: nn.Module, clip: torch.Tensor) -> dict[str, bool]:
    """{module name: output is channels_last_3d} for every module with a [B, C, T, H, W] output, the
    LayerNorms (whose 5D output is [B, T, H, W, C] tokens) left out."""
    layouts, hooks = {}, []
    for name, module in model.named_modules():
        if name and not isinstance(module, nn.LayerNorm):
            hooks.append(module.register_forward_hook(
                lambda m, i, out, name=name: layouts.__setitem__(
                    name, out.is_contiguous(memory_format=torch.channels_last_3d)) if out.dim() == 5 else None))
    model([clip]).sum().backward()
    for hook in hooks:
        hook.remove()
    return layouts


@pytest.mark.parametrize("pointwise_linear", [False, True])
def test_channels_last_holds_through_every_block(today, pointwise_linear):
    _, clip, _, _ = today
    opts = ["PERF.CHANNELS_LAST", "True", "PERF.POINTWISE_AS_LINEAR", str(pointwise_linear)]
    model = build_model(tiny_cfg("tiny_s16_emim7", *NO_DROP, *opts))
    layouts = _five_d_outputs(model, clip)
    named = {"patch_embed1.proj", "blocks1.0", "blocks1.0.conv1", "blocks1.0.mlp.fc2", "blocks3.0", "norm"}
    assert named <= set(layouts)
    assert [name for name, channels_last in layouts.items() if not channels_last] == []
    conv_weights = {n: p for n, p in model.named_parameters() if p.dim() == 5}
    assert all(p.is_contiguous(memory_format=torch.channels_last_3d) for p in conv_weights.values())
    assert all(p.grad.is_contiguous(memory_format=torch.channels_last_3d) for p in conv_weights.values())
    # today's model: the stem convolution sees the contiguous clip and answers in its layout
    today_layouts = _five_d_outputs(build_model(tiny_cfg("tiny_s16_emim7", *NO_DROP)), clip)
    assert today_layouts["patch_embed1.proj"] is False


def test_pointwise_conv_is_the_linear_of_its_weight_with_exact_gradients():
    torch.manual_seed(0)
    conv = nn.Conv3d(6, 5, 1).double()
    pointwise = PointwiseConv3d.convert(nn.Sequential(conv))[0]
    assert type(pointwise) is PointwiseConv3d and pointwise.weight is conv.weight and pointwise.bias is conv.bias
    x = torch.randn(2, 6, 3, 4, 5, dtype=torch.float64, requires_grad=True)
    naive = torch.einsum("oi,bithw->bothw", conv.weight[:, :, 0, 0, 0], x) + conv.bias.view(1, -1, 1, 1, 1)
    torch.testing.assert_close(pointwise(x), naive)
    torch.testing.assert_close(pointwise(x), nn.functional.conv3d(x, conv.weight, conv.bias))
    assert torch.autograd.gradcheck(pointwise, (x,))  # finite differences, input, weight and bias
    channels_last = x.detach().contiguous(memory_format=torch.channels_last_3d)
    assert pointwise(channels_last).is_contiguous(memory_format=torch.channels_last_3d)


def test_pointwise_conversion_replaces_only_1x1x1_convolutions():
    model = build_model(tiny_cfg("tiny_s16_emim7"))
    pointwise = {n for n, m in model.named_modules() if PointwiseConv3d.is_pointwise(m)}
    assert pointwise == {f"blocks{s}.0.{c}" for s in (1, 2) for c in ("conv1", "conv2", "mlp.fc1", "mlp.fc2")}
    others = {n for n, m in model.named_modules() if type(m) is nn.Conv3d} - pointwise
    PointwiseConv3d.convert(model)
    modules = dict(model.named_modules())
    assert {n for n, m in modules.items() if type(m) is PointwiseConv3d} == pointwise
    assert {n for n, m in modules.items() if type(m) is nn.Conv3d} == others  # depthwise, patchify, pos_embed
    no_decay = model.no_weight_decay()
    assert no_decay == build_model(tiny_cfg("tiny_s16_emim7")).no_weight_decay()


@pytest.mark.parametrize("benchmark", [True, False])
def test_process_setup_sets_cudnn_benchmark(tmp_path, benchmark):
    cfg = tiny_cfg("tiny_s16_emim7", "NUM_GPUS", "0", "OUTPUT_DIR", str(tmp_path), "PERF.CUDNN_BENCHMARK",
                   str(benchmark))
    seen, saved = [], torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = not benchmark
    try:
        run_process(cfg, lambda c: seen.append(torch.backends.cudnn.benchmark))
    finally:
        torch.backends.cudnn.benchmark = saved
    assert seen == [benchmark]


def test_compiled_model_gives_the_eager_logits_and_gradients(today):
    """torch.compile (inductor, on the CPU) of the tiny model, in float64 so that only a real difference
    shows: one training forward and backward against eager mode."""
    model0, clip, _, _ = today
    eager = build_model(tiny_cfg("tiny_s16_emim7", *NO_DROP)).double()
    eager.load_state_dict(model0.state_dict())
    logits0, grads0 = _step(eager, clip.double())
    model, _ = setup_model(tiny_cfg("tiny_s16_emim7", *NO_DROP, "NUM_GPUS", "0", "PERF.COMPILE", "True"))
    assert list(model.state_dict()) == list(model0.state_dict())  # compiled in place: keys unchanged
    model.double().load_state_dict(model0.state_dict())
    try:
        logits, grads = _step(model, clip.double())
    finally:
        torch._dynamo.reset()
    torch.testing.assert_close(logits, logits0, rtol=1e-10, atol=1e-10)
    _assert_gradients_close(grads, grads0, 1e-9)
