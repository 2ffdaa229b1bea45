"""tools/bench_data.py, briefly: it writes its own SSv2 frame folders and Kinetics mp4 at the size asked,
times the recipes' training and test pipelines on one core, and counts the cores a rate needs."""

import math
import os
import sys

import av
from PIL import Image

from slowfast.datasets.loader_bench import one_core, write_frame_folder, write_video

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import bench_data  # noqa: E402


def test_synthetic_data_has_the_size_asked(tmp_path):
    write_frame_folder(str(tmp_path), "v", 60, 90, 5, "img_{:05d}.jpg", "list.txt")
    assert sorted(os.listdir(tmp_path / "v")) == [f"img_{k:05d}.jpg" for k in range(1, 6)]
    assert Image.open(tmp_path / "v" / "img_00003.jpg").size == (90, 60)
    assert (tmp_path / "list.txt").read_text() == "v 5 0\n"
    write_video(str(tmp_path / "v.mp4"), 64, 112, 45, 30)
    with av.open(str(tmp_path / "v.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 45 and frames[0].shape == (64, 112, 3)


def test_one_core_pins_and_restores():
    before = os.sched_getaffinity(0)
    with one_core():
        assert len(os.sched_getaffinity(0)) == 1
    assert os.sched_getaffinity(0) == before


def test_recipes_pipelines_per_core_and_cores_needed(tmp_path):
    rows = bench_data.main(["--videos", "1", "--frames-count", "20", "--video-short-sides", "128",
                            "--video-seconds", "3", "--backends", "pyav", "--target", "200",
                            "--json", str(tmp_path / "d.json")])
    assert [(r["form"], r["split"], r["backend"]) for r in rows] == [
        ("sthv2 frames", "train", "PIL"), ("sthv2 frames", "test", "PIL"),
        ("kinetics mp4", "train", "pyav"), ("kinetics mp4", "test", "pyav")]
    assert rows[0]["source"] == "20 JPEG 427x240" and rows[2]["source"] == "3 s H.264 226x128"
    for r in rows:
        assert r["videos_per_s"] > 0 and r["wall_videos_per_s"] > 0
        assert r["clips_per_video"] == (2 if r["split"] == "train" else 1)  # the recipes' AUG.NUM_SAMPLE
        assert r["clips_per_s"] == r["videos_per_s"] * r["clips_per_video"]
        assert r["cores_for_200"] == math.ceil(200 / r["clips_per_s"])
    assert (tmp_path / "d.json").exists()
