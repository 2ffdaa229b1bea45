"""Attention types: the config's names tied to the registry, the released keys as aliases, and a third type.

`FrameWindowAttention` below is what a contributor writes to add an attention type: one class in one file,
registered under the name UNIFORMER.ATTN_LAYERS uses. Nothing else in the repository changes for it to be
configured, built, checked for its frames, initialised, and recorded by `slowfast.visualization.capture`.
"""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from finite_diff import along, finite_difference, random_directions
from test_config import _overrides, _released_runs
from tiny_cfg import off_initial_values, tiny_cfg

from slowfast.config import ConfigError, attention_layer_names, load_config
from slowfast.config.defaults import RELEASED_ATTN_TYPES
from slowfast.models import build_model
from slowfast.models.attention import (
    ATTENTION_TYPES,
    AttentionLayer,
    EmimAttention,
    GlobalAttention,
    register_attention,
)
from slowfast.visualization.capture import AttentionInputs


@register_attention("frame_window")
class FrameWindowAttention(AttentionLayer):
    """Multi-head self-attention of each token over the K x K tokens around it in its own frame, K the stage's
    UNIFORMER.ATTN_MAX_DISP (the window is cut at the frame's edges). [B, T*H*W, C] -> [B, T*H*W, C]."""

    def __init__(self, dim: int, num_heads: int, window: int):
        super().__init__()
        self.num_heads, self.window = num_heads, window
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    @classmethod
    def from_config(cls, cfg, stage: int, dim: int, num_heads: int) -> "FrameWindowAttention":
        return cls(dim, num_heads, cfg.UNIFORMER.ATTN_MAX_DISP[stage])

    def forward(self, x: torch.Tensor, thw: tuple[int, int, int]) -> torch.Tensor:
        batch, tokens, dim = x.shape
        frames, height, width = thw
        q, k, v = self.qkv(x).view(batch * frames, height * width, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        rows, cols = (c.flatten() for c in torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij"))
        reach = self.window // 2
        near = ((rows[:, None] - rows).abs() <= reach) & ((cols[:, None] - cols).abs() <= reach)  # [HW, HW]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=near.to(x.device))  # [B*T, heads, HW, d]
        return self.proj(out.transpose(1, 2).reshape(batch, tokens, dim))


def frame_window_naive(layer: FrameWindowAttention, x: torch.Tensor, thw: tuple[int, int, int]) -> torch.Tensor:
    """The same layer as loops over tokens, heads and window positions."""
    batch, _, dim = x.shape
    frames, height, width = thw
    heads, reach = layer.num_heads, layer.window // 2
    d = dim // heads
    q, k, v = (x @ layer.qkv.weight.T + layer.qkv.bias).view(batch, frames, height, width, 3, heads, d).unbind(4)
    out = torch.zeros(batch, frames, height, width, heads, d, dtype=x.dtype)
    for b in range(batch):
        for t in range(frames):
            for i in range(height):
                for j in range(width):
                    for n in range(heads):
                        around = [(i2, j2) for i2 in range(max(0, i - reach), min(height, i + reach + 1))
                                  for j2 in range(max(0, j - reach), min(width, j + reach + 1))]
                        scores = torch.stack([q[b, t, i, j, n] @ k[b, t, i2, j2, n] for i2, j2 in around]) * d**-0.5
                        weights = torch.softmax(scores, dim=0)
                        out[b, t, i, j, n] = sum(w * v[b, t, i2, j2, n] for w, (i2, j2) in zip(weights, around))
    return out.reshape(batch, -1, dim) @ layer.proj.weight.T + layer.proj.bias


# The mapping docs/config.md#attention-types documents: released UNIFORMER.ATTN_TYPE value -> attention type
# of its 'l' blocks ('g' blocks are "global").
DOCUMENTED_ALIASES = {"emim": "emim", "extra_attn64": "emim", "extra_attn128": "emim",
                      "global": "global", "": "global", "none": "global", "None": "global", None: "global"}
# Released keys (ATTN_TYPE, CONTINUOUS_ATTN) -> the UNIFORMER.ATTN_LAYERS that places the same types.
EQUIVALENT = [
    (["extra_attn64", "extra_attn64"], "lg", [["emim", "global"], ["emim", "global"]]),
    (["extra_attn128", "global"], "l", [["emim"], ["global"]]),
    (["emim", "emim"], "gl", [["global", "emim"], ["global", "emim"]]),
    (["", None], "lg", [["global"], ["global"]]),
    (["emim", "none"], "llg", [["emim", "emim", "global"], ["global"]]),
]
MIXED = "[['frame_window', 'emim'], ['global', 'frame_window']]"


def _kinds(model) -> list[list[type]]:
    return [[type(b.attn) for b in getattr(model, f"blocks{s}")] for s in (3, 4)]


def test_the_third_type_equals_its_naive_loop():
    layer = FrameWindowAttention(8, 2, window=3).double()
    thw = (2, 3, 4)  # a 3x3 window inside a 3x4 frame: cut at every edge, whole nowhere but the centre row
    x = torch.randn(2, 24, 8, dtype=torch.float64)
    torch.testing.assert_close(layer(x, thw), frame_window_naive(layer, x, thw))


def test_the_third_type_builds_in_a_tiny_model_from_its_registered_name():
    cfg = tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.ATTN_LAYERS", MIXED, "DATA.NUM_FRAMES", "2")
    assert attention_layer_names(cfg) == [["frame_window", "emim"] * 2, ["global", "frame_window"]]
    model = build_model(cfg)
    assert _kinds(model) == [[FrameWindowAttention, EmimAttention] * 2, [GlobalAttention, FrameWindowAttention]]
    assert model.blocks3[0].attn.window == 5 and model.blocks4[1].attn.window == 3  # ATTN_MAX_DISP [5, 3]
    logits = model([torch.randn(2, 3, 2, 64, 64)])
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()


def test_the_third_type_gradients_match_finite_differences_in_the_model():
    """Autograd's directional derivative of the model's loss along each frame-window layer's parameters and the
    clip against central finite differences (float64, eval: running BatchNorm statistics, no drop path)."""
    cfg = tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.ATTN_LAYERS", MIXED, "DATA.NUM_FRAMES", "2",
                   "UNIFORMER.DROP_DEPTH_RATE", "0.0")
    model = off_initial_values(build_model(cfg).double().eval())
    clip = torch.randn(2, 3, 2, 96, 96, dtype=torch.float64, requires_grad=True)  # stage 3: 6x6 tokens, K = 5
    g = torch.randn(2, 10, dtype=torch.float64)
    groups = {"input": [clip]}
    for name, m in model.named_modules():
        if isinstance(m, FrameWindowAttention):
            groups[name] = list(m.parameters())
    assert list(groups) == ["input", "blocks3.0.attn", "blocks3.2.attn", "blocks4.1.attn"]
    directions = random_directions(groups)
    flat = [t for tensors in groups.values() for t in tensors]
    grads = iter(torch.autograd.grad((model([clip]) * g).sum(), flat))
    for name, tensors in groups.items():
        autograd = along([next(grads) for _ in tensors], directions[name])
        finite = finite_difference(lambda: (model([clip]) * g).sum(), tensors, directions[name])
        assert abs(finite) > 1e-4, name  # the direction moves the loss
        assert abs(autograd - finite) <= 1e-6 * (1 + abs(finite)), (name, autograd, finite)


@pytest.mark.parametrize("name", sorted(ATTENTION_TYPES))
def test_every_registered_type_is_accepted_and_builds(name):
    cfg = tiny_cfg("tiny_s16_emim7", "UNIFORMER.ATTN_LAYERS", f"[['{name}'], ['{name}']]", "DATA.NUM_FRAMES", "2")
    model = build_model(cfg)
    assert _kinds(model) == [[ATTENTION_TYPES[name]] * 2] * 2
    model([torch.randn(1, 3, 2, 64, 64)]).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_every_value_the_released_keys_accept_names_a_registered_type_as_documented():
    assert set(RELEASED_ATTN_TYPES) == set(DOCUMENTED_ALIASES)  # no accepted value goes undocumented
    for value, name in DOCUMENTED_ALIASES.items():
        cfg = tiny_cfg("tiny_s16_emim7", "UNIFORMER.ATTN_TYPE", repr([value, value]), "UNIFORMER.CONTINUOUS_ATTN", "l")
        assert _kinds(build_model(cfg)) == [[ATTENTION_TYPES[name]] * 2] * 2, value


@pytest.mark.parametrize("attn_type, continuous, attn_layers", EQUIVALENT)
def test_released_keys_build_the_model_their_attn_layers_builds(attn_type, continuous, attn_layers):
    """Same names per block, and the same model: equal state dicts (keys, shapes, values) from the same seed."""
    released = tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.ATTN_TYPE", repr(attn_type),
                        "UNIFORMER.CONTINUOUS_ATTN", continuous)
    named = load_config(None, ["UNIFORMER.EMBED_DIM", "[16, 32, 64, 128]", "MODEL.NUM_CLASSES", "10",
                               "UNIFORMER.HEAD_DIM", "32", "UNIFORMER.DEPTH", "[1, 1, 4, 2]",
                               "UNIFORMER.ATTN_MAX_DISP", "[5, 3]", "DATA.NUM_FRAMES", "16",
                               "UNIFORMER.ATTN_LAYERS", repr(attn_layers)])
    assert attention_layer_names(released) == attention_layer_names(named)
    torch.manual_seed(3)
    a = build_model(released).state_dict()
    torch.manual_seed(3)
    b = build_model(named).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("yaml_path, overrides", list(_released_runs()))
def test_released_configs_place_emim_in_even_blocks(yaml_path, overrides):
    cfg = load_config(str(yaml_path), _overrides(overrides))
    for names, depth in zip(attention_layer_names(cfg), cfg.UNIFORMER.DEPTH[2:]):
        assert names == [("emim", "global")[j % 2] for j in range(depth)]


def test_an_unregistered_name_is_refused_where_the_model_is_built():
    cfg = tiny_cfg("tiny_s16_emim7", "UNIFORMER.ATTN_LAYERS", "[['emim'], ['natten']]")
    with pytest.raises(ConfigError, match=r"UNIFORMER.ATTN_LAYERS: stage 4 names 'natten'; allowed: the registered "
                                          r"attention types \[.*'emim'.*'frame_window'.*'global'\]"):
        build_model(cfg)


def test_token_frames_are_checked_against_what_each_type_declares():
    one_frame = ["DATA.NUM_FRAMES", "1"]
    build_model(tiny_cfg("tiny_s16_emim7", "UNIFORMER.ATTN_LAYERS", "[['frame_window'], ['global']]", *one_frame))
    with pytest.raises(ConfigError, match=r"DATA.NUM_FRAMES: got 1; attention type 'emim' \(stage 4\) needs >= 2"):
        build_model(tiny_cfg("tiny_s16_emim7", "UNIFORMER.ATTN_LAYERS", "[['frame_window'], ['emim']]", *one_frame))


def test_register_refuses_a_taken_name_and_a_class_that_is_not_an_attention_layer():
    with pytest.raises(ValueError, match="'emim' is already registered"):
        register_attention("emim")(FrameWindowAttention)
    with pytest.raises(TypeError, match="Linear is not an AttentionLayer"):
        register_attention("linear")(nn.Linear)
    assert ATTENTION_TYPES["emim"] is EmimAttention and "linear" not in ATTENTION_TYPES


def test_capture_records_the_tokens_a_new_type_receives():
    model = build_model(tiny_cfg("tiny_s16_emim5_3", "UNIFORMER.ATTN_LAYERS", MIXED, "DATA.NUM_FRAMES", "2")).eval()
    clip = torch.randn(1, 3, 2, 64, 64)
    with AttentionInputs(model, ["blocks3.0", "blocks4.1"]) as rec:
        model([clip])
    assert rec.tokens["blocks3.0"].shape == (1, 2, 4, 4, 64) and rec.tokens["blocks4.1"].shape == (1, 2, 2, 2, 128)
