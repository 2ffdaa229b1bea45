"""Decoded-and-augmented clips per second for one data-loader worker, per decoding backend.

    python tools/bench_data.py [--clips 20 --frames 16 --sampling-rate 4 --crop 224 --short-side 256]

Writes a 10 s H.264 video (short side 256, 30 fps) with PyAV into a temp dir, then times the `kinetics`
training pipeline on it (dense sampling, random resized crop to 224, RandAugment rand-m7-n4-mstd0.5-inc1,
random erasing) and the test pipeline (one view), with one thread, as a DataLoader worker runs.
"""

import argparse
import logging
import os
import tempfile
import time

import av
import numpy as np
import torch

from slowfast.config import get_cfg
from slowfast.datasets import build_dataset

logger = logging.getLogger("bench_data")


def _write_video(path: str, height: int, width: int, frames: int, fps: int) -> None:
    rng = np.random.default_rng(0)
    base = (rng.random((height // 8, width // 8, 3)) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(path, "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for t in range(frames):
            image = np.roll(base, 3 * t, axis=1)  # moving content, realistic inter-frame coding
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=20, help="clips timed per backend and split")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--sampling-rate", type=int, default=4)
    parser.add_argument("--crop", type=int, default=224)
    parser.add_argument("--short-side", type=int, default=256)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        width = args.short_side * 16 // 9 // 2 * 2
        _write_video(os.path.join(root, "v.mp4"), args.short_side, width, 300, 30)
        for split in ("train", "test"):
            with open(os.path.join(root, f"{split}.csv"), "w") as f:
                f.write("v.mp4 0\n")
        cfg = get_cfg()
        d = cfg.DATA
        d.PATH_TO_DATA_DIR, d.PATH_PREFIX = root, root
        d.NUM_FRAMES, d.SAMPLING_RATE, d.USE_OFFSET_SAMPLING = args.frames, args.sampling_rate, True
        d.TRAIN_CROP_SIZE, d.TEST_CROP_SIZE = args.crop, args.crop
        d.TRAIN_JITTER_SCALES_RELATIVE, d.TRAIN_JITTER_ASPECT_RELATIVE = [0.08, 1.0], [0.75, 1.3333]
        cfg.AUG.ENABLE, cfg.MODEL.NUM_CLASSES = True, 1
        cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
        rows = []
        for backend in ("decord", "pyav"):
            d.DECODING_BACKEND = backend
            for split in ("train", "test"):
                dataset = build_dataset("kinetics", cfg, split)
                dataset[0]  # warm-up
                start = time.perf_counter()
                for _ in range(args.clips):
                    dataset[0]
                rows.append((backend, split, args.clips / (time.perf_counter() - start)))
    header = (f"clips/s per worker: {args.frames} frames x {args.sampling_rate}, crop {args.crop}, "
              f"from {args.short_side}x{width} H.264 (1 thread)")
    table = [header, f"{'backend':<8} {'split':<6} {'clips/s':>8}"]
    table += [f"{b:<8} {s:<6} {r:8.2f}" for b, s, r in rows]
    logger.info("\n".join(table))


if __name__ == "__main__":
    main()
