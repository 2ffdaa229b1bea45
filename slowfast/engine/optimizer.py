"""Optimizer with weight-decay groups, and the cosine learning-rate schedule with linear warm-up by iteration."""

import math

import torch
import torch.nn as nn

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def param_groups(model: nn.Module, weight_decay: float, zero_wd_1d: bool, released: bool) -> list[dict]:
    """[decayed, not decayed] groups; not decayed: 1D parameters and biases (if `zero_wd_1d`) and the
    names `model.no_weight_decay()` returns (rpb, pos_embed), unless `released` (which decayed those)."""
    model = getattr(model, "module", model)
    skip = set() if released else set(getattr(model, "no_weight_decay", set)())
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exempt = name in skip or (zero_wd_1d and (p.ndim <= 1 or name.endswith(".bias")))
        (no_decay if exempt else decay).append(p)
    logger.info("optimizer: %d tensors with weight decay %g, %d without", len(decay), weight_decay, len(no_decay))
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def construct_optimizer(model: nn.Module, solver) -> torch.optim.Optimizer:
    """AdamW or SGD (SOLVER.OPTIMIZING_METHOD) over `param_groups`; lr is set by `LRScheduler` each step."""
    groups = [g for g in param_groups(model, solver.WEIGHT_DECAY, solver.ZERO_WD_1D_PARAM,
                                      solver.RELEASED_WEIGHT_DECAY) if g["params"]]
    if solver.OPTIMIZING_METHOD == "adamw":
        return torch.optim.AdamW(groups, lr=solver.BASE_LR, betas=(0.9, 0.999))
    return torch.optim.SGD(groups, lr=solver.BASE_LR, momentum=solver.MOMENTUM, nesterov=solver.NESTEROV)


def lr_at_epoch(solver, epoch: float) -> float:
    """Learning rate at fractional `epoch`: linear from WARMUP_START_LR to the cosine curve's value at
    WARMUP_EPOCHS, then cosine from BASE_LR to COSINE_END_LR at MAX_EPOCH (SlowFast's `get_lr_at_epoch`)."""
    offset = solver.WARMUP_EPOCHS if solver.COSINE_AFTER_WARMUP else 0.0

    def cosine(e: float) -> float:
        progress = (e - offset) / max(solver.MAX_EPOCH - offset, 1e-12)
        return solver.COSINE_END_LR + (solver.BASE_LR - solver.COSINE_END_LR) * (math.cos(math.pi * progress) + 1) / 2

    if epoch < solver.WARMUP_EPOCHS:
        end = cosine(solver.WARMUP_EPOCHS)
        return solver.WARMUP_START_LR + (end - solver.WARMUP_START_LR) * epoch / solver.WARMUP_EPOCHS
    return cosine(epoch)


class LRScheduler:
    """Sets every group's lr from `lr_at_epoch` before each iteration; its state is the iteration count."""

    def __init__(self, optimizer: torch.optim.Optimizer, solver, iters_per_epoch: int):
        self.optimizer, self.solver, self.iters_per_epoch = optimizer, solver, iters_per_epoch
        self.iteration = 0

    def step(self) -> float:
        """Set the lr of the coming iteration, count it, and return the lr."""
        lr = lr_at_epoch(self.solver, self.iteration / self.iters_per_epoch)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.iteration += 1
        return lr

    def state_dict(self) -> dict:
        return {"iteration": self.iteration, "iters_per_epoch": self.iters_per_epoch}

    def load_state_dict(self, state: dict) -> None:
        self.iteration = state["iteration"]
