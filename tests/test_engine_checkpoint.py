"""Atomic checkpoint writes and the choice of the checkpoint to resume from."""

import os
import random

import numpy as np
import pytest
import torch

from slowfast.engine import checkpoint as ck
from slowfast.utils.misc import get_rng_state, set_rng_state


def test_atomic_save_keeps_the_old_file_when_a_write_fails(tmp_path, monkeypatch):
    path = str(tmp_path / "c.pyth")
    ck.atomic_save({"epoch": 1}, path)

    def failing_save(obj, f):
        f.write(b"partial bytes")
        raise OSError("disk full")

    monkeypatch.setattr(ck.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        ck.atomic_save({"epoch": 2}, path)
    assert os.listdir(tmp_path) == ["c.pyth"]  # no temp file left behind
    assert torch.load(path)["epoch"] == 1


def _write(output_dir, epoch, **extra):
    state = {"model_state": {"w": torch.ones(2)}, "optimizer_state": {}, "scheduler_state": {}, "epoch": epoch}
    ck.atomic_save({**state, **extra}, ck.epoch_checkpoint_path(output_dir, epoch))


def test_newest_readable_checkpoint_is_resumed_truncated_and_temp_files_skipped(tmp_path):
    out = str(tmp_path)
    assert ck.find_resumable(out) is None
    for epoch in (1, 2, 10):
        _write(out, epoch)
    assert ck.find_resumable(out) == ck.epoch_checkpoint_path(out, 10)  # numeric, not lexical order
    newest = ck.epoch_checkpoint_path(out, 10)
    data = open(newest, "rb").read()
    with open(newest, "wb") as f:  # as if the machine died mid-write without the atomic rename
        f.write(data[:100])
    with open(ck.epoch_checkpoint_path(out, 11) + ".abc.tmp", "wb") as f:
        f.write(data)
    torch.save({"model_state": {}}, ck.epoch_checkpoint_path(out, 3))  # readable but not a training checkpoint
    assert ck.find_resumable(out) == ck.epoch_checkpoint_path(out, 2)


def test_rng_state_round_trips_through_a_weights_only_load(tmp_path):
    state = get_rng_state()
    ck.atomic_save({"rng_state": state}, str(tmp_path / "r.pyth"))
    expected = (random.random(), np.random.rand(), torch.rand(1))
    set_rng_state(torch.load(tmp_path / "r.pyth", weights_only=True)["rng_state"])
    assert (random.random(), np.random.rand(), torch.rand(1)) == expected
