"""The weight-loading policy (slowfast.utils.weights): released 2D ImageNet weights inflate when fine-tuning,
released video and SlowFast checkpoints load exactly, and every refusal is one line naming the tensors."""

import json
import logging

import pytest
import torch
from conftest import DATA
from tiny_cfg import tiny_cfg

from slowfast.models import build_model
from slowfast.utils.weights import WeightsError, load_weights

RELEASED_KEYS = DATA / "tiny_state_dict_keys.json"


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


def test_2d_imagenet_weights_inflate_over_time_when_fine_tuning(tmp_path, caplog):
    model = build_model(tiny_cfg())
    fresh_head = model.head.weight.clone()
    state = _imagenet_2d_state(model)
    path = tmp_path / "uniformer_tiny_in1k.pth"
    torch.save({"model": state}, path)
    with caplog.at_level(logging.INFO, logger="slowfast.utils.weights"):
        report = load_weights(model, str(path), finetune=True)

    loaded = model.state_dict()
    w2d = state["patch_embed1.proj.weight"]  # [16, 3, 4, 4] -> [16, 3, 3, 4, 4]
    for t in range(3):
        torch.testing.assert_close(loaded["patch_embed1.proj.weight"][:, :, t], w2d / 3)
    torch.testing.assert_close(loaded["blocks1.0.attn.weight"].sum(2), state["blocks1.0.attn.weight"])
    torch.testing.assert_close(loaded["blocks3.0.attn.qkv.weight"], state["blocks3.0.attn.qkv.weight"])
    torch.testing.assert_close(model.head.weight, fresh_head)  # 1000-class head skipped
    assert any(s.startswith("patch_embed1.proj.weight (16, 3, 4, 4)->(16, 3, 3, 4, 4)") for s in report.inflated)
    assert [s.split()[0] for s in report.skipped] == ["head.weight", "head.bias"]
    missing = {k for k in loaded if "motion_conv" in k or k.endswith(".rpb")}
    assert set(report.missing) == missing and len(missing) == 10
    assert report.unexpected == ["pre_logits.fc.weight"]
    # The log lists every skipped, missing and unexpected tensor by name.
    for key in [*missing, "head.weight (1000, 128) vs model (10, 128)", "head.bias", "pre_logits.fc.weight"]:
        assert key in caplog.text, key


def test_2d_imagenet_weights_are_refused_where_loading_is_exact(tmp_path):
    model = build_model(tiny_cfg())
    path = tmp_path / "uniformer_tiny_in1k.pth"
    torch.save({"model": _imagenet_2d_state(model)}, path)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(WeightsError) as err:
        load_weights(model, str(path))
    message = str(err.value)
    assert "\n" not in message and message.startswith(f"{path} is not a checkpoint of the model")
    assert "patch_embed1.proj.weight (16, 3, 4, 4)->(16, 3, 3, 4, 4)" in message  # inflation is a mismatch
    assert "10 model tensors missing from the file: " in message and "blocks3.0.attn.motion_conv.0.weight" in message
    assert "1 unexpected tensors in the file: pre_logits.fc.weight" in message
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # nothing was loaded


def test_released_video_checkpoint_loads_exactly(tmp_path):
    # Keys and shapes of the released model code for this configuration, in SlowFast's checkpoint layout
    # (state dict under model_state) with the DDP prefix of a model saved without unwrapping.
    reference = json.loads(RELEASED_KEYS.read_text())["tiny_s16_emim7"]
    state = {f"module.{k}": torch.randn(shape) if shape else torch.tensor(3) for k, shape in reference.items()}
    path = tmp_path / "checkpoint_epoch_00030.pyth"
    torch.save({"epoch": 30, "model_state": state, "optimizer_state": {}, "cfg": "..."}, path)
    target = build_model(tiny_cfg())
    report = load_weights(target, str(path))
    assert not (report.missing or report.unexpected or report.skipped or report.inflated)
    assert len(report.loaded) == len(reference)
    for key, value in target.state_dict().items():
        torch.testing.assert_close(value, state[f"module.{key}"].to(value.dtype))


def test_exact_load_names_every_tensor_of_another_shape_in_one_line(tmp_path):
    model = build_model(tiny_cfg())
    path = tmp_path / "other.pth"
    torch.save(build_model(tiny_cfg("tiny_s16_emim5_3")).state_dict(), path)
    with pytest.raises(WeightsError) as err:
        load_weights(model, str(path))
    message = str(err.value)
    assert "\n" not in message
    # EMIM 5x3 vs 7x7 windows: in each of the 2 EMIM layers the rpb and the motion MLP's 4 tensors differ.
    assert "(133 tensors): 10 tensors of another shape (file vs model): blocks3.0.attn.rpb (2, 5, 5) vs model " \
           "(4, 7, 7), blocks3.0.attn.motion_conv.0.weight (100, 25) vs model (196, 49), " in message
    assert "blocks4.0.attn.motion_conv.2.bias (32,) vs model (16,); " in message
    # DEPTH [1, 1, 4, 2] vs [1, 1, 2, 2]: blocks3.2 (EMIM, 19 tensors) and blocks3.3 (global, 14) are extra.
    assert "; 33 unexpected tensors in the file: blocks3.2.pos_embed.weight, " in message
    assert "blocks3.3.mlp.fc2.bias. Use weights of this model" in message
    # ... and under fine-tuning too, for a tensor of another shape that is not the classifier.
    with pytest.raises(WeightsError, match=r"blocks3.0.attn.rpb \(2, 5, 5\) vs model \(4, 7, 7\)"):
        load_weights(model, str(path), finetune=True)


def test_fine_tuning_replaces_a_head_of_another_class_count_but_needs_some_tensor_of_the_model(tmp_path):
    source = build_model(tiny_cfg("tiny_s16_emim7", "MODEL.NUM_CLASSES", "174"))
    path = tmp_path / "k400_to_ssv2.pyth"
    torch.save({"model_state": source.state_dict()}, path)
    model = build_model(tiny_cfg())
    report = load_weights(model, str(path), finetune=True)
    assert [s.split()[0] for s in report.skipped] == ["head.weight", "head.bias"]
    torch.testing.assert_close(model.state_dict()["blocks4.1.mlp.fc1.weight"],
                               source.state_dict()["blocks4.1.mlp.fc1.weight"])
    with pytest.raises(WeightsError, match="head.weight \\(174, 128\\) vs model \\(10, 128\\)"):
        load_weights(model, str(path))  # exactly: the head is a mismatch
    unrelated = tmp_path / "resnet.pth"
    torch.save({f"layer{i}.weight": torch.zeros(3) for i in range(7)}, unrelated)
    with pytest.raises(WeightsError, match=r"7 tensors in the file, none with a name and shape of the model's: "
                                           r"layer0.weight, .*, layer4.weight, \.\.\. and 2 more"):
        load_weights(model, str(unrelated), finetune=True)


def test_slowfast_checkpoint_with_ddp_prefix_loads_exactly(tmp_path):
    source = build_model(tiny_cfg())
    target = build_model(tiny_cfg())
    path = tmp_path / "checkpoint_epoch_00001.pyth"
    state = {f"module.{k}": v for k, v in source.state_dict().items()}
    torch.save({"model_state": state, "optimizer_state": {}, "epoch": 1}, path)
    report = load_weights(target, str(path))
    assert not (report.missing or report.unexpected or report.skipped or report.inflated)
    for key, value in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[key], value)


def test_refuses_pickled_code_non_checkpoints_and_absent_files_in_one_line(tmp_path):
    model = build_model(tiny_cfg())
    path = tmp_path / "evil.pth"
    torch.save({"model_state": {"x": torch.zeros(1)}, "hook": print}, path)
    with pytest.raises(WeightsError, match=r"evil.pth cannot be read as weights \(UnpicklingError: .*print") as err:
        load_weights(model, str(path))
    assert "\n" not in str(err.value)
    path = tmp_path / "list.pth"
    torch.save([1, 2], path)
    with pytest.raises(WeightsError, match="list.pth: expected a state dict"):
        load_weights(model, str(path))
    with pytest.raises(WeightsError, match="nothere.pth does not exist"):
        load_weights(model, str(tmp_path / "nothere.pth"))
    with pytest.raises(WeightsError, match="is a folder, not a weights file"):
        load_weights(model, str(tmp_path))
