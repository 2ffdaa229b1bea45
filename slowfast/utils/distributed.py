"""Every torch.distributed call of the package: process-group set-up from torchrun's environment, rank
queries that also work without a process group, and gathers."""

import os
from datetime import timedelta

import torch
import torch.distributed as dist

from slowfast.config import ConfigError


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def get_world_size() -> int:
    return dist.get_world_size() if is_initialized() else 1


def get_rank() -> int:
    return dist.get_rank() if is_initialized() else 0


def get_local_rank() -> int:
    """This process's index on its machine (torchrun's LOCAL_RANK; 0 for a single process)."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    return get_rank() == 0


def env_world_size() -> int:
    """Processes the launcher started (torchrun's WORLD_SIZE), before any process group exists."""
    return int(os.environ.get("WORLD_SIZE", 1))


def init_process_group(backend: str, timeout_minutes: float = 30) -> None:
    """Join the group torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) describes; a
    collective that waits `timeout_minutes` for another process fails (NCCL: the process aborts)."""
    dist.init_process_group(backend=backend, init_method="env://", timeout=timedelta(minutes=timeout_minutes))


def destroy_process_group() -> None:
    if is_initialized():
        dist.destroy_process_group()


def per_process_batch(key: str, global_batch: int, world: int) -> int:
    """The share of each of `world` processes of `global_batch`, the config's batch `key` over all of them;
    ConfigError (a ValueError) unless it is a positive multiple of `world`."""
    if global_batch < world or global_batch % world:
        raise ConfigError(f"{key} = {global_batch} is the total over all {world} processes and must be a positive "
                         f"multiple of it (processes = NUM_GPUS x NUM_SHARDS)")
    return global_batch // world


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of `tensor` over all processes (a copy; `tensor` itself unchanged)."""
    if not is_initialized():
        return tensor.clone()
    out = tensor.clone()
    dist.all_reduce(out)
    return out / get_world_size()


def all_gather_object(obj) -> list:
    """[obj of rank 0, obj of rank 1, ...] on every process (any picklable object)."""
    if not is_initialized():
        return [obj]
    out = [None] * get_world_size()
    dist.all_gather_object(out, obj)
    return out

