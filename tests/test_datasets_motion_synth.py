"""The motion dataset: deterministic from its seed, and its classes need the order of the frames."""

import filecmp
import os
import shutil

import numpy as np
import pytest
import torch
from torch import nn

from slowfast.config import get_cfg
from slowfast.datasets import construct_loader
from slowfast.datasets.motion_synth import CLASS_NAMES, render_video, write_motion_dataset


def test_same_seed_same_files_other_seed_other_videos(tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        write_motion_dataset(out, seed=seed, num_train=3, num_val=1, num_test=1, num_frames=4, size=16)
    files = ["classes.txt", "train.csv", "motion_frames_train.txt", "videos/train/000002.mp4",
             "frames/train/000002/00004.jpg", "frames/test/000000/00001.jpg"]
    match, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    assert match == files and not errors
    assert not filecmp.cmp(os.path.join(a, files[3]), os.path.join(c, files[3]), shallow=False)
    assert open(os.path.join(a, "train.csv")).read() == (
        "videos/train/000000.mp4 0\nvideos/train/000001.mp4 1\nvideos/train/000002.mp4 2\n")
    assert open(os.path.join(a, "motion_frames_train.txt")).read().splitlines()[1] == "frames/train/000001 4 1"
    assert open(os.path.join(a, "classes.txt")).read().split() == list(CLASS_NAMES)


@pytest.mark.parametrize("name,axis,sign", [("move_right", 1, 1), ("move_left", 1, -1), ("move_down", 0, 1),
                                             ("move_up", 0, -1)])
def test_translation_classes_move_the_object_that_way(name, axis, sign):
    frames = render_video(np.random.default_rng(0), name, 64, 8).astype(np.float32)
    moving = np.abs(frames[1:] - frames[:-1]).sum(-1) > 0  # pixels that change between frames
    assert moving.any()
    # the changed region shifts along `axis` in direction `sign`: track the first/second half centroids
    coords = [np.argwhere(m)[:, axis].astype(float) for m in moving]
    shift = np.angle(np.mean([np.exp(2j * np.pi * c / 64).mean() for c in coords[4:]]) /
                     np.mean([np.exp(2j * np.pi * c / 64).mean() for c in coords[:3]])) * 64 / (2 * np.pi)
    assert shift * sign > 2


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
    """A time-reversed pair (left / right): ordered frames are learnt, shuffled frames stay at chance (1/2).
    With all 8 classes shuffled frames would still reveal the motion's kind (see motion_synth), so the
    claim "the unordered frames carry no class information" is exact for a pair."""
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
