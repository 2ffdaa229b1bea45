"""A run that fails midway stops like a program: one line naming the cause and what to change, the traceback
in the log, a non-zero exit, and the checkpoint written before the failure loads. Each failure is provoked
for real: an address-space cap, a poisoned batch, a truncated video, a killed rank, a NaN under run.sh."""

import contextlib
import json
import logging
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.nn as nn
from conftest import REPO
from engine_fixtures import engine_cfg, tiny_loader, train_then_kill_rank1

from slowfast.config import RunFailure
from slowfast.datasets import construct_loader
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.engine.checkpoint import epoch_checkpoint_path, load_checkpoint
from slowfast.engine.launch import Runtime, grad_scaler, launch_job
from slowfast.engine.losses import build_loss
from slowfast.engine.meters import StatsWriter
from slowfast.engine.optimizer import LRScheduler, construct_optimizer
from slowfast.engine.trainer import NonFiniteLoss, Trainer, train


class SecondEpoch:
    """`loader` whose second pass (epoch 2) goes through `change(batches) -> batches`."""

    def __init__(self, loader, change):
        self.loader, self.change, self.passes = loader, change, 0
        self.dataset, self.sampler = loader.dataset, loader.sampler

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        self.passes += 1
        batches = iter(self.loader)
        return self.change(batches) if self.passes == 2 else batches


def changed_in_epoch_2(change):
    """A loader_fn for `train`: tiny_loader, the train split's epoch 2 through `change`."""
    return lambda cfg, split: SecondEpoch(tiny_loader(cfg, split), change) if split == "train" else tiny_loader(
        cfg, split)


def poisoned(batches_to_poison: int):
    """The first `batches_to_poison` batches of the epoch with NaN clips."""
    def change(batches):
        for i, (frames, labels, indices, meta) in enumerate(batches):
            if i < batches_to_poison:
                frames = [torch.full_like(frames[0], float("nan"))]
            yield frames, labels, indices, meta
    return change


def assert_loads(output_dir, epoch: int) -> None:
    ckpt = load_checkpoint(epoch_checkpoint_path(output_dir, epoch))
    assert ckpt["epoch"] == epoch and all(torch.isfinite(v).all() for v in ckpt["model_state"].values()
                                          if v.is_floating_point())


def _address_space() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))


def train_out_of_memory(output_dir: str) -> dict:
    """Train the tiny model 2 epochs; epoch 2 feeds 512 clips (~140 MB of activations) under an address-space cap
    32 MB above what the process holds, so that the CPU allocator really refuses. {"message", "status"}."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)

    def big_batch(batches):
        frames, labels, indices, meta = next(batches)
        big = [frames[0].repeat(128, 1, 1, 1, 1)], labels.repeat(128), indices.repeat(128), {}
        resource.setrlimit(resource.RLIMIT_AS, (_address_space() + 32 * 2**20, hard))
        yield big

    try:
        cfg = engine_cfg(output_dir, "SOLVER.MAX_EPOCH", "2")
        launch_job(cfg, lambda cfg: train(cfg, changed_in_epoch_2(big_batch)))
    except RunFailure as err:
        return {"message": str(err), "status": err.status}
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    return {"message": "no failure", "status": 0}


def test_out_of_memory_names_the_batch_the_peak_and_the_keys(tmp_path):
    """In a child process of one thread and one malloc arena: a cap on the address space stays with the process
    that set it (oneDNN, once refused a primitive, refuses every later one in that process), and new threads'
    arenas would take the 32 MB margin before the batch does."""
    child = ("import json, sys; sys.path.insert(0, 'tests'); import torch; torch.set_num_threads(1); "
             "import test_engine_failures as t; print(json.dumps(t.train_out_of_memory(sys.argv[1])))")
    env = {**os.environ, "MALLOC_ARENA_MAX": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", child, str(tmp_path)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    message = result["message"]
    assert message.startswith("out of memory in training iteration 5 (epoch 2): per-process batch 512 clips of "
                              "[3, 4, 32, 32]"), message
    assert "GiB resident in CPU memory" in message and "lower TRAIN.BATCH_SIZE" in message
    assert "MODEL.USE_CHECKPOINT True" in message and "TRAIN.MIXED_PRECISION True" in message
    assert "\n" not in message and result["status"] == 2
    log = (tmp_path / "stdout.log").read_text()
    assert "Traceback" in log and ("DefaultCPUAllocator" in log or "MemoryError" in log)
    assert_loads(tmp_path, 1)


def test_nan_loss_names_the_iteration_the_last_good_checkpoint_and_what_to_try(tmp_path):
    with pytest.raises(NonFiniteLoss) as err:
        train(engine_cfg(tmp_path), changed_in_epoch_2(poisoned(2)))
    message = str(err.value)
    assert message.startswith("loss is nan at iteration 5 (epoch 2), lr "), message
    assert f"the last good checkpoint is {epoch_checkpoint_path(tmp_path, 1)}" in message
    for advice in ("SOLVER.BASE_LR", "TRAIN.MIXED_PRECISION_DTYPE bfloat16", "SOLVER.CLIP_GRADIENT",
                   "TRAIN.MAX_NONFINITE_STEPS"):
        assert advice in message
    assert_loads(tmp_path, 1)
    assert not os.path.exists(epoch_checkpoint_path(tmp_path, 2))


def test_nonfinite_steps_up_to_the_key_are_skipped_and_counted(tmp_path):
    keys = ("TRAIN.MAX_NONFINITE_STEPS", "2", "SOLVER.MAX_EPOCH", "2", "TRAIN.EVAL_PERIOD", "0")
    train(engine_cfg(tmp_path / "skip", *keys), changed_in_epoch_2(poisoned(2)))
    epochs = [json.loads(line) for line in (tmp_path / "skip" / "json_stats.log").read_text().splitlines()]
    assert [s["nonfinite_skips"] for s in epochs if "epoch_time_s" in s] == [0, 2]
    assert_loads(tmp_path / "skip", 2)  # finite: the skipped steps left weights and BatchNorm statistics alone

    with pytest.raises(NonFiniteLoss, match=r"loss is nan at iteration 7 \(epoch 2\).* after 2 skipped step"):
        train(engine_cfg(tmp_path / "stop", *keys), changed_in_epoch_2(poisoned(3)))


@pytest.fixture(scope="module")
def motion_videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("motion")
    write_motion_dataset(str(root), num_train=8, num_val=4, num_test=1, num_frames=8, size=32)
    return root


def _with_truncated_video(motion_videos, tmp_path):
    """A copy of the videos whose train video 000003.mp4 is cut in half (no index: it cannot be opened)."""
    root = tmp_path / "data"
    shutil.copytree(motion_videos, root, ignore=shutil.ignore_patterns("frames"))
    video = root / "videos" / "train" / "000003.mp4"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    return root


def _video_cfg(root, output_dir, *overrides):
    return engine_cfg(output_dir, "TRAIN.DATASET", "kinetics", "DATA.PATH_TO_DATA_DIR", str(root),
                      "DATA.PATH_PREFIX", str(root), "MODEL.NUM_CLASSES", "8", "DATA.SAMPLING_RATE", "2",
                      "DATA.TRAIN_JITTER_SCALES_RELATIVE", "[1.0, 1.0]", "DATA.TRAIN_JITTER_ASPECT_RELATIVE",
                      "[1.0, 1.0]", "DATA_LOADER.NUM_WORKERS", "1", "TRAIN.EVAL_PERIOD", "0", *overrides)


def test_undecodable_videos_are_replaced_named_per_epoch_and_reported(motion_videos, tmp_path, caplog):
    """One DataLoader worker decodes: the failures reach the trainer in the batches' meta."""
    root = _with_truncated_video(motion_videos, tmp_path)
    train(_video_cfg(root, tmp_path / "out", "SOLVER.MAX_EPOCH", "2", "TRAIN.MAX_DATA_FAILURES", "0"),
          construct_loader)
    report = [json.loads(line) for line in (tmp_path / "out" / "data_failures.jsonl").read_text().splitlines()]
    assert {r["epoch"] for r in report} == {1, 2}  # every video is drawn each epoch: 8 videos, 2 batches of 4
    assert all(r["path"].endswith("videos/train/000003.mp4") and r["source"].endswith("train.csv:4")
               and r["rank"] == 0 and r["split"] == "train" and r["error"] for r in report)
    for epoch in (1, 2):
        assert any(m.startswith(f"train epoch {epoch}: ") and "failed to decode and were replaced" in m
                   and "000003.mp4" in m and "data_failures.jsonl" in m for m in caplog.messages)
    assert_loads(tmp_path / "out", 2)


def test_more_undecodable_videos_than_the_key_stop_the_run(motion_videos, tmp_path):
    root = _with_truncated_video(motion_videos, tmp_path)
    with pytest.raises(RunFailure) as err:
        train(_video_cfg(root, tmp_path / "out", "TRAIN.MAX_DATA_FAILURES", "1"), construct_loader)
    message = str(err.value)
    assert message.startswith("2 train videos failed to decode, more than TRAIN.MAX_DATA_FAILURES = 1"), message
    assert "000003.mp4" in message and str(tmp_path / "out" / "data_failures.jsonl") in message
    assert "\n" not in message and "Traceback" not in message
    assert_loads(tmp_path / "out", 1)


def test_a_killed_rank_stops_the_other_and_is_named(tmp_path):
    """2 gloo processes; rank 1 is SIGKILLed as epoch 2 starts, rank 0 waits for it in a collective."""
    cfg = engine_cfg(tmp_path, "NUM_GPUS", "2", "SOLVER.MAX_EPOCH", "2", "TRAIN.PROCESS_GROUP_TIMEOUT_MINUTES",
                     "1.0")
    with pytest.raises(RunFailure) as err:
        launch_job(cfg, train_then_kill_rank1)
    assert str(err.value).startswith("rank 1: was killed by signal SIGKILL"), str(err.value)
    assert err.value.status == 1
    assert "Root Cause" in (tmp_path / "launcher.log").read_text()  # torchelastic's report, kept in the log
    assert_loads(tmp_path, 1)


def test_run_sh_ends_a_nan_run_with_one_error_line(motion_videos, tmp_path):
    """The released way in: exp/<name>/run.sh -> tools/launch.sh -> torchrun -> run_net.py."""
    out = tmp_path / "out"
    env = {**os.environ, "NUM_GPUS": "0", "DATA_DIR": str(motion_videos), "OUTPUT_DIR": str(out),
           "PYTHON": sys.executable}
    proc = subprocess.run(
        ["bash", str(REPO / "exp" / "motion_emim_tiny" / "run.sh"), "TRAIN.DATASET", "sth", "DATA.TRAIN_CROP_SIZE",
         "32", "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4", "SOLVER.MAX_EPOCH", "2",
         "DATA_LOADER.NUM_WORKERS", "0", "SOLVER.BASE_LR", "1e30", "SOLVER.WARMUP_EPOCHS", "0.0"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: rank 0: loss is nan at iteration "), proc.stderr
    assert proc.stderr.rstrip().endswith(errors[0])
    for banner in ("Traceback", "ChildFailedError", "Root Cause"):
        assert banner not in proc.stdout + proc.stderr
    assert "Root Cause" in (out / "launcher.log").read_text()
    assert "Traceback" in (out / "stdout.log").read_text()


class Spiky(nn.Module):
    """Scores [B, C] = sin(1e36 w), bounded: the loss stays finite while d loss / d w ~ 1e36, which the float16
    loss scaler's scale (2^16 at first) makes inf until the scale falls below ~300."""

    def __init__(self, classes: int):
        super().__init__()
        self.w = nn.Parameter(torch.ones(classes))

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.sin(self.w * 1e36).expand(x[0].shape[0], -1) + 0 * x[0].mean()


def test_loss_scaler_skips_are_counted_apart_and_never_stop_a_run(tmp_path, caplog):
    cfg = engine_cfg(tmp_path, "TRAIN.MIXED_PRECISION", "True", "SOLVER.CLIP_GRADIENT", "0.0")
    device = torch.device("cpu")
    model, loader = Spiky(cfg.MODEL.NUM_CLASSES), tiny_loader(cfg, "train")
    optimizer = construct_optimizer(model, cfg.SOLVER)
    scaler = grad_scaler(cfg, device)
    assert scaler.is_enabled()
    trainer = Trainer(model=model, loader=loader, optimizer=optimizer,
                      scheduler=LRScheduler(optimizer, cfg.SOLVER, len(loader)), scaler=scaler,
                      loss_fn=build_loss(cfg.MODEL.LOSS_FUNC), runtime=Runtime(device, contextlib.nullcontext),
                      stats=StatsWriter(str(tmp_path), True, None), output_dir=str(tmp_path))
    weights = model.w.detach().clone()
    caplog.set_level(logging.INFO)
    trainer.train(0, 1)  # 4 steps, each with inf gradients at scales 2^16 .. 2^13
    assert trainer.scaler_skips == 4 and trainer.nonfinite_skips == 0 and scaler.get_scale() == 2.0**12
    assert torch.equal(model.w.detach(), weights)  # no step taken
    assert all(math.isfinite(loss) for loss in trainer.losses) and len(trainer.losses) == 4
    assert "the float16 loss scaler skipped 4 step(s)" in caplog.text


def test_the_launcher_names_the_rank_that_failed_on_its_own_not_the_ones_that_lost_it(tmp_path):
    """Error files as the processes write them: rank 0 lost its peer first (earlier), rank 1 failed on its own,
    rank 2 was stopped by the launcher (SIGTERM, no file)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError, ProcessFailure

    from slowfast.engine.failures import child_failure, write_error_file

    files = [str(tmp_path / f"error{r}.json") for r in range(3)]
    write_error_file(files[0], "lost contact with another process (gloo)", 1, True, "")
    write_error_file(files[1], "out of memory in training iteration 9 (...)", 2, False, "")
    failures = {r: ProcessFailure(local_rank=r, pid=100 + r, exitcode=code, error_file=files[r])
                for r, code in ((0, 1), (1, 2), (2, -15))}
    failure = child_failure(ChildFailedError("run_net", failures))
    assert str(failure) == "rank 1: out of memory in training iteration 9 (...) (2 other process(es) stopped after it)"
    assert failure.status == 2


def test_a_worker_reraised_error_gives_its_own_message_and_a_fault_names_the_log(tmp_path):
    from torch.utils.data import DataLoader, Dataset

    from slowfast.engine.failures import failure_line

    class Broken(Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, index):
            raise KeyError("clip 7 has no label")

    cfg = engine_cfg(tmp_path)
    with pytest.raises(KeyError) as err:
        next(iter(DataLoader(Broken(), num_workers=1)))
    assert "Original Traceback" in str(err.value)  # how DataLoader re-raises a worker's exception
    line, status = failure_line(err.value, cfg, torch.device("cpu"))
    assert line == (f"KeyError: 'clip 7 has no label' (a fault of the program; the traceback is in "
                    f"{tmp_path / 'stdout.log'})") and status == 1


def test_torchrun_with_a_killed_rank_ends_with_its_line_only(tmp_path):
    """tools/torchrun.py (what tools/launch.sh runs) over 2 gloo processes; rank 1 is SIGKILLed in epoch 2."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    proc = subprocess.run(
        [sys.executable, str(REPO / "tools" / "torchrun.py"), "--log", str(tmp_path / "launcher.log"), "--standalone",
         "--nproc_per_node", "2", str(REPO / "tests" / "engine_fixtures.py"), "--rank1", str(tmp_path),
         "NUM_GPUS", "2", "SOLVER.MAX_EPOCH", "2"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: rank 1: was killed by signal SIGKILL"), proc.stderr
    for banner in ("Traceback", "ChildFailedError", "Root Cause"):
        assert banner not in proc.stdout + proc.stderr
    assert "Root Cause" in (tmp_path / "launcher.log").read_text()
    assert_loads(tmp_path, 1)


def test_an_allocation_the_cpu_refuses_outside_a_step_names_both_batch_keys(tmp_path):
    from slowfast.engine.failures import failure_line

    with pytest.raises(RuntimeError) as err:
        torch.empty(2**50, dtype=torch.uint8)  # 1 PiB: the CPU allocator refuses it for real
    line, status = failure_line(err.value, engine_cfg(tmp_path), torch.device("cpu"))
    assert line.startswith("out of memory outside a training step (validation, testing or set-up); peak "), line
    assert "tried to allocate 1048576.00 GiB; lower TRAIN.BATCH_SIZE or TEST.BATCH_SIZE, or set MODEL." in line
    assert status == 2


def test_ctrl_c_under_torchrun_ends_with_one_line_and_keeps_the_checkpoints(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C sends it, once the first checkpoint is written."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "tools" / "torchrun.py"), "--log", str(tmp_path / "launcher.log"), "--standalone",
         "--nproc_per_node", "1", str(REPO / "tests" / "engine_fixtures.py"), "--train", str(tmp_path),
         "SOLVER.MAX_EPOCH", "1000"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not os.path.exists(epoch_checkpoint_path(tmp_path, 1)) and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "SIGINT" in errors[0] and "the same command resumes" in errors[0], err
    assert "Traceback" not in out + err and "KeyboardInterrupt" not in out + err
    assert_loads(tmp_path, 1)
