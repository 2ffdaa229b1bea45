"""Linear probes of the true motion (slowfast/visualization/probe.py) and EMIM knock-outs (knockout.py),
against hand-built cost volumes and layers with known answers, noise, and the naive EMIM loop."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from emim_naive import emim_naive

from slowfast.models.attention import EmimAttention
from slowfast.visualization.capture import AttentionInputs, CostVolumes
from slowfast.visualization.knockout import knocked_out, window_permutation
from slowfast.visualization.motion_field import ObjectMotion, ViewGeometry, soft_argmax, window_offsets
from slowfast.visualization.probe import LayerTokens, fit_probe, layer_tokens, probe_layer

IDENTITY = ViewGeometry(np.ones(2), np.zeros(2))
SHIFTS = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]


def _tokens_from_cost(cost: np.ndarray, true: np.ndarray, videos: np.ndarray) -> LayerTokens:
    """LayerTokens of hand-built cost volumes cost [N, K*K] (one head) at tokens moving by true [N, 2] px."""
    soft = soft_argmax(torch.from_numpy(cost).view(1, 1, -1, 1, 1, cost.shape[1]).expand(1, 2, -1, 1, 1, -1))
    return LayerTokens(true, videos, {"cost": cost}, soft[0, 0, :, 0, 0].double().numpy())


def _argmin_volumes(count: int, seed: int) -> LayerTokens:
    """Cost volumes whose *lowest* entry is the true offset (a 3x3 window, one of the 8 unit shifts), noisy."""
    rng = np.random.default_rng(seed)
    offsets = window_offsets(3).numpy()
    shift = np.array(SHIFTS, np.float64)[rng.integers(0, 8, count)]
    cost = rng.normal(0.0, 0.3, (count, 9))
    cost[np.arange(count), [int(np.flatnonzero((offsets == s).all(1))[0]) for s in shift]] -= 4.0
    return _tokens_from_cost(cost, shift * 16.0, np.arange(count) // 20)


def test_probe_finds_direction_held_as_an_argmin_that_the_soft_argmax_misses():
    fit, test = _argmin_volumes(1600, 0), _argmin_volumes(800, 1)
    probe = probe_layer(fit, test, "cost")
    soft = probe_layer(fit, test, "soft_argmax")
    assert probe["direction"] > 95 and probe["tokens"] == 800
    assert soft["direction"] < 5  # the softmax weight leaves the true offset: it points away from the motion


def test_probe_on_noise_stays_within_three_binomial_deviations_of_chance():
    rng = np.random.default_rng(2)

    def noise(count):
        angle = rng.uniform(0, 2 * math.pi, count)
        return LayerTokens(np.stack([np.cos(angle), np.sin(angle)], 1) * 10, np.arange(count) // 25,
                           {"cost": rng.normal(size=(count, 50))}, None)

    n = 4000
    accuracy = probe_layer(noise(2000), noise(n), "cost")["direction"] / 100
    assert abs(accuracy - 0.25) < 3 * math.sqrt(0.25 * 0.75 / n)


def test_ridge_probe_recovers_an_exact_linear_map_and_chooses_a_small_penalty():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 6)) * [1, 2, 3, 0.5, 1, 4] + [5, 0, -2, 1, 0, 3]
    weight = rng.normal(size=(6, 2))
    y = x @ weight + [1.0, -2.0]
    probe = fit_probe(x, y, np.arange(600) // 30)
    assert probe.alpha == 1e-2
    np.testing.assert_allclose(probe.predict(x[:10]), y[:10], atol=0.05)
    with pytest.raises(ValueError, match="at least 2 videos"):
        fit_probe(x, y, np.zeros(600))


def _moving_tokens(shift, frames: int = 5, size: int = 8, dim: int = 128, seed: int = 0) -> torch.Tensor:
    """Tokens [1, T*H*W, C]: a random unit-norm pattern translated by shift (dx, dy) tokens per frame."""
    g = torch.Generator().manual_seed(seed)
    pattern = nn.functional.normalize(torch.randn(size + 2 * frames, size + 2 * frames, dim, generator=g), dim=-1)
    clips = [pattern[frames - t * shift[1]:][:size, frames - t * shift[0]:][:, :size] for t in range(frames)]
    return torch.stack(clips).reshape(1, -1, dim)


def _layer_readings(layer: EmimAttention, seed: int) -> LayerTokens:
    """Object tokens of the hand-built layer on patterns moving by each of the 8 shifts (8x8 tokens of 16 px)."""
    wrapper = nn.ModuleDict({"blocks3": nn.ModuleDict({"attn": layer})})
    parts = []
    for video, (dx, dy) in enumerate(SHIFTS):
        motion = ObjectMotion("v", 0, 128, np.array([16.0 * dx, 16.0 * dy]), 0.0, 0.0, np.full((5, 2), 64.0),
                              np.full(5, 48.0))
        with CostVolumes(wrapper) as costs, AttentionInputs(wrapper, ["blocks3"]) as inputs, torch.no_grad():
            layer(_moving_tokens((dx, dy), seed=seed + video), (5, 8, 8))  # dot products of mismatches ~ 0 +- 0.1
        parts.append(layer_tokens(costs.volumes["blocks3"][0], inputs.tokens["blocks3"][0], motion,
                                  seed * 8 + video, list(range(5)), IDENTITY, (128, 128)))
    return LayerTokens.concat(parts)


def _matching_layer(sign: float) -> EmimAttention:
    """q = sign * k = the token features: the cost volume peaks (sign 1) or dips (sign -1) at the true offset."""
    layer = EmimAttention(128, 2, window=3, qk_scale=20.0, backend="torch")
    with torch.no_grad():
        layer.qkv.weight.zero_()
        layer.qkv.bias.zero_()
        layer.qkv.weight[:128] = sign * torch.eye(128)
        layer.qkv.weight[128:256] = torch.eye(128)
        layer.rpb.zero_()
    return layer


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_probe_and_soft_argmax_of_emim_layers_built_to_match_and_to_anti_match(sign):
    fit = LayerTokens.concat([_layer_readings(_matching_layer(sign), s) for s in (10, 20, 30)])
    test = _layer_readings(_matching_layer(sign), 40)
    centres = np.arange(8) * 16 + 8.0
    covered = int((np.hypot(*np.meshgrid(centres - 64, centres - 64)) < 48).sum())  # token centres in the disc
    assert len(test.true_px) == 8 * 4 * covered  # 8 videos, 4 frame pairs
    assert probe_layer(fit, test, "cost")["direction"] > 95
    soft = probe_layer(fit, test, "soft_argmax")["direction"]
    assert soft > 95 if sign > 0 else soft < 10  # anti-matching: the attention looks away from the motion
    # a layer's input tokens (frames t and t+1 of a random pattern) hold no linear trace of the shift
    assert probe_layer(fit, test, "input")["direction"] < 50


def test_layer_tokens_take_each_scored_token_and_its_next_frame():
    t_frames, h, w = 3, 2, 2
    inputs = torch.arange(t_frames * h * w, dtype=torch.float64).view(t_frames, h, w, 1)  # value = flat index
    cost = torch.arange(t_frames * h * w, dtype=torch.float64).view(t_frames, h, w, 1, 1).expand(-1, -1, -1, 1, 9)
    motion = ObjectMotion("v", 0, 64, np.array([2.0, 0.0]), 0.0, 0.0, np.array([[8.0, 8.0]] * 3), np.full(3, 5.0))
    tokens = layer_tokens(cost, inputs, motion, 7, [0, 1, 2], IDENTITY, (32, 32))  # only token (0, 0) is covered
    np.testing.assert_array_equal(tokens.features["input"], [[0, 4], [4, 8]])  # token (0, 0) in t and t+1
    np.testing.assert_array_equal(tokens.features["cost"], np.repeat([[0.0], [4.0]], 9, axis=1))
    np.testing.assert_allclose(tokens.true_px, [[2.0, 0.0], [2.0, 0.0]])
    assert tokens.video.tolist() == [7, 7]


def _random_emim(seed: int) -> EmimAttention:
    torch.manual_seed(seed)
    layer = EmimAttention(8, 2, window=3, backend="torch").double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    return layer


def test_each_knock_out_changes_the_output_as_computed_by_hand():
    layer = _random_emim(0)
    x = torch.randn(1, 3 * 4 * 4, 8, dtype=torch.float64)
    q, k, v = layer.qkv(x).view(1, 3, 4, 4, 3, 2, 4).unbind(4)
    cost, context = emim_naive(q, k, v, layer.rpb, layer.scale)
    perm = window_permutation(9)
    expected = {None: context + layer.motion_conv(cost), "motion": context, "context": layer.motion_conv(cost),
                "permuted": context + layer.motion_conv(cost[..., perm])}
    with torch.no_grad():
        for knockout, out in expected.items():
            with knocked_out(layer, knockout):
                got = layer(x, (3, 4, 4))
            torch.testing.assert_close(got, layer.proj(out.reshape(1, 48, 8)))
        torch.testing.assert_close(layer(x, (3, 4, 4)), layer.proj(expected[None].reshape(1, 48, 8)))  # hooks gone


def test_window_permutation_moves_every_entry_and_knock_outs_refuse_what_they_cannot_do():
    for seed in range(20):
        perm = window_permutation(25, seed)
        assert sorted(perm.tolist()) == list(range(25)) and not (perm == torch.arange(25)).any()
    with pytest.raises(ValueError, match="unknown knock-out"):
        with knocked_out(_random_emim(1), "everything"):
            pass
    with pytest.raises(ValueError, match="no motion branch"):
        with knocked_out(EmimAttention(8, 2, window=3, motion=False), "motion"):
            pass
    with pytest.raises(ValueError, match="no EMIM layer"):
        with knocked_out(nn.Linear(2, 2), "context"):
            pass
