"""Per-epoch hooks of the training loop: precise BatchNorm statistics, validation, periodic + best checkpoints."""

import math

import torch
from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats

from slowfast.utils.logging import get_logger

from .checkpoint import Checkpointer, best_checkpoint_path, epoch_checkpoint_path
from .evaluator import MultiViewEvaluator, inference

logger = get_logger(__name__)


class HookBase:
    """Called by `Trainer.train` after each epoch (`trainer.epoch` = finished epochs)."""

    def after_epoch(self, trainer) -> None:
        pass


def _due(epoch: int, period: int, max_epoch: int) -> bool:
    return epoch == max_epoch or (period > 0 and epoch % period == 0)


class PreciseBNHook(HookBase):
    """Before each validation (same epochs as EvalHook): replace BatchNorm running statistics by their
    true average over `num_batches` training batches (fvcore precise BN), as SlowFast's BN.USE_PRECISE_STATS."""

    def __init__(self, loader, num_batches: int, period: int):
        self.loader, self.num_batches, self.period = loader, num_batches, period

    def after_epoch(self, trainer) -> None:
        if not _due(trainer.epoch, self.period, trainer.max_epoch) or not get_bn_modules(trainer.model):
            return

        def clips():
            for frames, *_ in self.loader:
                yield [f.to(trainer.device, non_blocking=True) for f in frames]

        num_batches = min(self.num_batches, len(self.loader))
        with torch.no_grad(), trainer.autocast():
            update_bn_stats(trainer.model, clips(), num_batches)
        logger.info("precise BN: statistics recomputed over %d training batches", num_batches)


class EvalHook(HookBase):
    """Validate every TRAIN.EVAL_PERIOD epochs and after the last; sets `trainer.val_metrics` (else None)."""

    def __init__(self, loader, evaluator: MultiViewEvaluator, period: int):
        self.loader, self.evaluator, self.period = loader, evaluator, period

    def after_epoch(self, trainer) -> None:
        trainer.val_metrics = None
        if self.loader is None or not _due(trainer.epoch, self.period, trainer.max_epoch):
            return
        metrics = inference(trainer.model, self.loader, self.evaluator, trainer.device, trainer.autocast,
                            trainer.log_period, f"val epoch {trainer.epoch}")
        trainer.val_metrics = metrics
        trainer.stats.write({"epoch": trainer.epoch, **metrics}, trainer.epoch, "val")
        logger.info("val epoch %d: top-1 %.2f top-5 %.2f", trainer.epoch, metrics["top1"], metrics["top5"])


class CheckpointHook(HookBase):
    """Save every TRAIN.CHECKPOINT_PERIOD epochs and after the last; save `checkpoint_best.pyth` when
    validation top-1 beats the best so far (kept in `trainer.best_top1`)."""

    def __init__(self, checkpointer: Checkpointer, period: int):
        self.checkpointer, self.period = checkpointer, period

    def after_epoch(self, trainer) -> None:
        out = self.checkpointer.output_dir
        metrics = trainer.val_metrics
        improved = metrics is not None and metrics["top1"] > trainer.best_top1
        if improved:
            trainer.best_top1 = metrics["top1"]
        if _due(trainer.epoch, self.period, trainer.max_epoch):
            self.checkpointer.save(epoch_checkpoint_path(out, trainer.epoch), trainer.epoch, trainer.best_top1)
        if improved and math.isfinite(trainer.best_top1):
            self.checkpointer.save(best_checkpoint_path(out), trainer.epoch, trainer.best_top1)
