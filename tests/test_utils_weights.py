"""Loading released 2D ImageNet weights (inflation), video weights and SlowFast checkpoints."""

import pytest
import torch
from tiny_cfg import tiny_cfg

from slowfast.models import build_model
from slowfast.utils.weights import load_weights


def _imagenet_2d_state(model):
    """A generated 2D UniFormer checkpoint: every conv kernel [out, in, t, h, w] as [out, in, h, w],
    no EMIM parameters, a 1000-class head, and one key the video model does not have."""
    state = {}
    for key, value in model.state_dict().items():
        if "motion_conv" in key or key.endswith(".rpb"):
            continue
        if value.dim() == 5:
            state[key] = torch.randn(value.shape[0], value.shape[1], value.shape[3], value.shape[4])
        elif key.startswith("head."):
            state[key] = torch.randn(1000, *value.shape[1:]) if value.dim() == 2 else torch.randn(1000)
        else:
            state[key] = torch.randn_like(value.float()).to(value.dtype)
    state["pre_logits.fc.weight"] = torch.randn(4, 4)
    return state


def test_2d_imagenet_weights_inflate_over_time(tmp_path):
    model = build_model(tiny_cfg())
    fresh_head = model.head.weight.clone()
    state = _imagenet_2d_state(model)
    path = tmp_path / "uniformer_tiny_in1k.pth"
    torch.save({"model": state}, path)
    report = load_weights(model, str(path))

    loaded = model.state_dict()
    w2d = state["patch_embed1.proj.weight"]  # [16, 3, 4, 4] -> [16, 3, 3, 4, 4]
    for t in range(3):
        torch.testing.assert_close(loaded["patch_embed1.proj.weight"][:, :, t], w2d / 3)
    torch.testing.assert_close(loaded["blocks1.0.attn.weight"].sum(2), state["blocks1.0.attn.weight"])
    torch.testing.assert_close(loaded["blocks3.0.attn.qkv.weight"], state["blocks3.0.attn.qkv.weight"])
    torch.testing.assert_close(model.head.weight, fresh_head)  # 1000-class head skipped
    assert any(s.startswith("patch_embed1.proj.weight (16, 3, 4, 4)->(16, 3, 3, 4, 4)") for s in report.inflated)
    assert [s.split()[0] for s in report.skipped] == ["head.weight", "head.bias"]
    assert set(report.missing) == {k for k in loaded if "motion_conv" in k or k.endswith(".rpb")}
    assert report.unexpected == ["pre_logits.fc.weight"]


def test_slowfast_checkpoint_with_ddp_prefix_loads_exactly(tmp_path):
    source = build_model(tiny_cfg())
    target = build_model(tiny_cfg())
    path = tmp_path / "checkpoint_epoch_00001.pyth"
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    torch.save({"model_state": state, "optimizer_state": {}, "epoch": 1}, path)
    report = load_weights(target, str(path), strict=True)
    assert not (report.missing or report.unexpected or report.skipped or report.inflated)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)


def test_strict_load_names_what_differs(tmp_path):
    model = build_model(tiny_cfg())
    path = tmp_path / "other.pth"
    torch.save(build_model(tiny_cfg("tiny_s16_emim5_3")).state_dict(), path)
    with pytest.raises(ValueError, match=r"(?s)other.pth: does not match the model exactly:.*"
                                         r"skipped \(10\): blocks3.0.attn.rpb \(2, 5, 5\) vs model \(4, 7, 7\)"):
        load_weights(model, str(path), strict=True)


def test_refuses_pickled_code_and_non_checkpoints(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"model_state": {"x": torch.zeros(1)}, "hook": print}, path)
    with pytest.raises(Exception, match="weights_only|Unsupported global"):
        load_weights(build_model(tiny_cfg()), str(path))
    path = tmp_path / "list.pth"
    torch.save([1, 2], path)
    with pytest.raises(ValueError, match="list.pth: expected a state dict"):
        load_weights(build_model(tiny_cfg()), str(path))
