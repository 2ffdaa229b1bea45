"""The motion dataset (v2): a Something-Something-like task where only motion separates the classes.

Each video is one striped, brightly coloured object over a dim, low-contrast background. Classes: the
object moves left / right / up / down, rotates clockwise / anticlockwise, approaches (grows) / recedes
(shrinks); each pair is the time reversal of the other.

Motion is sized for EMIM's regime (the published setting has objects moving ~0.5-3 stage-3 tokens per
sampled frame): at any frame size S, the object moves 0.06-0.12 S px per stored frame, so between the
frames the loader samples from a 16-frame video (every second frame) it moves 0.7-1.5 stage-3 tokens
(stride 16) at S = 96. Rotation moves the object's rim by ~0.5 token per sampled frame, scaling by ~0.3.

Difficulty tiers (`TIERS`), one knob: the camera.
- `still`: the background does not move; the only motion in the video is the object's.
- `pan`: the camera pans at a random velocity (up to 0.04 S px per frame, any direction): the background
  moves, the object moves with it plus its own motion, and the class is the object's motion relative to
  the background (for translations, its image velocity can point the other way only in its component
  along the pan, since the pan is slower than the slowest object). It needs relative motion, as real
  videos with camera motion do.

Properties, for every class alike:
- any single frame carries no class information: the object's centre is uniform on the frame (the world
  is a torus: motion wraps around the edges), its angle uniform, its log-size uniform in a range (size
  changes wrap around that range, a sawtooth);
- the unordered set of frames carries no information about the direction within a time-reversed pair (a
  clip and its reversal have the same frames). It does show the motion's kind (translation along x or y,
  rotation, scaling): any set of frames of a continuous motion can be put back in order up to reversal.

Ground truth: `write_motion_dataset` also writes `motion_<split>.json` with each video's motion (see
`ground_truth`). Everything is a function of the seed: video i of split s has its own generator from
(seed, s, i); the training stream (`motion_stream.py`) draws from (seed, STREAM_SPLIT_ID, epoch, i).
"""

import json
import logging
import os

import av
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

CLASS_NAMES = ("move_left", "move_right", "move_up", "move_down", "rotate_clockwise",
               "rotate_anticlockwise", "approach", "recede")
TIERS = ("still", "pan")
SPLITS = ("train", "val", "test")
FRAME_LIST_TEMPLATE = "motion_frames_{}.txt"
GROUND_TRUTH_TEMPLATE = "motion_{}.json"
DATASET_INFO = "motion_dataset.json"
IMAGE_TEMPLATE = "{:05d}.jpg"
# log-size range of the object (relative to its base radius) over which approach/recede wrap around
_LOG_SCALE = (np.log(0.55), np.log(1.8))
_DIRECTIONS = {"move_left": (-1, 0), "move_right": (1, 0), "move_up": (0, -1), "move_down": (0, 1)}  # (x, y)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Dim, low-contrast smooth colour noise on a torus (tileable): float32 [size, size, 3] in 0-255."""
    cells = int(rng.integers(3, 7))
    coarse = rng.normal(0, 18, (cells, cells, 3)).astype(np.float32)
    tiled = np.tile(coarse, (3, 3, 1))  # resize a 3x3 tiling and keep the centre: seamless at the edges
    smooth = np.stack([np.asarray(Image.fromarray(tiled[..., c]).resize((3 * size, 3 * size), Image.BILINEAR))
                       for c in range(3)], -1)[size:2 * size, size:2 * size]
    return rng.uniform(50, 110, 3).astype(np.float32) + smooth + rng.normal(0, 3, smooth.shape).astype(np.float32)


class _Object:
    """A striped star-shaped object in its own coordinates u in [-1.5, 1.5]^2 (mean radius 1), one bright and
    one dark saturated colour, so it stands out from the dim background."""

    _GRID = 48

    def __init__(self, rng: np.random.Generator):
        self.harmonics = [(rng.uniform(0.08, 0.25), k, rng.uniform(0, 2 * np.pi)) for k in (1, 2, 3)]
        g = np.linspace(-1.5, 1.5, self._GRID)
        uy, ux = np.meshgrid(g, g, indexing="ij")
        a = rng.uniform(0, np.pi)
        stripes = np.sin((ux * np.cos(a) + uy * np.sin(a)) * rng.uniform(4, 8))
        bright = rng.uniform(170, 255, 3) * (rng.random(3) > 0.3) + 40
        dark = rng.uniform(0, 40, 3)
        self.texture = np.where(stripes[..., None] > 0, np.clip(bright, 0, 255), dark).astype(np.float32)

    def radius(self, angle: np.ndarray) -> np.ndarray:
        return 1.0 + sum(a * np.cos(k * angle + p) for a, k, p in self.harmonics)

    def draw(self, canvas: np.ndarray, centre_xy, angle: float, radius_px: float) -> None:
        """Paint onto canvas [S, S, 3] (in place), wrapping around the edges. Only the pixels of a box around
        the object (which reaches 1.75 radii at most) are visited."""
        s = canvas.shape[0]
        reach = min(int(np.ceil(1.8 * radius_px)) + 1, s // 2)
        ys = (int(centre_xy[1]) + np.arange(-reach, reach + 1)) % s
        xs = (int(centre_xy[0]) + np.arange(-reach, reach + 1)) % s
        py, px = np.meshgrid(ys, xs, indexing="ij")
        dx = (px.astype(np.float32) + 0.5 - centre_xy[0] + s / 2) % s - s / 2
        dy = (py.astype(np.float32) + 0.5 - centre_xy[1] + s / 2) % s - s / 2
        cos, sin = np.cos(angle), np.sin(angle)
        ux = (cos * dx + sin * dy) / radius_px  # rotate the pixel offset back by `angle`
        uy = (-sin * dx + cos * dy) / radius_px
        inside = np.hypot(ux, uy) < self.radius(np.arctan2(uy, ux))
        g = self._GRID
        iy = np.clip(((uy + 1.5) / 3.0 * g).astype(int), 0, g - 1)
        ix = np.clip(((ux + 1.5) / 3.0 * g).astype(int), 0, g - 1)
        canvas[py[inside], px[inside]] = self.texture[iy[inside], ix[inside]]


def render_video(rng: np.random.Generator, class_name: str, size: int, num_frames: int,
                 tier: str = "still", frames_wanted: list[int] | None = None) -> tuple[np.ndarray, dict]:
    """One video of class `class_name`: (uint8 frames [num_frames, size, size, 3], its motion).

    `frames_wanted` (0-based indices, repeats allowed): draw only those frames, [len, size, size, 3], equal
    to the same rows of the whole video (the generator is drawn from before any frame is drawn).

    Motion (image coordinates: x right, y down, px of these frames; angles grow clockwise on screen):
    "velocity" [vx, vy] of the object and "camera_velocity" of the background (px per frame; the object's
    image velocity includes the pan), "angular_velocity" (rad per frame), "growth" (log-size per frame),
    "centre" [[x, y]] per frame (wrapped into [0, size)), "radius" (mean radius in px) per frame.
    """
    if class_name not in CLASS_NAMES:
        raise ValueError(f"unknown class {class_name!r}; choose from {CLASS_NAMES}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose from {TIERS}")
    background = _background(rng, size)
    obj = _Object(rng)
    base_radius = size * rng.uniform(0.14, 0.18)
    centre0 = rng.uniform(0, size, 2)
    angle0 = rng.uniform(0, 2 * np.pi)
    log_scale0 = rng.uniform(*_LOG_SCALE)
    speed = size * rng.uniform(0.06, 0.12)
    spin = rng.uniform(0.2, 0.35)
    growth_rate = rng.uniform(0.06, 0.1)
    camera = np.zeros(2)
    if tier == "pan":
        pan_angle = rng.uniform(0, 2 * np.pi)
        camera = size * rng.uniform(0.0, 0.04) * np.array([np.cos(pan_angle), np.sin(pan_angle)])
    velocity = camera + speed * np.array(_DIRECTIONS.get(class_name, (0, 0)))
    angular = {"rotate_clockwise": spin, "rotate_anticlockwise": -spin}.get(class_name, 0.0)
    growth = {"approach": growth_rate, "recede": -growth_rate}.get(class_name, 0.0)
    lo, hi = _LOG_SCALE
    times = np.arange(num_frames)
    centres = (centre0 + velocity * times[:, None]) % size
    radii = base_radius * np.exp(lo + (log_scale0 - lo + growth * times) % (hi - lo))
    wanted = range(num_frames) if frames_wanted is None else frames_wanted
    frames = np.empty((len(wanted), size, size, 3), np.uint8)
    for i, t in enumerate(wanted):
        shift = np.round(camera * t).astype(int)
        canvas = np.roll(background, (shift[1], shift[0]), axis=(0, 1))
        obj.draw(canvas, centres[t], angle0 + angular * t, radii[t])
        frames[i] = np.clip(canvas, 0, 255).astype(np.uint8)
    motion = {"velocity": velocity.tolist(), "camera_velocity": camera.tolist(), "angular_velocity": angular,
              "growth": growth, "centre": centres.tolist(), "radius": radii.tolist()}
    return frames, motion


def _write_mp4(path: str, frames: np.ndarray, fps: int) -> None:
    with av.open(path, mode="w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "12", "preset": "fast", "threads": "1"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _atomic_write_text(path: str, text: str) -> None:
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def write_motion_dataset(out: str, seed: int = 0, num_train: int = 400, num_val: int = 80, num_test: int = 80,
                         num_frames: int = 16, size: int = 96, classes=CLASS_NAMES, fps: int = 30,
                         jpeg_quality: int = 95, tier: str = "still") -> dict:
    """Write the dataset under `out` and return {split: number of videos}. Layout:

    - `classes.txt`: class names, line k = label k;
    - `motion_dataset.json`: the generator's parameters (seed, size, num_frames, tier, classes, counts),
      which the training stream (`TRAIN.DATASET motion_stream`) reads to render more of the same;
    - `sth` format: `frames/<split>/<id>/00001.jpg ...` and lists `motion_frames_<split>.txt`, lines
      `frames/<split>/<id> <num_frames> <label>`;
    - video-list format: `videos/<split>/<id>.mp4` (H.264, yuv420p, `fps`) and `<split>.csv`, lines
      `videos/<split>/<id>.mp4 <label>` (space separated);
    - ground truth `motion_<split>.json`: {"version": 2, "size", "num_frames", "fps", "tier", "classes",
      "videos": [{"index", "frames", "video", "label", "class", and the motion of `render_video`}]}.
    Labels are balanced: video i of a split has label i % len(classes). List and JSON files are written
    last, atomically: an interrupted run leaves no list naming missing frames.
    """
    unknown = [c for c in classes if c not in CLASS_NAMES]
    if unknown or not classes:
        raise ValueError(f"unknown classes {unknown}; choose from {CLASS_NAMES}")
    if size % 2:
        raise ValueError(f"size must be even (H.264 yuv420p), got {size}")
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose from {TIERS}")
    classes = tuple(classes)
    os.makedirs(out, exist_ok=True)
    counts = dict(zip(SPLITS, (num_train, num_val, num_test)))
    for split_id, (split, count) in enumerate(counts.items()):
        frame_lines, video_lines, videos = [], [], []
        os.makedirs(os.path.join(out, "videos", split), exist_ok=True)
        for i in range(count):
            label = i % len(classes)
            frames, motion = render_video(np.random.default_rng([seed, split_id, i]), classes[label], size,
                                          num_frames, tier)
            folder = f"frames/{split}/{i:06d}"
            os.makedirs(os.path.join(out, folder), exist_ok=True)
            for t, frame in enumerate(frames):
                Image.fromarray(frame).save(os.path.join(out, folder, IMAGE_TEMPLATE.format(t + 1)),
                                            quality=jpeg_quality, subsampling=0)
            video = f"videos/{split}/{i:06d}.mp4"
            _write_mp4(os.path.join(out, video), frames, fps)
            frame_lines.append(f"{folder} {num_frames} {label}\n")
            video_lines.append(f"{video} {label}\n")
            videos.append({"index": i, "frames": folder, "video": video, "label": label, "class": classes[label],
                           **motion})
        _atomic_write_text(os.path.join(out, FRAME_LIST_TEMPLATE.format(split)), "".join(frame_lines))
        _atomic_write_text(os.path.join(out, f"{split}.csv"), "".join(video_lines))
        truth = {"version": 2, "size": size, "num_frames": num_frames, "fps": fps, "tier": tier,
                 "classes": list(classes), "videos": videos}
        _atomic_write_text(os.path.join(out, GROUND_TRUTH_TEMPLATE.format(split)), json.dumps(truth))
        logger.info("motion dataset: %d %s videos written to %s", count, split, out)
    _atomic_write_text(os.path.join(out, "classes.txt"), "".join(f"{c}\n" for c in classes))
    info = {"version": 2, "seed": seed, "size": size, "num_frames": num_frames, "tier": tier, "fps": fps,
            "classes": list(classes), "counts": counts}
    _atomic_write_text(os.path.join(out, DATASET_INFO), json.dumps(info, indent=1))
    return counts
