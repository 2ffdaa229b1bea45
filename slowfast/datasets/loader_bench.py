"""How many training clips per second one CPU core decodes and augments, per dataset form, for
tools/bench_data.py: the recipes' own pipelines (exp/<recipe>/config.yaml: sampling, random resized crop,
RandAugment, random erasing, AUG.NUM_SAMPLE clips per video) on synthetic data that this module writes at the
datasets' resolution: Something-Something V2 frame folders (JPEG, 240 px high, as tools/prepare_data.py
extracts them from the 240p webm) and Kinetics-style H.264 mp4 (PyAV).

Per core: the timing process is pinned to one CPU (`os.sched_setaffinity`) with one torch thread, as a
DataLoader worker runs, and the rate is videos per second of the process's CPU time (`time.process_time`,
every thread of it), so that other work on a shared machine does not count; the wall-clock rate is kept
beside it. The cores a rate needs assume workers scale linearly, which they do until memory bandwidth or
the GPU's input copy limits them.
"""

import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import av
import numpy as np
import torch
from PIL import Image

from slowfast.config import load_config

from .build import build_dataset

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Recipes whose pipelines are timed (their data keys; the model keys play no part).
RECIPES = {"sthv2 frames": os.path.join(REPO, "exp", "emim_s16_sthv2_k400", "config.yaml"),
           "kinetics mp4": os.path.join(REPO, "exp", "emim_s16_k400_in1k", "config.yaml")}


def _moving_images(height: int, width: int, count: int) -> Iterator[np.ndarray]:
    """`count` RGB frames [height, width, 3] uint8 of textured content moving right (realistic coding cost)."""
    rng = np.random.default_rng(0)
    base = (rng.random((height // 8 + 1, width // 8 + 1, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    base = base[:height, :width]
    for t in range(count):
        yield np.roll(base, 3 * t, axis=1)


def write_frame_folder(root: str, folder: str, height: int, width: int, frames: int, template: str,
                       list_file: str) -> None:
    """`root/folder/template.format(k)` JPEGs (quality 95, k = 1..frames) and a one-line frame list
    `<folder> <frames> 0` at `root/list_file`."""
    os.makedirs(os.path.join(root, folder), exist_ok=True)
    for k, image in enumerate(_moving_images(height, width, frames), start=1):
        Image.fromarray(image).save(os.path.join(root, folder, template.format(k)), quality=95)
    with open(os.path.join(root, list_file), "w") as f:
        f.write(f"{folder} {frames} 0\n")


def write_video(path: str, height: int, width: int, frames: int, fps: int) -> None:
    """An H.264 yuv420p mp4 of `frames` frames at `fps` written with PyAV."""
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in _moving_images(height, width, frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


@contextmanager
def one_core() -> Iterator[None]:
    """This process on one CPU (the first it may use) with one torch thread, restored afterwards."""
    cpus, threads = os.sched_getaffinity(0), torch.get_num_threads()
    os.sched_setaffinity(0, {min(cpus)})
    torch.set_num_threads(1)
    try:
        yield
    finally:
        os.sched_setaffinity(0, cpus)
        torch.set_num_threads(threads)


@dataclass
class LoaderRate:
    """One row: dataset form, split, source resolution, backend; videos per CPU second (and per wall second)
    and clips/s on one core."""

    form: str
    split: str
    source: str
    backend: str
    videos_per_s: float
    wall_videos_per_s: float
    clips_per_video: int

    @property
    def clips_per_s(self) -> float:
        return self.videos_per_s * self.clips_per_video

    def cores_for(self, clips_per_s: float) -> int:
        return math.ceil(clips_per_s / self.clips_per_s)


def recipe_cfg(recipe: str, root: str, opts: list[str]):
    """The recipe's config with its data read from `root` (its model keys untouched)."""
    return load_config(recipe, ["DATA.PATH_TO_DATA_DIR", root, "DATA.PATH_PREFIX", root, *opts])


def time_items(dataset, videos: int) -> tuple[float, float]:
    """Items (videos) of `dataset[0]` per CPU second and per wall second over `videos` calls after one
    warm-up, on one core."""
    with one_core():
        dataset[0]
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(videos):
            dataset[0]
        return videos / (time.process_time() - cpu), videos / (time.perf_counter() - wall)


def bench_frames(root: str, videos: int, height: int, width: int, frames: int, splits: list[str]) -> list[LoaderRate]:
    """Something-Something V2 frame folders through the sthv2 recipe (`sth` dataset) per split."""
    cfg = recipe_cfg(RECIPES["sthv2 frames"], root, [])
    for split in ("train", "val", "test"):
        write_frame_folder(root, "video0", height, width, frames, cfg.DATA.IMAGE_TEMPLATE,
                           cfg.DATA.LABEL_PATH_TEMPLATE.format(split))
    rows = []
    for split in splits:
        dataset = build_dataset(cfg.TRAIN.DATASET, cfg, split)
        rows.append(LoaderRate("sthv2 frames", split, f"{frames} JPEG {width}x{height}", "PIL",
                               *time_items(dataset, videos), cfg.AUG.NUM_SAMPLE if split == "train" else 1))
    return rows


def bench_videos(root: str, videos: int, height: int, width: int, seconds: int, backends: list[str],
                 splits: list[str]) -> list[LoaderRate]:
    """Kinetics-style mp4 (30 fps) through the Kinetics recipe (`kinetics` dataset) per backend and split."""
    name = f"k_{height}p.mp4"
    write_video(os.path.join(root, name), height, width, 30 * seconds, 30)
    rows = []
    for backend in backends:
        cfg = recipe_cfg(RECIPES["kinetics mp4"], root, ["DATA.DECODING_BACKEND", backend,
                                                         "TEST.NUM_ENSEMBLE_VIEWS", "1", "TEST.NUM_SPATIAL_CROPS", "1"])
        for split in ("train", "val", "test"):
            with open(os.path.join(root, f"{split}.csv"), "w") as f:
                f.write(f"{name}{cfg.DATA.PATH_LABEL_SEPARATOR}0\n")
        for split in splits:
            dataset = build_dataset(cfg.TRAIN.DATASET, cfg, split)
            rows.append(LoaderRate("kinetics mp4", split, f"{seconds} s H.264 {width}x{height}", backend,
                                   *time_items(dataset, videos), cfg.AUG.NUM_SAMPLE if split == "train" else 1))
    return rows
