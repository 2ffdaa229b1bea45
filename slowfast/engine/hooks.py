"""Per-epoch hooks of the training loop: validation (after precise BatchNorm statistics), periodic + best checkpoints.

Each hook gets what it works on in its constructor and only the epoch numbers from the trainer, so the
order of the hook list does not matter: `CheckpointHook` asks the `EvalHook` it was given for the metrics
of the epoch, and the `EvalHook` validates at most once per epoch, whichever hook asks first.
"""

import torch
import torch.nn as nn
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats

from slowfast.utils.logging import get_logger

from .checkpoint import Checkpointer, best_checkpoint_path, epoch_checkpoint_path
from .evaluator import MultiViewEvaluator, inference
from .launch import Runtime
from .meters import StatsWriter

logger = get_logger(__name__)


class HookBase:
    """Called by `Trainer.train` after each epoch: `epoch` = finished epochs, `max_epoch` = the run's last."""

    def after_epoch(self, epoch: int, max_epoch: int) -> None:
        pass


def _due(epoch: int, period: int, max_epoch: int) -> bool:
    return epoch == max_epoch or (period > 0 and epoch % period == 0)


class PreciseBN:
    """Replace the BatchNorm running statistics of `model` by their true average over `num_batches`
    training batches of `loader` (fvcore precise BN), as SlowFast's BN.USE_PRECISE_STATS."""

    def __init__(self, model: nn.Module, loader, num_batches: int, runtime: Runtime):
        self.model, self.loader, self.num_batches, self.runtime = model, loader, num_batches, runtime

    def update(self) -> None:
        if not get_bn_modules(self.model):
            return

        def clips():
            for frames, *_ in self.loader:
                yield [f.to(self.runtime.device, non_blocking=True) for f in frames]

        num_batches = min(self.num_batches, len(self.loader))
        with torch.no_grad(), self.runtime.autocast():
            update_bn_stats(self.model, clips(), num_batches)
        logger.info("precise BN: statistics recomputed over %d training batches", num_batches)


class EvalHook(HookBase):
    """Validate every `period` (TRAIN.EVAL_PERIOD) epochs and after the last, first updating the BatchNorm
    statistics with `precise_bn` when given; writes the metrics to `stats` ("val")."""

    def __init__(self, model: nn.Module, loader, evaluator: MultiViewEvaluator, period: int, runtime: Runtime,
                 stats: StatsWriter, log_period: int, precise_bn: PreciseBN | None = None):
        self.model, self.loader, self.evaluator, self.period = model, loader, evaluator, period
        self.runtime, self.stats, self.log_period, self.precise_bn = runtime, stats, log_period, precise_bn
        self._epoch, self._metrics = None, None  # the last epoch validated and its metrics

    def metrics(self, epoch: int, max_epoch: int) -> dict | None:
        """The validation metrics after `epoch` finished epochs (validating now if not done yet), or None
        when `epoch` is not a validation epoch."""
        if not _due(epoch, self.period, max_epoch):
            return None
        if self._epoch != epoch:
            if self.precise_bn is not None:
                self.precise_bn.update()
            self._metrics = inference(self.model, self.loader, self.evaluator, self.runtime.device,
                                      self.runtime.autocast, self.log_period, f"val epoch {epoch}")
            self._epoch = epoch
            self.stats.write({"epoch": epoch, **self._metrics}, epoch, "val")
            logger.info("val epoch %d: top-1 %.2f top-5 %.2f", epoch, self._metrics["top1"], self._metrics["top5"])
        return self._metrics

    def after_epoch(self, epoch: int, max_epoch: int) -> None:
        self.metrics(epoch, max_epoch)


class CheckpointHook(HookBase):
    """Save every `period` (TRAIN.CHECKPOINT_PERIOD) epochs and after the last; with `validation`, also save
    `checkpoint_best.pyth` whenever its top-1 beats the best so far (`best_top1`, restored on resume)."""

    def __init__(self, checkpointer: Checkpointer, period: int, validation: EvalHook | None = None,
                 best_top1: float = 0.0):
        self.checkpointer, self.period, self.validation, self.best_top1 = checkpointer, period, validation, best_top1

    def after_epoch(self, epoch: int, max_epoch: int) -> None:
        out = self.checkpointer.output_dir
        metrics = self.validation.metrics(epoch, max_epoch) if self.validation is not None else None
        improved = metrics is not None and metrics["top1"] > self.best_top1
        if improved:
            self.best_top1 = metrics["top1"]
        if _due(epoch, self.period, max_epoch):
            self.checkpointer.save(epoch_checkpoint_path(out, epoch), epoch, self.best_top1)
        if improved:
            self.checkpointer.save(best_checkpoint_path(out), epoch, self.best_top1)
