"""Drawing mined motion over the input frames (matplotlib, no global backend): colour-coded flow and arrows.

Colour: hue = direction on the HSV wheel (red = right, then clockwise on screen through yellow-green =
down, cyan = left, blue-purple = up); opacity over the frame = length, full at `max_norm` tokens (the
window's reach r), so a token that mines no motion leaves the frame as it is.
Arrows: from each token centre, the displacement scaled so that r tokens span 0.9 of a token cell.
"""

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import hsv_to_rgb
from matplotlib.figure import Figure
from PIL import Image

from .motion_field import token_centres

PANEL_INCHES = 1.7
ARROW_CELL_FRACTION = 0.9


def denormalize(clip: torch.Tensor, mean, std) -> np.ndarray:
    """Model input [3, T, H, W] (normalised by DATA.MEAN/STD) -> uint8 [T, H, W, 3]."""
    x = clip.detach().float().cpu() * torch.tensor(std).view(3, 1, 1, 1) + torch.tensor(mean).view(3, 1, 1, 1)
    return (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 3, 0).numpy()


def flow_to_rgba(displacement: np.ndarray, max_norm: float, opacity: float = 0.75) -> np.ndarray:
    """[..., 2] (dx, dy), y down -> [..., 4] RGBA in [0, 1]: hue = angle on screen (full saturation and
    value), alpha = opacity * min(length / max_norm, 1)."""
    dx, dy = displacement[..., 0], displacement[..., 1]
    hue = (np.arctan2(dy, dx) / (2 * np.pi)) % 1.0
    rgb = hsv_to_rgb(np.stack([hue, np.ones_like(hue), np.ones_like(hue)], axis=-1))
    alpha = opacity * np.clip(np.hypot(dx, dy) / max_norm, 0, 1)
    return np.concatenate([rgb, alpha[..., None]], axis=-1)


def colour_wheel(size: int = 65) -> np.ndarray:
    """RGBA [size, size, 4]: the colour of each displacement in a disc of radius max_norm (legend)."""
    coords = (np.arange(size) - size // 2) / (size // 2)
    dy, dx = np.meshgrid(coords, coords, indexing="ij")
    wheel = flow_to_rgba(np.stack([dx, dy], axis=-1), 1.0, opacity=1.0)
    wheel[..., 3] *= np.hypot(dx, dy) <= 1.0
    return wheel


def draw_panel(ax, frame: np.ndarray, displacement: np.ndarray, max_norm: float, title: str) -> None:
    """frame uint8 [H_in, W_in, 3]; displacement [h, w, 2] (dx, dy) in tokens, drawn over it."""
    height, width = frame.shape[:2]
    rows, cols = displacement.shape[:2]
    ax.imshow(frame, extent=(0, width, height, 0))
    ax.imshow(flow_to_rgba(displacement, max_norm), extent=(0, width, height, 0), interpolation="nearest")
    centres = token_centres(rows, cols, (height, width))
    gain = ARROW_CELL_FRACTION / max_norm * np.array([width / cols, height / rows])
    arrows = displacement.reshape(-1, 2) * gain
    ax.quiver(centres[:, 0], centres[:, 1], arrows[:, 0], arrows[:, 1], angles="xy", scale_units="xy", scale=1,
              color="white", edgecolor="black", linewidth=0.4, width=0.012)
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)
    ax.set_title(title, fontsize=7)
    ax.axis("off")


def layer_figure(frames: np.ndarray, per_head: np.ndarray, max_norm: float, title: str) -> Figure:
    """One EMIM layer: frames uint8 [T, H, W, 3]; per_head [T-1, h, w, heads, 2] in tokens. Row 0 the
    head average, then one row per head; column t the pair t -> t+1 over frame t; a colour-wheel legend."""
    pairs, heads = per_head.shape[0], per_head.shape[3]
    fig = Figure(figsize=(PANEL_INCHES * (pairs + 1), PANEL_INCHES * (heads + 1) + 0.4))
    FigureCanvasAgg(fig)
    axes = fig.subplots(heads + 1, pairs + 1, squeeze=False)
    for row in range(heads + 1):
        field = per_head.mean(axis=3) if row == 0 else per_head[..., row - 1, :]
        name = "mean of heads" if row == 0 else f"head {row - 1}"
        for t in range(pairs):
            draw_panel(axes[row, t], frames[t], field[t], max_norm, f"{name}, {t}->{t + 1}")
        axes[row, pairs].axis("off")
    axes[0, pairs].imshow(colour_wheel(), extent=(-max_norm, max_norm, max_norm, -max_norm))
    axes[0, pairs].set_title("(dx, dy), tokens", fontsize=7)
    axes[0, pairs].axis("on")
    axes[0, pairs].tick_params(labelsize=6)
    fig.suptitle(title, fontsize=9)
    return fig


def animation_frames(frames: np.ndarray, layers: dict[str, np.ndarray], max_norms: dict[str, float],
                     title: str) -> list[Image.Image]:
    """One image per pair t: frame t, then each layer's head-averaged field [T-1, h, w, 2] over it."""
    images = []
    pairs = next(iter(layers.values())).shape[0]
    for t in range(pairs):
        fig = Figure(figsize=(PANEL_INCHES * (len(layers) + 1), PANEL_INCHES + 0.5))
        canvas = FigureCanvasAgg(fig)
        axes = fig.subplots(1, len(layers) + 1, squeeze=False)[0]
        axes[0].imshow(frames[t])
        axes[0].set_title(f"input frame {t}", fontsize=7)
        axes[0].axis("off")
        for ax, (name, field) in zip(axes[1:], layers.items()):
            draw_panel(ax, frames[t], field[t], max_norms[name], f"{name}, {t}->{t + 1}")
        fig.suptitle(title, fontsize=8)
        canvas.draw()
        images.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    return images


def save_gif(images: list[Image.Image], path: str, frame_ms: int = 500) -> None:
    """Animated GIF of `images`, looping."""
    images[0].save(path, save_all=True, append_images=images[1:], duration=frame_ms, loop=0)
