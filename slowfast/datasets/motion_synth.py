"""A small Something-Something-like dataset where only motion separates the classes.

Each video is one random textured object (an irregular star-shaped outline, striped and coloured texture)
over a random textured background. Classes: the object moves left / right / up / down, rotates clockwise /
anticlockwise, approaches (grows) / recedes (shrinks); the pairs are time reversals of each other.

- Any single frame carries no class information, for every frame position t: the object's centre is
  uniform on the frame (motion wraps around the edges, a torus), its angle uniform, its log-size uniform in
  a range (size changes wrap around that range, a sawtooth), for every class alike.
- The unordered set of frames carries no information about the direction within a time-reversed pair (a
  clip and its reversal have the same frames). It does show the motion's kind (translation along x or y,
  rotation, scaling): any set of frames of a continuous motion can be put back in order up to reversal,
  so no dataset of these classes can hide that. A model shown frames in shuffled order can therefore
  reach at most 50% (the pair), or chance when trained on a single pair.

Written both as extracted frames in the `sth` format and as H.264 mp4 videos with csv lists (`kinetics`).
Everything is a function of the seed (each video has its own generator from (seed, split, index)).
"""

import logging
import os

import av
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

CLASS_NAMES = ("move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
               "rotate_anticlockwise", "approach", "recede")
SPLITS = ("train", "val", "test")
FRAME_LIST_TEMPLATE = "motion_frames_{}.txt"
IMAGE_TEMPLATE = "{:05d}.jpg"
# log-size range of the object (relative to its base radius) over which approach/recede wrap around
_LOG_SCALE = (np.log(0.5), np.log(1.6))


def _texture(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth colour noise (`cells` x `cells` random colours, bilinear) plus pixel noise: uint8 [size, size, 3]."""
    coarse = (rng.random((cells, cells, 3)) * 255).astype(np.uint8)
    smooth = np.asarray(Image.fromarray(coarse).resize((size, size), Image.BILINEAR), dtype=np.float32)
    return np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8)


class _Object:
    """A textured star-shaped object in its own coordinates u in [-1.5, 1.5]^2 (radius ~1)."""

    _GRID = 48

    def __init__(self, rng: np.random.Generator):
        self.harmonics = [(rng.uniform(0.08, 0.25), k, rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3)]
        g = np.linspace(-1.5, 1.5, self._GRID)
        uy, ux = np.meshgrid(g, g, indexing="ij")
        stripes = np.sin((ux * np.cos(a := rng.uniform(0, np.pi)) + uy * np.sin(a)) * rng.uniform(4, 9))
        colors = rng.random((2, 3)) * 255
        tex = np.where(stripes[..., None] > 0, colors[0], colors[1])
        self.texture = np.clip(tex * 0.7 + _texture(rng, self._GRID, 3) * 0.3, 0, 255).astype(np.uint8)

    def radius(self, angle: np.ndarray) -> np.ndarray:
        return 1.0 + sum(a * np.cos(k * angle + p) for a, k, p in self.harmonics)

    def draw(self, canvas: np.ndarray, centre, angle: float, radius_px: float) -> None:
        """Paint onto canvas [S, S, 3] (in place), wrapping around the edges."""
        s = canvas.shape[0]
        py, px = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
        dy = (py - centre[0] + s / 2) % s - s / 2
        dx = (px - centre[1] + s / 2) % s - s / 2
        cos, sin = np.cos(angle), np.sin(angle)
        ux = (cos * dx + sin * dy) / radius_px  # rotate the pixel offset back by `angle`
        uy = (-sin * dx + cos * dy) / radius_px
        inside = np.hypot(ux, uy) < self.radius(np.arctan2(uy, ux))
        g = self._GRID
        iy = np.clip(((uy + 1.5) / 3.0 * g).astype(int), 0, g - 1)
        ix = np.clip(((ux + 1.5) / 3.0 * g).astype(int), 0, g - 1)
        canvas[inside] = self.texture[iy[inside], ix[inside]]


def render_video(rng: np.random.Generator, class_name: str, size: int, num_frames: int) -> np.ndarray:
    """One video of class `class_name`: uint8 [num_frames, size, size, 3] (angles in image coordinates,
    y down, so a growing angle turns clockwise on screen)."""
    background = _texture(rng, size, int(rng.integers(3, 7)))
    obj = _Object(rng)
    base_radius = size * rng.uniform(0.18, 0.22)
    centre0 = rng.uniform(0, size, 2)
    angle0 = rng.uniform(0, 2 * np.pi)
    log_scale0 = rng.uniform(*_LOG_SCALE)
    speed = size * rng.uniform(0.02, 0.035)  # pixels per frame
    spin = rng.uniform(0.08, 0.15)  # radians per frame
    growth = rng.uniform(0.015, 0.03)  # log-size per frame
    step = {"move_left": (0, -1), "move_right": (0, 1), "move_up": (-1, 0), "move_down": (1, 0)}
    lo, hi = _LOG_SCALE
    frames = np.empty((num_frames, size, size, 3), np.uint8)
    for t in range(num_frames):
        centre, angle, log_scale = centre0.copy(), angle0, log_scale0
        if class_name in step:
            centre = centre0 + np.array(step[class_name]) * speed * t
        elif class_name in ("rotate_clockwise", "rotate_anticlockwise"):
            angle = angle0 + (spin if class_name == "rotate_clockwise" else -spin) * t
        else:
            sign = 1.0 if class_name == "approach" else -1.0
            log_scale = lo + (log_scale0 - lo + sign * growth * t) % (hi - lo)
        frames[t] = background
        obj.draw(frames[t], centre % size, angle, base_radius * np.exp(log_scale))
    return frames


def _write_mp4(path: str, frames: np.ndarray, fps: int) -> None:
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "fast", "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def write_motion_dataset(out: str, seed: int = 0, num_train: int = 400, num_val: int = 80, num_test: int = 80,
                         num_frames: int = 16, size: int = 64, classes=CLASS_NAMES, fps: int = 30,
                         jpeg_quality: int = 95) -> dict:
    """Write the dataset under `out` and return {split: number of videos}. Layout:

    - `classes.txt`: class names, line k = label k;
    - `sth` format: `frames/<split>/<id>/00001.jpg ...` and lists `motion_frames_<split>.txt`, lines
      `frames/<split>/<id> <num_frames> <label>`;
    - video-list format: `videos/<split>/<id>.mp4` (H.264, yuv420p, `fps`) and `<split>.csv`, lines
      `videos/<split>/<id>.mp4 <label>` (space separated).
    Labels are balanced: video i of a split has label i % len(classes).
    """
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown or not classes:
        raise ValueError(f"unknown classes {unknown}; choose from {CLASS_NAMES}")
    if size % 2:
        raise ValueError(f"size must be even (H.264 yuv420p), got {size}")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "classes.txt"), "w") as f:
        f.write("".join(f"{c}\n" for c in classes))
    counts = dict(zip(SPLITS, (num_train, num_val, num_test)))
    for split_id, (split, count) in enumerate(counts.items()):
        frame_lines, video_lines = [], []
        os.makedirs(os.path.join(out, "videos", split), exist_ok=True)
        for i in range(count):
            label = i % len(classes)
            frames = render_video(np.random.default_rng([seed, split_id, i]), classes[label], size, num_frames)
            folder = f"frames/{split}/{i:06d}"
            os.makedirs(os.path.join(out, folder), exist_ok=True)
            for t, frame in enumerate(frames):
                Image.fromarray(frame).save(os.path.join(out, folder, IMAGE_TEMPLATE.format(t + 1)),
                                            quality=jpeg_quality, subsampling=0)
            video = f"videos/{split}/{i:06d}.mp4"
            _write_mp4(os.path.join(out, video), frames, fps)
            frame_lines.append(f"{folder} {num_frames} {label}\n")
            video_lines.append(f"{video} {label}\n")
        with open(os.path.join(out, FRAME_LIST_TEMPLATE.format(split)), "w") as f:
            f.write("".join(frame_lines))
        with open(os.path.join(out, f"{split}.csv"), "w") as f:
            f.write("".join(video_lines))
        logger.info("motion dataset: %d %s videos written to %s", count, split, out)
    return counts
