"""The motion dataset (v2): deterministic, its ground truth matches its frames, single frames carry no class."""

import filecmp
import json
import os
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from slowfast.config import get_cfg
from slowfast.datasets import construct_loader
from slowfast.datasets.motion_synth import CLASS_NAMES, TIERS, render_video, write_motion_dataset


def test_same_seed_same_files_other_seed_other_videos(tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        write_motion_dataset(out, seed=seed, num_train=3, num_val=1, num_test=1, num_frames=4, size=16, tier="pan")
    files = ["classes.txt", "train.csv", "motion_frames_train.txt", "videos/train/000002.mp4",
             "frames/train/000002/00004.jpg", "frames/test/000000/00001.jpg", "motion_train.json",
             "motion_dataset.json"]
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert match == files and not errors
    assert not filecmp.cmp(os.path.join(a, files[3]), os.path.join(c, files[3]), shallow=False)
    assert open(os.path.join(a, "train.csv")).read() == (
        "videos/train/000000.mp4 0\nvideos/train/000001.mp4 1\nvideos/train/000002.mp4 2\n")
    assert open(os.path.join(a, "motion_frames_train.txt")).read().splitlines()[1] == "frames/train/000001 4 1"
    assert open(os.path.join(a, "classes.txt")).read().split() == list(CLASS_NAMES)
    info = json.load(open(os.path.join(a, "motion_dataset.json")))
    assert (info["seed"], info["size"], info["num_frames"], info["tier"]) == (3, 16, 4, "pan")
    assert info["counts"] == {"train": 3, "val": 1, "test": 1}


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="tier"):
        render_video(np.random.default_rng(0), "move_left", 32, 4, tier="zoom")
    with pytest.raises(ValueError, match="unknown class"):
        render_video(np.random.default_rng(0), "jump", 32, 4)


def _object_mask(frames: np.ndarray) -> np.ndarray:
    """bool [T, S, S]: pixels that differ from the still background (the per-pixel median over time)."""
    f = frames.astype(np.float32)
    return np.abs(f - np.median(f, axis=0)).max(-1) > 40


def _circular_centroid(mask: np.ndarray) -> np.ndarray:
    """(x, y) centroid of a mask on a torus of its size, in pixel-centre coordinates."""
    s = mask.shape[0]
    ys, xs = np.nonzero(mask)
    angle = lambda c: np.angle(np.exp(2j * np.pi * (c + 0.5) / s).mean()) * s / (2 * np.pi) % s  # noqa: E731
    return np.array([angle(xs), angle(ys)])


def _torus_delta(a: np.ndarray, b: np.ndarray, size: int) -> np.ndarray:
    return (b - a + size / 2) % size - size / 2


@pytest.mark.parametrize("name", ["move_left", "move_right", "move_up", "move_down", "rotate_clockwise"])
def test_ground_truth_centre_and_velocity_match_the_frames(name):
    """The object's centroid in the frames is the stated centre, and moves by the stated velocity."""
    size, num_frames = 96, 12
    frames, motion = render_video(np.random.default_rng([11, CLASS_NAMES.index(name)]), name, size, num_frames)
    mask = _object_mask(frames)
    centroids = np.stack([_circular_centroid(m) for m in mask])
    # the star's centroid sits near its centre (its first harmonic shifts it by up to ~0.3 radius)
    offset = _torus_delta(np.array(motion["centre"]), centroids, size)
    assert np.linalg.norm(offset, axis=1).max() < 0.4 * np.mean(motion["radius"])
    steps = _torus_delta(centroids[:-1], centroids[1:], size)
    if name.startswith("move"):
        np.testing.assert_allclose(steps.mean(0), motion["velocity"], atol=0.6)
        assert np.linalg.norm(motion["velocity"]) >= 0.06 * size  # >= 0.7 stage-3 tokens per sampled frame
    else:
        assert motion["velocity"] == [0.0, 0.0] and motion["angular_velocity"] > 0
        assert np.abs(steps.mean(0)).max() < 0.6


def test_pan_moves_the_background_by_the_camera_velocity():
    frames, motion = render_video(np.random.default_rng(2), "rotate_clockwise", 64, 6, tier="pan")
    f = frames.astype(np.float32)
    camera = np.array(motion["camera_velocity"])
    for t in range(5):
        shift = np.round(camera * (t + 1)).astype(int) - np.round(camera * t).astype(int)
        moved = np.roll(f[t], (shift[1], shift[0]), axis=(0, 1))
        background = ~(_object_mask(frames)[t] | _object_mask(frames)[t + 1])
        # the rolled frame explains the next frame's background; the object (rotating in place) does not
        assert np.abs(moved - f[t + 1]).max(-1)[background].mean() < np.abs(f[t] - f[t + 1]).max(-1).mean()


def _single_frames(tier: str, count: int, seed: int, frames_per_clip: int):
    """`count` videos (32 px) of 8 balanced classes: a random frame (frames_per_clip = 1), or that frame and
    the next, as float [count, 3 * frames_per_clip, 32, 32] scaled to 0-1, labels [count]."""
    rng = np.random.default_rng(seed)
    clips, labels = [], []
    for i in range(count):
        frames, _ = render_video(np.random.default_rng([seed, i]), CLASS_NAMES[i % 8], 32, 8, tier)
        t = int(rng.integers(0, 8 - frames_per_clip + 1))
        clip = frames[t:t + frames_per_clip]
        clips.append(np.concatenate(list(clip), -1).transpose(2, 0, 1) / 255.0)
        labels.append(i % 8)
    return torch.tensor(np.stack(clips), dtype=torch.float32), torch.tensor(labels)


def _fit_and_score(train, test, channels: int, epochs: int = 30) -> float:
    """A small 2D CNN trained on `train`, top-1 on `test`."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                          nn.Linear(64, 8))
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    (x, y), (x_test, y_test) = train, test
    for _ in range(epochs):
        for i in torch.randperm(len(y)).split(32):
            loss = nn.functional.cross_entropy(model(x[i]), y[i])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        return (model(x_test).argmax(1) == y_test).float().mean().item()


@pytest.mark.parametrize("tier", TIERS)
def test_a_single_frame_carries_no_class(tier):
    """A CNN on single frames stays within 3 binomial standard deviations of chance on held-out videos,
    while the same CNN on two consecutive frames (the control) learns the classes."""
    n_train, n_test = 400, 400
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = _fit_and_score(_single_frames(tier, n_train, 1, 1), _single_frames(tier, n_test, 2, 1), 3)
        pair = _fit_and_score(_single_frames(tier, n_train, 1, 2), _single_frames(tier, n_test, 2, 2), 6)
    finally:
        torch.set_num_threads(threads)
    chance = 1 / 8
    assert abs(single - chance) <= 3 * np.sqrt(chance * (1 - chance) / n_test), (single, pair)
    assert pair >= 0.3, (single, pair)


def _tiny_3d_cnn(classes: int) -> nn.Module:
    def block(cin, cout, pool):
        return [nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(), nn.MaxPool3d(pool)]

    return nn.Sequential(*block(3, 16, (1, 2, 2)), *block(16, 32, (2, 2, 2)), *block(32, 64, 1),
                         nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(64, classes))


def _shuffle_time(clips: torch.Tensor) -> torch.Tensor:
    """[B, C, T, H, W] with the frames of each clip in a random order."""
    order = torch.argsort(torch.rand(clips.shape[0], clips.shape[2]), dim=1)
    return torch.stack([clip[:, o] for clip, o in zip(clips, order)])


def _load(cfg, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """All clips of `split` (one deterministic view per video): [N, 3, T, H, W], labels [N]."""
    batches = list(construct_loader(cfg, split))
    return torch.cat([b[0][0] for b in batches]), torch.cat([b[1] for b in batches])


def _train_and_test(train, test, shuffled: bool, epochs: int = 8, batch: int = 16) -> float:
    (x, y), (x_test, y_test) = train, test
    torch.manual_seed(0)
    model = _tiny_3d_cnn(2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y))
        for i in range(0, len(y), batch):
            clips, labels = x[order[i:i + batch]], y[order[i:i + batch]]
            loss = nn.functional.cross_entropy(model(_shuffle_time(clips) if shuffled else clips), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        logits = model(_shuffle_time(x_test) if shuffled else x_test)
    return (logits.argmax(1) == y_test).float().mean().item()


def test_tiny_3d_cnn_needs_frame_order(tmp_path):
    """A time-reversed pair (left / right), read back through the sth loader: ordered frames are learnt,
    shuffled frames stay at chance (1/2). With all 8 classes shuffled frames would still reveal the
    motion's kind (see motion_synth), so "the unordered frames carry no class information" is exact for a pair."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _check_needs_order(str(tmp_path))
    finally:
        torch.set_num_threads(threads)


def _check_needs_order(root: str) -> None:
    write_motion_dataset(root, seed=1, num_train=160, num_val=2, num_test=80, num_frames=16, size=32,
                         classes=("move_left", "move_right"))
    cfg = get_cfg()
    d = cfg.DATA
    d.PATH_TO_DATA_DIR, d.PATH_PREFIX, d.LABEL_PATH_TEMPLATE = root, root, "motion_frames_{}.txt"
    d.NUM_FRAMES, d.TRAIN_CROP_SIZE, d.TEST_CROP_SIZE, d.RANDOM_FLIP = 8, 32, 32, False
    cfg.TRAIN.DATASET = cfg.TEST.DATASET = "sth"
    cfg.MODEL.NUM_CLASSES, cfg.AUG.ENABLE = 2, False
    cfg.TRAIN.BATCH_SIZE, cfg.TEST.BATCH_SIZE, cfg.DATA_LOADER.NUM_WORKERS = 40, 40, 0
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    shutil.copy(os.path.join(root, "motion_frames_train.txt"), os.path.join(root, "motion_frames_val.txt"))
    train, test = _load(cfg, "val"), _load(cfg, "test")  # "val" = the train videos' centre views
    assert train[0].shape == (160, 3, 8, 32, 32)
    ordered = _train_and_test(train, test, shuffled=False)
    shuffled = _train_and_test(train, test, shuffled=True)
    assert ordered >= 0.85, (ordered, shuffled)
    assert abs(shuffled - 0.5) <= 0.15, (ordered, shuffled)
