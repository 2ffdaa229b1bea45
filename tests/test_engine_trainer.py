"""Training loop: distributed equals single-process, kill-and-resume equals uninterrupted, NaN stops cleanly."""

import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from engine_fixtures import engine_cfg, tiny_loader, train_steps

from slowfast.engine.checkpoint import checkpoint_dir, epoch_checkpoint_path, find_resumable, load_checkpoint
from slowfast.engine.launch import launch_job
from slowfast.engine.trainer import train


def test_two_gloo_processes_match_one_process_with_the_same_total_batch(tmp_path):
    """2 processes x 2 clips against 1 process x 4 clips, 2 epochs of 4 steps, shuffled per epoch.

    BatchNorm is frozen (running statistics) here: in training mode each process normalises with the
    statistics of its own 2 clips, which differ from those of the 4, and torch's SyncBatchNorm (which
    would fix that) runs on GPUs only. Everything else (DDP gradient averaging, the sampler's split of
    each shuffled global batch, gradient clipping on the averaged gradient, AdamW) is the real engine.
    """
    common = ["SOLVER.MAX_EPOCH", "2", "TRAIN.BATCH_SIZE", "4"]
    one = engine_cfg(tmp_path / "one", *common, "NUM_GPUS", "1")
    two = engine_cfg(tmp_path / "two", *common, "NUM_GPUS", "2")
    launch_job(one, train_steps)
    launch_job(two, train_steps)  # NUM_GPUS 2 without CUDA: 2 spawned CPU processes, gloo
    a, b = (torch.load(tmp_path / d / "result.pt") for d in ("one", "two"))
    assert len(a["losses"]) == len(b["losses"]) == 8
    torch.testing.assert_close(torch.tensor(b["losses"]), torch.tensor(a["losses"]), rtol=1e-5, atol=1e-6)
    assert a["state"].keys() == b["state"].keys()
    for key in a["state"]:
        torch.testing.assert_close(b["state"][key], a["state"][key], rtol=1e-4, atol=1e-5, msg=key)
    assert len(set(a["losses"])) == 8  # it trained: every step saw new clips or new weights


def test_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_run(tmp_path):
    killed, whole = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "engine_fixtures.py"), str(killed)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr[-2000:]  # SIGKILL at the start of epoch 2
    assert sorted(os.listdir(checkpoint_dir(killed))) == ["checkpoint_best.pyth", "checkpoint_epoch_00001.pyth"]

    train(engine_cfg(killed), tiny_loader)  # TRAIN.AUTO_RESUME is on by default
    train(engine_cfg(whole), tiny_loader)
    resumed = load_checkpoint(epoch_checkpoint_path(killed, 3))
    straight = load_checkpoint(epoch_checkpoint_path(whole, 3))
    assert resumed["scheduler_state"] == straight["scheduler_state"] == {"iteration": 12, "iters_per_epoch": 4}
    for key, value in straight["model_state"].items():
        torch.testing.assert_close(resumed["model_state"][key], value, rtol=0, atol=0, msg=key)
    for s, r in zip(straight["optimizer_state"]["state"].values(), resumed["optimizer_state"]["state"].values()):
        torch.testing.assert_close(r["exp_avg"], s["exp_avg"], rtol=0, atol=0)
    assert resumed["best_top1"] == straight["best_top1"]


def test_resume_skips_a_checkpoint_truncated_mid_write(tmp_path):
    cfg = engine_cfg(tmp_path, "SOLVER.MAX_EPOCH", "2")
    train(cfg, tiny_loader)
    newest = epoch_checkpoint_path(tmp_path, 2)
    data = open(newest, "rb").read()
    with open(newest, "wb") as f:
        f.write(data[: len(data) // 2])
    assert find_resumable(str(tmp_path)) == epoch_checkpoint_path(tmp_path, 1)
    train(engine_cfg(tmp_path, "SOLVER.MAX_EPOCH", "2"), tiny_loader)  # redoes epoch 2 from epoch 1's state
    assert load_checkpoint(newest)["epoch"] == 2


def test_nan_loss_stops_with_iteration_and_lr_and_saves_nothing(tmp_path):
    def nan_loader(cfg, split):
        loader = tiny_loader(cfg, split)
        loader.dataset.__class__ = type("NanVideos", (type(loader.dataset),), {
            "__getitem__": lambda self, i: ([torch.full((3, cfg.DATA.NUM_FRAMES, 32, 32), float("nan"))], 0, i, {})})
        return loader

    with pytest.raises(FloatingPointError, match=r"loss is nan at iteration 1 \(epoch 1\), lr 1e-06"):
        train(engine_cfg(tmp_path), nan_loader)
    assert not os.path.exists(checkpoint_dir(tmp_path)) or not os.listdir(checkpoint_dir(tmp_path))
