"""`motion_stream`: a fresh video per (seed, epoch, index), the same after a resume; val/test stay files."""

import os
import shutil

import numpy as np
import pytest
import torch

from slowfast.config import load_config
from slowfast.datasets import build_dataset
from slowfast.datasets.frame_folders import FrameFolders
from slowfast.datasets.motion_stream import MotionStream
from slowfast.datasets.motion_synth import CLASS_NAMES, render_video, write_motion_dataset
from slowfast.engine.checkpoint import epoch_checkpoint_path
from slowfast.engine.trainer import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("motion"))
    write_motion_dataset(out, seed=4, num_train=8, num_val=4, num_test=4, num_frames=8, size=32)
    return out


def _cfg(data_dir: str, output_dir: str = "", *overrides: str):
    return load_config(os.path.join(REPO, "exp", "motion_emim_tiny", "config.yaml"), [
        "DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", data_dir, "DATA.TRAIN_CROP_SIZE", "32",
        "DATA.TEST_CROP_SIZE", "32", "DATA.NUM_FRAMES", "4", "TRAIN.BATCH_SIZE", "4", "OUTPUT_DIR", output_dir,
        "DATA.STREAM_VIDEOS_PER_EPOCH", "0",
        *overrides])


def test_an_item_is_a_function_of_seed_epoch_and_index(data_dir):
    a, b = (build_dataset("motion_stream", _cfg(data_dir), "train") for _ in range(2))
    assert isinstance(a, MotionStream) and len(a) == 8
    a.set_epoch(3)
    b.set_epoch(3)
    np.testing.assert_array_equal(a.render(5), b.render(5))
    expected, _ = render_video(np.random.default_rng([4, 3, 3, 5]), CLASS_NAMES[5], 32, 8)
    np.testing.assert_array_equal(a.render(5), expected)
    np.testing.assert_array_equal(a.render(5, [6, 0, 0, 3]), expected[[6, 0, 0, 3]])
    b.set_epoch(4)
    assert not np.array_equal(a.render(5), b.render(5))
    assert not np.array_equal(a.render(5), a.render(6))
    longer = build_dataset("motion_stream", _cfg(data_dir, "", "DATA.STREAM_VIDEOS_PER_EPOCH", "20"), "train")
    assert len(longer) == 20 and longer.records[13].label == 5
    frames, label, index, meta = a[5]
    assert frames[0].shape == (3, 4, 32, 32) and label == 5 and index == 5


def test_val_and_test_read_the_written_files(data_dir):
    cfg = _cfg(data_dir)
    for split in ("val", "test"):
        dataset = build_dataset("motion_stream", cfg, split)
        assert isinstance(dataset, FrameFolders) and len(dataset.records) == 4


def test_errors_name_the_folder_and_the_class_count(tmp_path, data_dir):
    with pytest.raises(FileNotFoundError, match="motion_dataset.json"):
        build_dataset("motion_stream", _cfg(str(tmp_path)), "train")
    with pytest.raises(ValueError, match="MODEL.NUM_CLASSES is 5 but the motion dataset in .* has \\d+ classes"):
        build_dataset("motion_stream", _cfg(data_dir, "", "MODEL.NUM_CLASSES", "5"), "train")
    with pytest.raises(KeyError, match="registered: .*MotionStream"):
        build_dataset("motion_streem", _cfg(data_dir), "train")


def test_resumed_run_renders_the_same_videos_as_an_uninterrupted_one(tmp_path, data_dir, monkeypatch):
    """Two epochs in one go, and the first epoch's checkpoint resumed for the second, end with the same
    weights (loader workers render the clips, so only the same videos give the same steps)."""
    overrides = ("SOLVER.MAX_EPOCH", "2", "TRAIN.CHECKPOINT_PERIOD", "1", "TRAIN.EVAL_PERIOD", "0",
                 "DATA_LOADER.NUM_WORKERS", "1", "TEST.ENABLE", "False")
    whole, resumed = str(tmp_path / "whole"), str(tmp_path / "resumed")
    train(_cfg(data_dir, whole, *overrides))
    os.makedirs(os.path.join(resumed, "checkpoints"))
    shutil.copy(epoch_checkpoint_path(whole, 1), epoch_checkpoint_path(resumed, 1))
    train(_cfg(data_dir, resumed, *overrides))
    final = [torch.load(epoch_checkpoint_path(d, 2), weights_only=False)["model_state"] for d in (whole, resumed)]
    for key, value in final[0].items():
        torch.testing.assert_close(final[1][key], value, rtol=0, atol=0, msg=key)
    # the check can fail: a resumed run that rendered epoch 0's videos again ends elsewhere
    stale = str(tmp_path / "stale")
    os.makedirs(os.path.join(stale, "checkpoints"))
    shutil.copy(epoch_checkpoint_path(whole, 1), epoch_checkpoint_path(stale, 1))
    monkeypatch.setattr(MotionStream, "set_epoch", lambda self, epoch: None)
    train(_cfg(data_dir, stale, *overrides))
    weights = torch.load(epoch_checkpoint_path(stale, 2), weights_only=False)["model_state"]
    assert any(not torch.equal(weights[k], v) for k, v in final[0].items())
