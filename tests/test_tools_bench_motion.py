"""tools/bench_motion.py and tools/demo_table.py on a tiny budget: real runs, table, figure, control."""

import json
import os
import sys

import torch
from PIL import Image

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import bench_motion  # noqa: E402
import demo_table  # noqa: E402

TINY = ["DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "DATA.NUM_FRAMES", "4", "TRAIN.BATCH_SIZE", "4",
        "DATA.STREAM_VIDEOS_PER_EPOCH", "8", "SOLVER.MAX_EPOCH", "2", "DATA_LOADER.NUM_WORKERS", "0",
        "TEST.NUM_ENSEMBLE_VIEWS", "2"]


class _Loader:
    def __init__(self, clips):
        self.clips, self.dataset = clips, list(range(len(clips)))

    def __len__(self):
        return len(self.clips)

    def __iter__(self):
        for clip in self.clips:
            yield [clip], torch.zeros(clip.shape[0]), torch.arange(clip.shape[0]), {}


def test_time_shuffled_reorders_each_clips_frames_and_keeps_them():
    clip = torch.arange(2 * 3 * 8 * 2 * 2, dtype=torch.float32).view(2, 3, 8, 2, 2)
    (shuffled,), *_ = next(iter(bench_motion.TimeShuffled(_Loader([clip]), seed=0)))
    for original, new in zip(clip, shuffled):
        order = [int(new[0, t, 0, 0] - original[0, 0, 0, 0]) // 4 for t in range(8)]
        assert sorted(order) == list(range(8)) and order != list(range(8))
        torch.testing.assert_close(new, original[:, order])


def test_bench_and_demo_table_on_a_tiny_budget(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    out = str(tmp_path / "bench")
    caplog.set_level("INFO")
    args = ["--seeds", "0", "--tasks", "all", "--time-shuffled", "--out", out, *TINY]
    results = bench_motion.main(["--jobs", "2", *args])
    assert [(r["model"], r["task"], r["seed"]) for r in results] == [
        ("motion_emim_tiny", "all", 0), ("motion_baseline_tiny", "all", 0)]
    for r in results:
        assert 0 <= r["top1"] <= 100 and 0 <= r["shuffled_top1"] <= 100 and r["chance"] == 12.5
        assert [e for e, _ in r["val_curve"]] == [1, 2]
        assert r["last_quarter_gain"] == r["val_curve"][1][1] - r["val_curve"][0][1]
        assert list(r["kinds"]) == ["translation", "rotation", "scaling"]
    table = open(os.path.join(out, "bench_motion.md")).read()
    assert "| all | motion_emim_tiny |" in table and "EMIM - baseline" in table and "| rotation |" in table
    assert json.load(open(os.path.join(out, "bench_motion.json")))[0]["top1"] == results[0]["top1"]
    with Image.open(os.path.join(out, "learning_curves_all.png")) as image:
        assert image.format == "PNG"
    # a second call reuses the finished runs (nothing retrained: same numbers, no new run logs)
    assert bench_motion.main(args) == results

    rows = demo_table.main(["--output-root", os.path.join(out, "all-still-seed0"), "motion_emim_tiny=0.5",
                            "motion_baseline_tiny=0.5"])
    assert [r["top1"] for r in rows] == [r["top1"] for r in results]
    assert rows[0]["clips"] == 16 and rows[0]["chance"] == 12.5 and rows[0]["params_m"] > 0.1
    with Image.open(os.path.join(out, "all-still-seed0", "learning_curves.png")) as image:
        assert image.format == "PNG" and image.size[0] > 300


def test_child_runs_keep_the_callers_pythonpath(monkeypatch):
    # tools/gpu_check.sh installs the wheels with `pip --target` and puts that folder on PYTHONPATH; a child that
    # lost it could not import fvcore (the failed GPU run)
    monkeypatch.setenv("PYTHONPATH", "/tmp/gpu_check_site")
    env = bench_motion.child_env(3)
    assert env["PYTHONPATH"].split(os.pathsep) == [REPO, "/tmp/gpu_check_site"] and env["OMP_NUM_THREADS"] == "3"
    monkeypatch.delenv("PYTHONPATH")
    assert bench_motion.child_env(1)["PYTHONPATH"] == REPO


def test_a_failing_run_reports_its_log_tail(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    caplog.set_level("INFO")
    args = ["--seeds", "0", "--tasks", "translation", "--jobs", "2", "--out", str(tmp_path), *TINY, "NO_SUCH.KEY", "1"]
    try:
        bench_motion.main(args)
    except SystemExit as exit_:
        assert str(exit_.code) == "error: 2 of 2 runs failed (their logs above)"
    else:
        raise AssertionError("bench_motion did not stop")
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2
    for message in errors:
        assert "run_net.py of motion_" in message and "exited with status 2; the last" in message
        assert "NO_SUCH.KEY" in message  # run_net's own error line, from the child's log
