"""`sth` on the motion dataset's frame folders: frames read back, test views, bad data in train and test."""

import os
import random
import shutil

import numpy as np
import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets import DataFailureError, DecodeError, build_dataset
from slowfast.datasets.motion_synth import CLASS_NAMES, render_video, write_motion_dataset


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("motion"))
    write_motion_dataset(out, seed=5, num_train=16, num_val=8, num_test=8, num_frames=16, size=32)
    return out


def _cfg(root, **kv):
    cfg = get_cfg()
    d = cfg.DATA
    d.PATH_TO_DATA_DIR, d.PATH_PREFIX = root, root
    d.LABEL_PATH_TEMPLATE, d.IMAGE_TEMPLATE = "motion_frames_{}.txt", "{:05d}.jpg"
    d.NUM_FRAMES, d.TRAIN_CROP_SIZE, d.TEST_CROP_SIZE, d.RANDOM_FLIP = 8, 24, 32, False
    d.MEAN, d.STD = [0.0] * 3, [1.0] * 3
    cfg.MODEL.NUM_CLASSES = len(CLASS_NAMES)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, cfg.TEST.SPLIT = 1, 1, "test"
    cfg.DATA_LOADER.NUM_RETRIES = 3
    for key, value in kv.items():
        section, name = key.split("__")
        setattr(cfg[section], name, value)
    return cfg


def test_frames_read_back_equal_rendered_frames(motion_dir):
    ds = build_dataset("sth", _cfg(motion_dir), "test")
    assert len(ds) == 8
    # seg = 15 / 8: starts round(1.875 i) = 0 2 4 6 8 9 11 13, offset int(1.875 / 2) = 0
    expected_frames = [0, 2, 4, 6, 8, 9, 11, 13]
    for i in (0, 3, 6):
        frames, label, index, meta = ds[i]
        assert (label, index, meta) == (i % 8, i, {"video_index": i, "view_index": 0})
        rendered = render_video(np.random.default_rng([5, 2, i]), CLASS_NAMES[label], 32, 16)[0].astype(np.float32)
        decoded = (frames[0] * 255).permute(1, 2, 3, 0).numpy()  # [T, H, W, 3], MEAN 0, STD 1
        assert frames[0].shape == (3, 8, 32, 32)
        errors = np.abs(decoded[:, None] - rendered[None]).mean(axis=(2, 3, 4))  # [8 read, 16 written]
        assert np.all(errors[range(8), expected_frames] < 4.0)  # JPEG quality 95, 4:4:4
        if i % 8 < 4:  # moving objects: every other written frame is clearly different
            assert list(errors.argmin(axis=1)) == expected_frames


def test_test_views_count_determinism_and_distinct_clips(motion_dir):
    cfg = _cfg(motion_dir, TEST__NUM_ENSEMBLE_VIEWS=2, TEST__SPLIT="val")
    ds = build_dataset("sth", cfg, "test")
    assert len(ds) == 8 * 2
    again = build_dataset("sth", cfg, "test")
    for i in range(4):
        assert torch.equal(ds[i][0][0], again[i][0][0])
    (a, _, _, meta_a), (b, _, _, meta_b) = ds[2], ds[3]
    assert (meta_a, meta_b) == ({"video_index": 1, "view_index": 0}, {"video_index": 1, "view_index": 1})
    assert not torch.equal(a[0], b[0])


def test_train_items_random_and_repeated_augmentation(motion_dir):
    cfg = _cfg(motion_dir, AUG__NUM_SAMPLE=2, AUG__ENABLE=True,
               DATA__TRAIN_JITTER_SCALES_RELATIVE=[0.08, 1.0], DATA__TRAIN_JITTER_ASPECT_RELATIVE=[0.75, 1.3333])
    frames, labels, indices, meta = build_dataset("sth", cfg, "train")[5]
    assert len(frames) == 2 and [f[0].shape for f in frames] == [(3, 8, 24, 24)] * 2
    assert labels == [5, 5] and indices == [5, 5] and meta == {"video_index": [5, 5], "view_index": [0, 0]}
    assert not torch.equal(frames[0][0], frames[1][0])


def test_val_list_falls_back_to_released_validation_name(motion_dir, tmp_path):
    shutil.copy(os.path.join(motion_dir, "motion_frames_val.txt"), tmp_path / "lists_validation.txt")
    cfg = _cfg(motion_dir, DATA__PATH_TO_DATA_DIR=str(tmp_path), DATA__LABEL_PATH_TEMPLATE="lists_{}.txt")
    assert len(build_dataset("sth", cfg, "val")) == 8


@pytest.fixture
def broken_copy(motion_dir, tmp_path):
    """A copy with video 1 missing its frames and video 2's frame 1 corrupt."""
    root = str(tmp_path / "broken")
    shutil.copytree(motion_dir, root, ignore=shutil.ignore_patterns("videos"))
    for split in ("train", "test"):
        shutil.rmtree(os.path.join(root, f"frames/{split}/000001"))
        with open(os.path.join(root, f"frames/{split}/000002/00001.jpg"), "wb") as f:
            f.write(b"\xff\xd8 truncated")
    return root


def test_train_survives_bad_videos_and_counts_them(broken_copy, caplog):
    random.seed(0)  # training clips draw their frames from Python's random
    ds = build_dataset("sth", _cfg(broken_copy, TRAIN__MAX_DATA_FAILURES=0), "train")  # 0: no limit
    frames, label, index, _ = ds[1]
    assert index not in (1,) and label == index % 8 and frames[0].shape == (3, 8, 24, 24)
    assert ds.failure_count >= 1 and "frames/train/000001" in caplog.text
    for _ in range(20):  # frame 1 is drawn from segment [0, 2] a third of the time
        ds[2]
    assert ds.failure_count >= 2 and "000002/00001.jpg" in caplog.text


def test_train_stops_with_summary_past_max_failures(broken_copy):
    ds = build_dataset("sth", _cfg(broken_copy, TRAIN__MAX_DATA_FAILURES=2), "train")
    with pytest.raises(DataFailureError, match=r"3 train videos failed.*MAX_DATA_FAILURES = 2"):
        for _ in range(3):
            ds[1]


def test_test_split_lists_all_missing_files_then_names_undecodable(broken_copy):
    with pytest.raises(FileNotFoundError) as e:
        build_dataset("sth", _cfg(broken_copy), "test")
    message = str(e.value)
    assert message.startswith("8 file(s) of the test split are missing")  # the 8 frames of video 1
    assert "frames/test/000001/00001.jpg" in message and "frames/test/000001/00014.jpg" in message
    os.remove(os.path.join(broken_copy, "motion_frames_test.txt"))
    with open(os.path.join(broken_copy, "motion_frames_test.txt"), "w") as f:
        f.write("frames/test/000000 16 0\nframes/test/000002 16 2\n")
    ds = build_dataset("sth", _cfg(broken_copy), "test")
    with pytest.raises(DecodeError, match="frames/test/000002/00001.jpg"):
        ds[1]
