"""Training checkpoints: written atomically, resumed from the newest one that loads.

Layout: `OUTPUT_DIR/checkpoints/checkpoint_epoch_00005.pyth` every TRAIN.CHECKPOINT_PERIOD epochs and
`checkpoint_best.pyth` (best validation top-1). Each holds `model_state` (SlowFast format, so
`slowfast.utils.weights.load_weights` reads it too), `optimizer_state`, `scaler_state`,
`scheduler_state`, `epoch` (the number of finished epochs), `rng_state`, `best_top1` and `cfg` (YAML text).
"""

import glob
import os
import re
import tempfile

import torch
import torch.nn as nn

from slowfast.utils.logging import get_logger
from slowfast.utils.misc import get_rng_state, set_rng_state
from slowfast.utils.weights import WeightsError, extract_state_dict, load_state, read_checkpoint

logger = get_logger(__name__)

_EPOCH_FILE = re.compile(r"checkpoint_epoch_(\d+)\.pyth$")
REQUIRED_KEYS = ("model_state", "optimizer_state", "scheduler_state", "epoch")


def checkpoint_dir(output_dir: str) -> str:
    return os.path.join(output_dir, "checkpoints")


def epoch_checkpoint_path(output_dir: str, epoch: int) -> str:
    return os.path.join(checkpoint_dir(output_dir), f"checkpoint_epoch_{epoch:05d}.pyth")


def best_checkpoint_path(output_dir: str) -> str:
    return os.path.join(checkpoint_dir(output_dir), "checkpoint_best.pyth")


def atomic_save(obj, path: str) -> None:
    """torch.save to a temp file in the same folder, fsync, rename over `path`, fsync the folder:
    a reader sees the old file or the whole new one, never a partial one."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside DistributedDataParallel, or `model` itself."""
    return getattr(model, "module", model)


class Checkpointer:
    """Saves and restores the whole training state; only rank 0 writes (`save_enabled`)."""

    def __init__(self, output_dir: str, model: nn.Module, optimizer, scheduler, scaler, cfg, save_enabled: bool):
        self.output_dir = output_dir
        self.model, self.optimizer, self.scheduler, self.scaler = model, optimizer, scheduler, scaler
        self.cfg_text = cfg.dump()
        self.save_enabled = save_enabled

    def state(self, epoch: int, best_top1: float) -> dict:
        return {
            "model_state": unwrap(self.model).state_dict(),
            "optimizer_state": self.optimizer.state_dict(),
            "scaler_state": self.scaler.state_dict() if self.scaler is not None else {},
            "scheduler_state": self.scheduler.state_dict(),
            "epoch": epoch,
            "best_top1": best_top1,
            "rng_state": get_rng_state(),
            "cfg": self.cfg_text,
        }

    def save(self, path: str, epoch: int, best_top1: float) -> None:
        """Write the state after `epoch` finished epochs to `path` (rank 0 only)."""
        if not self.save_enabled:
            return
        atomic_save(self.state(epoch, best_top1), path)
        logger.info("saved checkpoint %s (epoch %d)", path, epoch)

    def resume(self, path: str) -> tuple[int, float]:
        """Restore everything from `path`; returns (finished epochs, best top-1 so far). The model's tensors
        must be exactly those in the file (`WeightsError` names every one that differs)."""
        ckpt = load_checkpoint(path)
        load_state(unwrap(self.model), extract_state_dict(ckpt, path), path)
        self.optimizer.load_state_dict(ckpt["optimizer_state"])
        self.scheduler.load_state_dict(ckpt["scheduler_state"])
        if self.scaler is not None and ckpt.get("scaler_state"):
            self.scaler.load_state_dict(ckpt["scaler_state"])
        if "rng_state" in ckpt:
            set_rng_state(ckpt["rng_state"])
        logger.info("resumed from %s after epoch %d", path, ckpt["epoch"])
        return ckpt["epoch"], ckpt.get("best_top1", 0.0)


def load_checkpoint(path: str) -> dict:
    """A training checkpoint, checked for the keys a resume needs (`read_checkpoint`: weights only)."""
    ckpt = read_checkpoint(path)
    missing = [k for k in REQUIRED_KEYS if not isinstance(ckpt, dict) or k not in ckpt]
    if missing:
        raise WeightsError(f"{path}: not a training checkpoint, missing {missing}")
    return ckpt


def find_resumable(output_dir: str) -> str | None:
    """The checkpoint of the latest epoch in `output_dir/checkpoints` that loads; truncated or corrupt
    files (and leftover temp files) are skipped with a warning."""
    files = [f for f in glob.glob(os.path.join(checkpoint_dir(output_dir), "checkpoint_epoch_*.pyth"))
             if _EPOCH_FILE.search(f)]
    for path in sorted(files, key=lambda f: int(_EPOCH_FILE.search(f).group(1)), reverse=True):
        try:
            load_checkpoint(path)
            return path
        except Exception as err:  # any unreadable file: try the next older one
            logger.warning("skipping unreadable checkpoint %s: %s", path, err)
    return None


def last_checkpoint(output_dir: str) -> str | None:
    """The newest good epoch checkpoint, else the best one, else None (what testing uses by default)."""
    path = find_resumable(output_dir)
    if path is None and os.path.exists(best_checkpoint_path(output_dir)):
        path = best_checkpoint_path(output_dir)
    return path
