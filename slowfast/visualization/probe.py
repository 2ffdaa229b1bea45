"""Linear probes of the motion dataset's true motion from what an attention layer holds per token.

A probe is a ridge regression from a token's features to the true displacement (dx, dy) of that object
token between the layer's frame pair t -> t+1, in model-input px, fit on one set of videos (the probe
split, written with another seed) and scored on another (the test split) by direction (within 45 degrees
of the truth: chance 25%) and end-point error (px). Readings of a layer, per object token (`scored_tokens`):

- `cost`: EMIM's raw cost volume at the token, [heads * K*K] values (what the motion MLP reads);
- `input`: the tokens the attention layer receives, the token's features in frames t and t+1
  concatenated, [2C] (the same two frames the cost volume compares, before any comparison);
- `soft_argmax`: no fit, the expected window offset under EMIM's softmax, i.e. where the context branch's
  attention looks (`motion_field.soft_argmax`), head-averaged.

A linear probe finds direction in the cost volume whether it is held as an argmax, an argmin or any other
linear pattern over the window; the soft-argmax finds it only as the attention's peak.
"""

import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from slowfast.engine.inference import CentreView, centre_view
from slowfast.models.attention import EmimAttention
from slowfast.visualization.capture import AttentionInputs, CostVolumes
from slowfast.visualization.motion_field import (
    ObjectMotion,
    direction_hits,
    eval_view_geometry,
    scored_tokens,
    soft_argmax,
    token_stride,
)

# Ridge penalties tried (on standardised features); the one with the best held-out direction accuracy on
# a part of the probe split is refit on all of it.
ALPHAS = (1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0)
HOLDOUT = 0.25  # share of the probe split's videos held out to choose the penalty


@dataclass
class LayerTokens:
    """The object tokens of one layer over a set of videos."""

    true_px: np.ndarray  # [N, 2] true displacement (dx, dy), model-input px
    video: np.ndarray  # [N] index of the token's video in the set
    features: dict[str, np.ndarray]  # reading ("cost", "input") -> [N, F]
    soft_argmax_px: np.ndarray | None  # [N, 2] head-averaged soft-argmax, px; None for a layer without EMIM

    @staticmethod
    def concat(parts: list["LayerTokens"]) -> "LayerTokens":
        soft = None if parts[0].soft_argmax_px is None else np.concatenate([p.soft_argmax_px for p in parts])
        return LayerTokens(np.concatenate([p.true_px for p in parts]), np.concatenate([p.video for p in parts]),
                           {k: np.concatenate([p.features[k] for p in parts]) for k in parts[0].features}, soft)


def layer_tokens(cost: torch.Tensor | None, inputs: torch.Tensor, motion: ObjectMotion, video: int,
                 token_frames: list[int], geometry, input_size: tuple[int, int]) -> LayerTokens:
    """One clip's object tokens at one layer: cost [T, H, W, n, K*K] (None without EMIM), inputs [T, H, W, C]."""
    t_frames, height, width, channels = inputs.shape
    flat_inputs = inputs.reshape(t_frames, height * width, channels).double().cpu().numpy()
    if cost is not None:
        flat_cost = cost.reshape(t_frames, height * width, -1).double().cpu().numpy()
        soft = soft_argmax(cost[None])[0].mean(dim=3).reshape(t_frames - 1, height * width, 2).double().numpy()
        soft *= token_stride((height, width), input_size)
    rows = {"true_px": [], "input": [], "cost": [], "soft": []}
    for s in scored_tokens(motion, token_frames, geometry, (height, width), input_size):
        rows["true_px"].append(s.true_px)
        rows["input"].append(np.concatenate([flat_inputs[s.pair, s.tokens], flat_inputs[s.pair + 1, s.tokens]], 1))
        if cost is not None:
            rows["cost"].append(flat_cost[s.pair, s.tokens])
            rows["soft"].append(soft[s.pair, s.tokens])
    true_px = np.concatenate(rows["true_px"]) if rows["true_px"] else np.zeros((0, 2))
    features = {"input": np.concatenate(rows["input"]) if rows["input"] else np.zeros((0, 2 * channels))}
    if cost is not None:
        features["cost"] = np.concatenate(rows["cost"]) if rows["cost"] else np.zeros((0, flat_cost.shape[-1]))
    soft_px = (np.concatenate(rows["soft"]) if rows["soft"] else np.zeros((0, 2))) if cost is not None else None
    return LayerTokens(true_px, np.full(len(true_px), video), features, soft_px)


def load_views(cfg, motions: list[ObjectMotion], data_dir: str) -> list[CentreView]:
    """The centre test view of each video of `motions` (files in data_dir), decoded once for every model probed."""
    return [centre_view(cfg, os.path.join(data_dir, m.video)) for m in motions]


@torch.no_grad()
def collect(cfg, model: nn.Module, motions: list[ObjectMotion], views: list[CentreView], layers: list[str],
            device: torch.device, batch_size: int = 16) -> dict[str, LayerTokens]:
    """{layer: LayerTokens} of `model` at the blocks `layers` ("blocks3.0", ...) over the videos `motions` and
    their centre views (`load_views`). The cost volume is read where the block is EMIM."""
    model.eval()
    emim = any(isinstance(m, EmimAttention) for m in model.modules())
    parts: dict[str, list[LayerTokens]] = {name: [] for name in layers}
    stride = cfg.UNIFORMER.STEM_TEMPORAL_STRIDE
    for start in range(0, len(motions), batch_size):
        chunk = list(zip(motions[start:start + batch_size], views[start:start + batch_size]))
        clips = torch.stack([v.clip for _, v in chunk]).to(device)
        with AttentionInputs(model, layers) as inputs:
            if emim:
                with CostVolumes(model) as costs:
                    model([clips])
                volumes = costs.volumes
            else:
                model([clips])
                volumes = {}
        for b, (motion, view) in enumerate(chunk):
            geometry = eval_view_geometry(*view.frame_size, cfg.DATA.TEST_CROP_SIZE, 1)
            for name in layers:
                cost = volumes[name][b] if name in volumes else None
                parts[name].append(layer_tokens(cost, inputs.tokens[name][b], motion, start + b,
                                                view.frame_indices[::stride], geometry, tuple(clips.shape[-2:])))
    return {name: LayerTokens.concat(p) for name, p in parts.items()}


@dataclass
class RidgeProbe:
    """y = ((x - mean) / scale) @ weight + bias, fit by ridge regression with penalty alpha."""

    mean: np.ndarray  # [F]
    scale: np.ndarray  # [F]
    weight: np.ndarray  # [F, 2]
    bias: np.ndarray  # [2]
    alpha: float

    def predict(self, features: np.ndarray) -> np.ndarray:
        """[N, F] -> [N, 2]."""
        return ((features - self.mean) / self.scale) @ self.weight + self.bias


def _ridge(features: np.ndarray, targets: np.ndarray, alpha: float) -> RidgeProbe:
    mean, scale = features.mean(0), features.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    x = (features - mean) / scale
    bias = targets.mean(0)
    weight = np.linalg.solve(x.T @ x + alpha * np.eye(x.shape[1]), x.T @ (targets - bias))
    return RidgeProbe(mean, scale, weight, bias, alpha)


def fit_probe(features: np.ndarray, targets: np.ndarray, videos: np.ndarray, seed: int = 0) -> RidgeProbe:
    """Ridge probe features [N, F] -> targets [N, 2]. The penalty is chosen from ALPHAS by direction accuracy
    on a held-out HOLDOUT share of the videos (so tokens of one video never sit on both sides), then the probe
    is refit on every token. ValueError on fewer than 2 videos or an empty set."""
    unique = np.unique(videos)
    if len(unique) < 2 or len(features) == 0:
        raise ValueError(f"fit_probe: need tokens of at least 2 videos, got {len(features)} tokens of {len(unique)}")
    held = np.random.default_rng(seed).permutation(unique)[:max(1, math.ceil(HOLDOUT * len(unique)))]
    test = np.isin(videos, held)
    best = max(ALPHAS, key=lambda a: (direction_hits(_ridge(features[~test], targets[~test], a).predict(
        features[test]), targets[test]).mean(), -a))
    return _ridge(features, targets, best)


def scores(predicted_px: np.ndarray, true_px: np.ndarray) -> dict:
    """{"direction": % within 45 degrees, "epe": mean end-point error px, "tokens": N}."""
    return {"direction": 100.0 * float(direction_hits(predicted_px, true_px).mean()) if len(true_px) else 0.0,
            "epe": float(np.linalg.norm(predicted_px - true_px, axis=1).mean()) if len(true_px) else 0.0,
            "tokens": len(true_px)}


def probe_layer(fit: LayerTokens, test: LayerTokens, reading: str) -> dict:
    """Scores on `test` of the probe of `reading` fit on `fit`; "soft_argmax" is scored without a fit."""
    if reading == "soft_argmax":
        return scores(test.soft_argmax_px, test.true_px)
    probe = fit_probe(fit.features[reading], fit.true_px, fit.video)
    return {**scores(probe.predict(test.features[reading]), test.true_px), "alpha": probe.alpha}
