"""The motion EMIM mines, the true motion of the motion dataset, and how often the two point the same way.

EMIM's raw cost volume holds, for token (t, i, j) and head n, one logit per offset of a K x K window of
frame t+1: entry u*K + v is the offset (dy, dx) = (u - r, v - r), r = K // 2 (`ops.emim_torch.window_index`).
Its softmax over the window is the context branch's attention; its soft-argmax (the expected offset) is
where the token's content is found in the next frame: a displacement in token units, x right, y down.

The last token frame has no next frame: EMIM repeats frame T-2's cost volume there (the released pairing,
`emim_attention_torch`), so it is dropped and T token frames give T-1 displacement fields (pair t -> t+1).

True motion (`motion_<split>.json`, version 2, written by the motion dataset): an object pixel p moves
from stored frame f to f+1 by d(p) = velocity + w * (-(p_y - c_y), p_x - c_x) + g * (p - c), c = centre[f],
w = angular_velocity (clockwise on screen), g = growth; the world is a torus of side `size`.
"""

import json
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

# A mined displacement "points the object's way" when its angle to the true one is below this.
MAX_ANGLE_DEG = 45.0
# Chance of that for a direction uniform on the circle: 2 * 45 / 360.
CHANCE = 2 * MAX_ANGLE_DEG / 360.0
# True displacements shorter than this (px per model frame pair) have no direction and are not scored.
MIN_TRUE_PX = 1e-3


def window_offsets(window: int) -> Tensor:
    """[K*K, 2] float32: (dx, dy) of cost-volume entry u*K + v, i.e. (v - r, u - r)."""
    r = window // 2
    dy, dx = torch.meshgrid(torch.arange(window) - r, torch.arange(window) - r, indexing="ij")
    return torch.stack([dx.flatten(), dy.flatten()], dim=1).float()


def soft_argmax(cost: Tensor) -> Tensor:
    """Raw cost volume [B, T, H, W, n, K*K] -> displacement [B, T-1, H, W, n, 2] (dx, dy) in tokens, float32.

    The expected offset under softmax(cost) over the window: the context branch's own attention weights
    (offsets past the frame edge keep their weight, as in EMIM, where those keys are the constant 1e-6
    padding). The last token frame (a copy of frame T-2) is dropped.
    """
    window = math.isqrt(cost.shape[-1])
    if window * window != cost.shape[-1] or cost.dim() != 6 or cost.shape[1] < 2:
        raise ValueError(f"soft_argmax: expected a cost volume [B, T >= 2, H, W, heads, K*K], got {tuple(cost.shape)}")
    return cost[:, :-1].float().softmax(dim=-1) @ window_offsets(window).to(cost.device)


@dataclass(frozen=True)
class ObjectMotion:
    """One video of `motion_<split>.json`: its file and the object's motion in stored-frame pixels
    (continuous coordinates, pixel k spans [k, k+1), x right, y down)."""

    video: str
    label: int
    size: int
    velocity: np.ndarray  # [2] px per stored frame
    angular_velocity: float  # rad per stored frame, clockwise on screen
    growth: float  # d(log size) per stored frame
    centre: np.ndarray  # [F, 2] px
    radius: np.ndarray  # [F] px

    def relative(self, frame: int, points: np.ndarray) -> np.ndarray:
        """points [N, 2] px -> their offset from the object centre in `frame`, [N, 2], the shortest way round
        the torus."""
        offset = points - self.centre[frame]
        return (offset + self.size / 2) % self.size - self.size / 2

    def displacement(self, frame: int, points: np.ndarray) -> np.ndarray:
        """[N, 2] px -> [N, 2] px: first-order motion of object points from stored frame `frame` to the next."""
        rel = self.relative(frame, points)
        rotation = self.angular_velocity * np.stack([-rel[:, 1], rel[:, 0]], axis=1)
        return self.velocity + rotation + self.growth * rel

    def covers(self, frame: int, points: np.ndarray) -> np.ndarray:
        """[N, 2] px -> bool [N]: within the object's mean radius of its centre in `frame`."""
        return np.hypot(*self.relative(frame, points).T) < self.radius[frame]


_VIDEO_KEYS = ("video", "label", "velocity", "angular_velocity", "growth", "centre", "radius")


def load_ground_truth(path: str) -> tuple[dict, list[ObjectMotion]]:
    """`motion_<split>.json` -> (its header without "videos", the videos); ValueError naming the file and key."""
    with open(path) as f:
        data = json.load(f)
    if not isinstance(data, dict) or data.get("version") != 2:
        raise ValueError(f"{path}: expected a motion ground-truth JSON object with \"version\": 2")
    for key in ("size", "num_frames", "videos"):
        if key not in data:
            raise ValueError(f"{path}: missing key {key!r}")
    size, frames = int(data["size"]), int(data["num_frames"])
    videos = []
    for i, entry in enumerate(data["videos"]):
        missing = [k for k in _VIDEO_KEYS if k not in entry]
        if missing:
            raise ValueError(f"{path}: videos[{i}] lacks {missing}")
        centre, radius = np.asarray(entry["centre"], np.float64), np.asarray(entry["radius"], np.float64)
        if centre.shape != (frames, 2) or radius.shape != (frames,):
            raise ValueError(f"{path}: videos[{i}] centre {centre.shape} / radius {radius.shape}, expected "
                             f"({frames}, 2) / ({frames},) for num_frames = {frames}")
        videos.append(ObjectMotion(entry["video"], int(entry["label"]), size,
                                   np.asarray(entry["velocity"], np.float64), float(entry["angular_velocity"]),
                                   float(entry["growth"]), centre, radius))
    return {k: v for k, v in data.items() if k != "videos"}, videos


@dataclass(frozen=True)
class ViewGeometry:
    """A test view's pixels in the stored frame: model (x, y) = stored (x, y) * scale - offset."""

    scale: np.ndarray  # [2] (x, y)
    offset: np.ndarray  # [2] (x, y), px of the resized frame

    def to_stored(self, points: np.ndarray) -> np.ndarray:
        """[N, 2] model-input px -> [N, 2] stored-frame px."""
        return (points + self.offset) / self.scale


def eval_view_geometry(height: int, width: int, crop_size: int, spatial_index: int) -> ViewGeometry:
    """Geometry of `datasets.transforms.EvalTransform` on an H x W frame: short side resized to crop_size
    (the long side rounded), then crop `spatial_index` (0/1/2 along the long side, centred across it)."""
    if height <= width:
        new_h, new_w = crop_size, max(1, int(round(width * crop_size / height)))
    else:
        new_h, new_w = max(1, int(round(height * crop_size / width))), crop_size
    y, x = math.ceil((new_h - crop_size) / 2), math.ceil((new_w - crop_size) / 2)
    if new_h > new_w:
        y = (0, y, new_h - crop_size)[spatial_index]
    else:
        x = (0, x, new_w - crop_size)[spatial_index]
    return ViewGeometry(np.array([new_w / width, new_h / height]), np.array([x, y], np.float64))


def token_centres(height: int, width: int, input_size: tuple[int, int]) -> np.ndarray:
    """[H*W, 2] model-input px (x, y) of the centres of an H x W token grid over an input of (H_in, W_in)."""
    rows, cols = np.meshgrid(np.arange(height) + 0.5, np.arange(width) + 0.5, indexing="ij")
    return np.stack([cols.ravel() * input_size[1] / width, rows.ravel() * input_size[0] / height], axis=1)


def direction_hits(mined: np.ndarray, true: np.ndarray, max_angle_deg: float = MAX_ANGLE_DEG) -> np.ndarray:
    """mined, true [N, 2] -> bool [N]: angle between them below max_angle_deg (a zero mined vector misses)."""
    norms = np.linalg.norm(mined, axis=1) * np.linalg.norm(true, axis=1)
    cos = np.einsum("nd,nd->n", mined, true) / np.maximum(norms, 1e-30)
    return (norms > 0) & (cos > math.cos(math.radians(max_angle_deg)))


@dataclass(frozen=True)
class ScoredTokens:
    """The object tokens of one token-frame pair that a reading of the motion is scored on."""

    pair: int  # t of the pair t -> t+1
    tokens: np.ndarray  # [N] flat token index i * W + j in the H x W grid
    true_px: np.ndarray  # [N, 2] true displacement (dx, dy) between the pair's frames, model-input px


def scored_tokens(motion: ObjectMotion, token_frames: list[int], geometry: ViewGeometry, grid: tuple[int, int],
                  input_size: tuple[int, int]) -> list[ScoredTokens]:
    """Object tokens of one clip, per pair of token frames: token_frames [T] the stored frame each token frame
    shows, grid (H, W) tokens, input_size (H_in, W_in) of the model input. Scored: tokens whose centre lies
    within the object's mean radius, in pairs whose frames differ, with a true displacement (first order,
    times the stored-frame gap, in model px) at least MIN_TRUE_PX long."""
    stored = geometry.to_stored(token_centres(*grid, input_size))
    scored = []
    for t in range(len(token_frames) - 1):
        frame, gap = token_frames[t], token_frames[t + 1] - token_frames[t]
        if gap == 0:
            continue
        true_px = motion.displacement(frame, stored) * gap * geometry.scale
        keep = np.flatnonzero(motion.covers(frame, stored) & (np.linalg.norm(true_px, axis=1) >= MIN_TRUE_PX))
        scored.append(ScoredTokens(t, keep, true_px[keep]))
    return scored


def token_stride(grid: tuple[int, int], input_size: tuple[int, int]) -> np.ndarray:
    """[2] (x, y) model-input px per token."""
    return np.array([input_size[1] / grid[1], input_size[0] / grid[0]])


def score_clip(displacement: Tensor, motion: ObjectMotion, token_frames: list[int], geometry: ViewGeometry,
               input_size: tuple[int, int]) -> tuple[int, int]:
    """(hits, scored tokens) of one layer on one clip: displacement [T-1, H, W, 2] (dx, dy) in tokens (e.g. the
    head-averaged soft-argmax) against the true displacement at the `scored_tokens`."""
    pairs, height, width, _ = displacement.shape
    if len(token_frames) != pairs + 1:
        raise ValueError(f"score_clip: {len(token_frames)} token frames for {pairs} displacement fields")
    mined_px = displacement.reshape(pairs, height * width, 2).double().cpu().numpy() * token_stride(
        (height, width), input_size)
    hits = total = 0
    for s in scored_tokens(motion, token_frames, geometry, (height, width), input_size):
        hits += int(direction_hits(mined_px[s.pair][s.tokens], s.true_px).sum())
        total += len(s.tokens)
    return hits, total
