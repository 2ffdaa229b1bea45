"""`diving48`: a tiny Diving48 copy, its lists written by `prepare_diving48` from the site's annotation files,
read by the registered dataset through the recipe exp/emim_s16_diving48_k400; the pre-flight passes on it and
names a missing video; the recipe's run.sh stops at the pre-flight."""

import json
import os
import subprocess

import av
import numpy as np
import pytest
from conftest import REPO

from slowfast.config import load_config
from slowfast.datasets import Diving48, build_dataset
from slowfast.datasets.preflight import check_split
from slowfast.datasets.prepare import prepare_diving48
from slowfast.engine.preflight import PreflightError, check_run

RECIPE = "emim_s16_diving48_k400"
FRAMES = 24  # per video; frame k is uniformly grey at level _grey(k)
VIDEOS = {"train": [("a_00001", 3), ("b_00002", 0)], "test": [("c_00003", 47)]}


def _grey(k: int) -> int:
    return 10 * k + 5


def _write_video(path, num_frames: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 32, "yuv420p"
        stream.options = {"crf": "12", "preset": "fast", "threads": "1"}
        for k in range(num_frames):
            frame = np.full((32, 64, 3), _grey(k), np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture
def diving48(tmp_path):
    """(lists folder, video folder) of a Diving48 download of 3 videos, prepared by prepare_diving48."""
    root = tmp_path / "Diving48"
    for videos in VIDEOS.values():
        for name, _ in videos:
            _write_video(root / "rgb" / f"{name}.mp4", FRAMES)
    for split, videos in VIDEOS.items():
        (root / f"Diving48_V2_{split}.json").write_text(json.dumps(
            [{"vid_name": n, "label": label, "start_frame": 0, "end_frame": FRAMES} for n, label in videos]))
    (root / "Diving48_vocab.json").write_text(json.dumps([["Back", "15som", "05Twis", "FREE"]] * 48))
    prepare_diving48(str(root / "rgb"), str(root), str(tmp_path / "lists"))
    return tmp_path / "lists", root / "rgb"


def _cfg(lists, videos, output_dir, *overrides):
    """The recipe shrunk to 4 frames at 32 px on CPU, pixel values kept (mean 0, std 1)."""
    return load_config(str(REPO / "exp" / RECIPE / "config.yaml"), [
        "DATA.PATH_TO_DATA_DIR", str(lists), "DATA.PATH_PREFIX", str(videos), "OUTPUT_DIR", str(output_dir),
        "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
        "DATA.MEAN", "[0.0, 0.0, 0.0]", "DATA.STD", "[1.0, 1.0, 1.0]", "TEST.NUM_SPATIAL_CROPS", "1",
        "NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "1", "TRAIN.CHECKPOINT_FILE_PATH", "", "TEST.ENABLE", "False",
        *overrides])


def test_prepared_lists_read_by_segments_over_the_whole_video(diving48, tmp_path):
    lists, videos = diving48
    cfg = _cfg(lists, videos, tmp_path / "out")
    test = build_dataset("diving48", cfg, "test")
    assert isinstance(test, Diving48) and len(test) == 1
    frames, label, _, _ = test[0]
    assert label == 47 and frames[0].shape == (3, 4, 32, 32)
    grey = (frames[0] * 255).mean(dim=(0, 2, 3)).numpy()  # [4] mean level of each clip frame
    read = [int(np.abs(g - _grey(np.arange(FRAMES))).argmin()) for g in grey]
    # By hand: seg = (24 - 1) / 4 = 5.75, segment starts round(5.75 i) = 0, 6, 12, 17, one view: + int(5.75 / 2) = 2.
    # (A dense 4 x 4 clip, as `kinetics` reads, would be frames 4, 9, 14, 19.)
    assert read == [2, 8, 14, 19]
    train = build_dataset("diving48", cfg, "train")
    clips = train[0][0]  # AUG.NUM_SAMPLE 2: two augmented clips of one video
    assert sorted(r.label for r in train.records) == [0, 3] and [c[0].shape for c in clips] == [(3, 4, 32, 32)] * 2


def test_preflight_passes_and_names_a_missing_video(diving48, tmp_path):
    lists, videos = diving48
    cfg = _cfg(lists, videos, tmp_path / "out", "TRAIN.EVAL_PERIOD", "1")
    assert check_run(cfg)[:2] == [f"train: 2 videos in {lists}/train.csv, all present, 2 decoded",
                                  f"val: 1 videos in {lists}/val.csv, all present, 1 decoded"]
    os.remove(videos / "b_00002.mp4")
    check = check_split(cfg, "train")
    assert [(p.where, p.message, p.key) for p in check.problems] == [
        (f"{lists}/train.csv:2", f"video {videos}/b_00002.mp4 does not exist", "DATA.PATH_PREFIX")]
    with pytest.raises(PreflightError) as info:
        check_run(cfg)
    assert str(info.value).splitlines()[1:] == [f"  - {lists}/train.csv:2: video {videos}/b_00002.mp4 does not exist "
                                                f"[set VIDEO_DIR in run.sh/test.sh, or DATA.PATH_PREFIX]"]


def test_run_sh_reaches_the_preflight(diving48, tmp_path):
    lists, videos = diving48
    os.remove(videos / "a_00001.mp4")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "NUM_GPUS": "0", "DATA_DIR": str(lists), "VIDEO_DIR": str(videos),
           "OUTPUT_DIR": str(tmp_path / "out"), "PRETRAINED": ""}
    proc = subprocess.run(["bash", f"exp/{RECIPE}/run.sh"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and "Traceback" not in out, out
    assert [line for line in out.splitlines() if line.startswith("error:")] == [
        "error: 1 problem(s) found before starting the run (nothing was started):"], out
    assert (f"  - {lists}/train.csv:1: video {videos}/a_00001.mp4 does not exist "
            f"[set VIDEO_DIR in run.sh/test.sh, or DATA.PATH_PREFIX]") in out.splitlines()
    assert not (tmp_path / "out").exists()
