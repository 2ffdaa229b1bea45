"""Process start-up: one process per GPU (or CPU process), under torchrun or spawned here; device,
process group, logging, the run's config.yaml; and `setup_model`, the one place that builds the model
on this process's device with its mixed-precision context (`Runtime`), for training and testing alike.

    torchrun --nproc_per_node G --nnodes N ... tools/run_net.py --cfg X NUM_GPUS G NUM_SHARDS N
    python tools/run_net.py --cfg X NUM_GPUS G     # one machine: starts G processes itself (torchelastic)

A process that fails ends as `slowfast.engine.failures` describes: one line, its traceback in the log; the
launcher stops the others and names the rank that failed first.
"""

import os
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
import torch.nn as nn

from slowfast.config import ConfigError
from slowfast.models import build_model
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger, setup_logging
from slowfast.utils.weights import load_weights

from .failures import launcher_failures, log_launcher_to, stop
from .performance import apply_backend_flags, compile_model

logger = get_logger(__name__)


def processes_per_machine(cfg) -> int:
    """NUM_GPUS processes per machine; NUM_GPUS 0 means one CPU process."""
    return max(cfg.NUM_GPUS, 1)


def launch_job(cfg, func: Callable) -> None:
    """Run `func(cfg)` in every process of the job `cfg` describes.

    Under torchrun (RANK set) this process is one of them. Otherwise one process runs `func` itself, or,
    for NUM_GPUS > 1 on one machine, torchelastic starts that many (as torchrun --standalone would, its
    report in OUTPUT_DIR/launcher.log); should one fail, the others are stopped and `RunFailure` names it.
    """
    procs = processes_per_machine(cfg)
    if "RANK" in os.environ or procs * cfg.NUM_SHARDS == 1:
        run_process(cfg, func)
    elif cfg.NUM_SHARDS == 1:
        _start_local_processes(cfg, func, procs)
    else:
        raise ConfigError(f"NUM_SHARDS = {cfg.NUM_SHARDS} machines need a launcher: start every machine with "
                          f"torchrun --nnodes {cfg.NUM_SHARDS} --nproc_per_node {procs} (exp/*/run.sh does)")


def _start_local_processes(cfg, func: Callable, procs: int) -> None:
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    log_launcher_to(os.path.join(cfg.OUTPUT_DIR, "launcher.log"))
    config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=procs, run_id=str(uuid.uuid4()),
                          rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.1,
                          start_method="spawn")
    with launcher_failures():
        elastic_launch(config, run_process)(cfg, func)


def check_world(cfg, world: int) -> None:
    """The process count and the batch sizes agree; errors say what to change."""
    expected = processes_per_machine(cfg) * cfg.NUM_SHARDS
    if world != expected:
        raise ConfigError(f"started {world} processes but NUM_GPUS x NUM_SHARDS = {cfg.NUM_GPUS} x {cfg.NUM_SHARDS} "
                          f"asks for {expected}; pass NUM_GPUS <processes per machine> NUM_SHARDS <machines>")
    for enabled, key, batch in ((cfg.TRAIN.ENABLE, "TRAIN.BATCH_SIZE", cfg.TRAIN.BATCH_SIZE),
                                (cfg.TEST.ENABLE, "TEST.BATCH_SIZE", cfg.TEST.BATCH_SIZE)):
        if enabled:
            du.per_process_batch(key, batch, world)
    if cfg.BN.USE_SYNC_BN and world > 1 and not (cfg.NUM_GPUS > 0 and torch.cuda.is_available()):
        raise ConfigError("BN.USE_SYNC_BN: torch's SyncBatchNorm runs on GPUs only; set it False on CPU")


def get_device(cfg) -> torch.device:
    """cuda:LOCAL_RANK when NUM_GPUS > 0 and CUDA is there, else the CPU."""
    if cfg.NUM_GPUS > 0 and torch.cuda.is_available():
        return torch.device("cuda", du.get_local_rank())
    return torch.device("cpu")


def run_process(cfg, func: Callable) -> None:
    """Check, set the backend flags (PERF.CUDNN_BENCHMARK), join the process group (NCCL on GPU, gloo on
    CPU), set up logging, dump config.yaml, run. An exception ends the process as `failures.stop` says: one
    line, the traceback in the log."""
    device = torch.device("cpu")
    try:
        world = du.env_world_size()
        check_world(cfg, world)
        device = get_device(cfg)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        apply_backend_flags(cfg)
        if device.type == "cpu" and world > 1:
            # Share the cores: oversubscribed threads stall gloo's collectives for seconds.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
        if world > 1:
            du.init_process_group("nccl" if device.type == "cuda" else "gloo",
                                  cfg.TRAIN.PROCESS_GROUP_TIMEOUT_MINUTES)
        setup_logging(cfg.OUTPUT_DIR, du.get_rank())
        if du.is_main_process():
            os.makedirs(cfg.OUTPUT_DIR, exist_ok=True)
            with open(os.path.join(cfg.OUTPUT_DIR, "config.yaml"), "w") as f:
                f.write(cfg.dump())
        if cfg.NUM_GPUS > 0 and device.type == "cpu":
            logger.warning("NUM_GPUS = %d but CUDA is not available: running %d CPU process(es)", cfg.NUM_GPUS,
                           world)
        logger.info("%d process(es) on %s, per-process train batch %d", world, device.type,
                    cfg.TRAIN.BATCH_SIZE // world)
        func(cfg)
    except (Exception, KeyboardInterrupt) as err:
        # No destroy_process_group on the way out: with NCCL it may wait on the peers this process left
        # behind; the launcher stops them and the exit frees the group.
        stop(err, cfg, device)
    du.destroy_process_group()


def autocast_factory(cfg, device: torch.device) -> Callable[[], AbstractContextManager]:
    """A fresh autocast context per call: TRAIN.MIXED_PRECISION in TRAIN.MIXED_PRECISION_DTYPE, else off."""
    dtype = getattr(torch, cfg.TRAIN.MIXED_PRECISION_DTYPE)
    return lambda: torch.autocast(device.type, dtype=dtype, enabled=cfg.TRAIN.MIXED_PRECISION)


@dataclass(frozen=True)
class Runtime:
    """How this process runs the model: on `device`, forward passes inside `autocast()` (a fresh context per call)."""

    device: torch.device
    autocast: Callable[[], AbstractContextManager]


def setup_model(cfg, weights: str | None = None, ddp: bool = False,
                finetune: bool = False) -> tuple[nn.Module, Runtime]:
    """The config's model with the weights of `weights` (`load_weights`: engine, SlowFast or released
    checkpoints, exactly, or as pre-trained weights when `finetune`; None: its initialisation) on this
    process's device, through `create_ddp_model` when `ddp`
    (training), compiled per PERF.COMPILE, and the `Runtime` to call it with."""
    device = get_device(cfg)
    model = build_model(cfg)
    if weights:
        load_weights(model, weights, finetune)
    model = create_ddp_model(model, cfg, device) if ddp else model.to(device)
    return compile_model(model, cfg), Runtime(device, autocast_factory(cfg, device))


def grad_scaler(cfg, device: torch.device) -> torch.amp.GradScaler:
    """A loss scaler, active for float16 mixed precision only (bfloat16 needs none)."""
    enabled = cfg.TRAIN.MIXED_PRECISION and cfg.TRAIN.MIXED_PRECISION_DTYPE == "float16"
    return torch.amp.GradScaler(device.type, enabled=enabled)


def create_ddp_model(model: nn.Module, cfg, device: torch.device) -> nn.Module:
    """`model` on `device`; with several processes, BatchNorm made SyncBatchNorm (BN.USE_SYNC_BN) and the
    model wrapped in DistributedDataParallel."""
    model = model.to(device)
    if du.get_world_size() == 1:
        return model
    if cfg.BN.USE_SYNC_BN:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    device_ids = [device.index] if device.type == "cuda" else None
    output_device = device.index if device_ids else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids, output_device=output_device)
