"""The training loop (`Trainer`) and `train(cfg)`, which builds everything it needs from the config."""

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger
from slowfast.utils.misc import gpu_memory_gib, seed_everything

from .checkpoint import Checkpointer, find_resumable, unwrap
from .evaluator import MultiViewEvaluator
from .hooks import CheckpointHook, EvalHook, HookBase, PreciseBN
from .launch import Runtime, grad_scaler, setup_model
from .losses import SoftTargetCrossEntropy, build_loss
from .meters import Progress, ScalarMeters, StatsWriter, topk_correct
from .optimizer import LRScheduler, construct_optimizer

logger = get_logger(__name__)


class Trainer:
    """Epochs of `run_step` over `loader`, then the hooks. Batches are (frames, labels, indices, meta)
    with frames [clip [B, 3, T, H, W]] and labels [B]; `mixup(clip, labels) -> (clip, soft targets [B, C])`."""

    def __init__(self, *, model: nn.Module, loader, optimizer: torch.optim.Optimizer, scheduler: LRScheduler,
                 scaler: torch.amp.GradScaler, loss_fn: nn.Module, runtime: Runtime, stats: StatsWriter,
                 clip_gradient: float | None = None, mixup: Callable | None = None, seed: int = 0,
                 log_period: int = 10, hooks: Sequence[HookBase] = ()):
        self.model, self.loader, self.optimizer, self.scheduler = model, loader, optimizer, scheduler
        self.scaler, self.loss_fn, self.runtime, self.stats = scaler, loss_fn, runtime, stats
        self.clip_gradient, self.mixup, self.seed, self.log_period = clip_gradient, mixup, seed, log_period
        self.hooks = list(hooks)
        self.epoch, self.max_epoch = 0, 0  # finished epochs; the last epoch of this run
        self.losses: list[float] = []  # mean loss over all processes, per iteration of this run

    def train(self, start_epoch: int, max_epoch: int) -> None:
        """Train epochs start_epoch..max_epoch-1, calling every hook after each. Each epoch's data order and
        randomness derive from (seed, epoch, rank) alone, so a resumed run repeats what an uninterrupted one
        would do."""
        self.epoch, self.max_epoch = start_epoch, max_epoch
        for epoch in range(start_epoch, max_epoch):
            seed_everything(self.seed + 10007 * epoch + du.get_rank())
            for part in (getattr(self.loader, "sampler", None), getattr(self.loader, "dataset", None)):
                if hasattr(part, "set_epoch"):  # distributed shuffling; datasets rendered per epoch
                    part.set_epoch(epoch)
            self.train_epoch(epoch)
            self.epoch = epoch + 1
            for hook in self.hooks:
                hook.after_epoch(self.epoch, max_epoch)

    def train_epoch(self, epoch: int) -> None:
        self.model.train()
        window, totals = ScalarMeters(), ScalarMeters()
        progress = Progress(f"train epoch {epoch + 1}/{self.max_epoch}", len(self.loader), self.log_period)
        for it, batch in enumerate(self.loader):
            record = self.run_step(batch)
            n = record.pop("batch")
            window.update(n, **record)
            totals.update(n, **record)
            if progress.due(it):
                remaining = (self.max_epoch - epoch - 1) * len(self.loader)
                logger.info("%s loss %.4f lr %.3g", progress.line(it, remaining), window.averages()["loss"],
                            record["lr"])
                self.stats.write({"epoch": epoch + 1, "iter": it + 1, **window.averages(),
                                  "eta_s": progress.eta(it, remaining), "gpu_mem_gib": gpu_memory_gib()},
                                 self.scheduler.iteration, "train")
                window = ScalarMeters()
        self.stats.write({"epoch": epoch + 1, **totals.averages(), "epoch_time_s": progress.elapsed()},
                         epoch + 1, "train_epoch")

    def run_step(self, batch) -> dict:
        """One optimiser step on one batch; returns the numbers to record."""
        start = time.perf_counter()
        frames, labels, _, _ = batch
        frames = [f.to(self.runtime.device, non_blocking=True) for f in frames]
        labels = labels.to(self.runtime.device, non_blocking=True)
        targets = labels
        if self.mixup is not None:
            frames[0], targets = self.mixup(frames[0], labels)
        lr = self.scheduler.step()
        with self.runtime.autocast():
            logits = self.model(frames)
        loss = self.loss_fn(logits, targets)
        mean_loss = du.all_reduce_mean(loss.detach()).item()
        if not math.isfinite(mean_loss):
            raise FloatingPointError(f"loss is {mean_loss} at iteration {self.scheduler.iteration} "
                                     f"(epoch {self.epoch + 1}), lr {lr:.6g}; stopping, no checkpoint written")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip_gradient:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_gradient)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.losses.append(mean_loss)
        top1, top5 = topk_correct(logits.detach(), labels)
        n = labels.shape[0]
        return {"loss": mean_loss, "lr": lr, "top1_err": 100.0 * (1 - top1 / n), "top5_err": 100.0 * (1 - top5 / n),
                "clips_per_s": n * du.get_world_size() / (time.perf_counter() - start), "batch": n}


def build_mixup(cfg) -> Callable | None:
    """The data package's batch Mixup/CutMix with label smoothing, when MIXUP.ENABLE."""
    if not cfg.MIXUP.ENABLE:
        return None
    from slowfast.datasets.mixup import MixUp

    return MixUp(cfg)


def train(cfg, loader_fn: Callable | None = None) -> None:
    """Build model, data, optimizer, schedule and hooks from `cfg`; resume or fine-tune; train.

    loader_fn(cfg, split) -> DataLoader; default `slowfast.datasets.construct_loader`.
    """
    if loader_fn is None:
        from slowfast.datasets import construct_loader as loader_fn
    seed_everything(cfg.RNG_SEED)
    resume = find_resumable(cfg.OUTPUT_DIR) if cfg.TRAIN.AUTO_RESUME else None
    finetune = resume is None and not cfg.TRAIN.CHECKPOINT_LOAD_OPTIMIZER
    model, runtime = setup_model(cfg, cfg.TRAIN.CHECKPOINT_FILE_PATH if finetune else None, ddp=True,
                                 finetune=True)
    train_loader = loader_fn(cfg, "train")
    val_loader = loader_fn(cfg, "val") if cfg.TRAIN.EVAL_PERIOD > 0 else None
    optimizer = construct_optimizer(model, cfg.SOLVER)
    scheduler = LRScheduler(optimizer, cfg.SOLVER, len(train_loader))
    scaler = grad_scaler(cfg, runtime.device)
    main = du.is_main_process()
    checkpointer = Checkpointer(cfg.OUTPUT_DIR, model, optimizer, scheduler, scaler, cfg, save_enabled=main)
    start_epoch, best_top1 = 0, 0.0
    if resume is not None:
        start_epoch, best_top1 = checkpointer.resume(resume)
    elif cfg.TRAIN.CHECKPOINT_FILE_PATH and cfg.TRAIN.CHECKPOINT_LOAD_OPTIMIZER:
        start_epoch, best_top1 = checkpointer.resume(cfg.TRAIN.CHECKPOINT_FILE_PATH)
    stats = StatsWriter(cfg.OUTPUT_DIR, main, cfg.TENSORBOARD.LOG_DIR if cfg.TENSORBOARD.ENABLE else None)
    validation = None
    if val_loader is not None:
        precise_bn = (PreciseBN(model, train_loader, cfg.BN.NUM_BATCHES_PRECISE, runtime)
                      if cfg.BN.USE_PRECISE_STATS else None)
        evaluator = MultiViewEvaluator(cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, len(val_loader.dataset))
        validation = EvalHook(model, val_loader, evaluator, cfg.TRAIN.EVAL_PERIOD, runtime, stats, cfg.LOG_PERIOD,
                              precise_bn)
    checkpointing = CheckpointHook(checkpointer, cfg.TRAIN.CHECKPOINT_PERIOD, validation, best_top1)
    mixup = build_mixup(cfg)
    loss_fn = SoftTargetCrossEntropy() if mixup is not None else build_loss(cfg.MODEL.LOSS_FUNC)
    logger.info("model: %.2fM parameters; training epochs %d..%d, %d iterations per epoch",
                sum(p.numel() for p in unwrap(model).parameters()) / 1e6, start_epoch + 1, cfg.SOLVER.MAX_EPOCH,
                len(train_loader))
    trainer = Trainer(model=model, loader=train_loader, optimizer=optimizer, scheduler=scheduler, scaler=scaler,
                      loss_fn=loss_fn, runtime=runtime, stats=stats, clip_gradient=cfg.SOLVER.CLIP_GRADIENT,
                      mixup=mixup, seed=cfg.RNG_SEED, log_period=cfg.LOG_PERIOD,
                      hooks=[h for h in (validation, checkpointing) if h is not None])
    try:
        trainer.train(start_epoch, cfg.SOLVER.MAX_EPOCH)
    finally:
        stats.close()
