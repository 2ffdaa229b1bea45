"""The training loop (`Trainer`) and `train(cfg)`, which builds everything it needs from the config.

A step that runs out of memory, a loss that turns NaN or inf (past TRAIN.MAX_NONFINITE_STEPS skipped steps)
and videos failing to decode (past TRAIN.MAX_DATA_FAILURES) stop the run with a `RunFailure` whose one
line names the cause, the last good checkpoint where it matters, and the keys to change.
"""

import math
import time
from collections.abc import Callable, Sequence

import torch
import torch.nn as nn

from slowfast.config import RunFailure
from slowfast.datasets import DataFailureError
from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger
from slowfast.utils.misc import gpu_memory_gib, seed_everything

from .checkpoint import Checkpointer, find_resumable, unwrap
from .evaluator import MultiViewEvaluator
from .failures import DataFailureReport, is_out_of_memory, original_message, out_of_memory_line
from .hooks import CheckpointHook, EvalHook, HookBase, PreciseBN
from .launch import Runtime, grad_scaler, setup_model
from .losses import SoftTargetCrossEntropy, build_loss
from .meters import Progress, ScalarMeters, StatsWriter, topk_correct
from .optimizer import LRScheduler, construct_optimizer

logger = get_logger(__name__)
NONFINITE_ADVICE = ("try a lower SOLVER.BASE_LR, TRAIN.MIXED_PRECISION_DTYPE bfloat16 instead of float16 (UniFormer's "
                    "README warns of NaN in float16 for the light models), or SOLVER.CLIP_GRADIENT; "
                    "TRAIN.MAX_NONFINITE_STEPS skips a few such steps")


class NonFiniteLoss(RunFailure, FloatingPointError):
    """The loss turned NaN or inf more often than TRAIN.MAX_NONFINITE_STEPS allows."""


class Trainer:
    """Epochs of `run_step` over `loader`, then the hooks. Batches are (frames, labels, indices, meta)
    with frames [clip [B, 3, T, H, W]] and labels [B]; `mixup(clip, labels) -> (clip, soft targets [B, C])`.

    A step whose loss (averaged over all processes) is not finite is skipped, up to `max_nonfinite_steps` in
    this run, then `NonFiniteLoss` names the iteration and the newest loadable checkpoint in `output_dir`.
    Videos a batch's `meta["decode_failures"]` names (replaced by the dataset) go to `output_dir`'s
    data_failures.jsonl and an end-of-epoch line. Steps the float16 loss scaler skipped are counted apart.
    """

    def __init__(self, *, model: nn.Module, loader, optimizer: torch.optim.Optimizer, scheduler: LRScheduler,
                 scaler: torch.amp.GradScaler, loss_fn: nn.Module, runtime: Runtime, stats: StatsWriter,
                 clip_gradient: float | None = None, mixup: Callable | None = None, seed: int = 0,
                 log_period: int = 10, hooks: Sequence[HookBase] = (), output_dir: str | None = None,
                 max_nonfinite_steps: int = 0):
        self.model, self.loader, self.optimizer, self.scheduler = model, loader, optimizer, scheduler
        self.scaler, self.loss_fn, self.runtime, self.stats = scaler, loss_fn, runtime, stats
        self.clip_gradient, self.mixup, self.seed, self.log_period = clip_gradient, mixup, seed, log_period
        self.hooks = list(hooks)
        self.output_dir, self.max_nonfinite_steps = output_dir, max_nonfinite_steps
        self.data_failures = DataFailureReport(output_dir, du.get_rank()) if output_dir else None
        self.epoch, self.max_epoch = 0, 0  # finished epochs; the last epoch of this run
        self.losses: list[float] = []  # mean loss over all processes, per iteration of this run
        self.nonfinite_skips = 0  # steps skipped in this run for a NaN/inf loss
        self.scaler_skips = 0  # steps the float16 loss scaler skipped for inf/NaN gradients
        self._scale: float | None = None  # the loss scale after the last step (read once per step, at its end)

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
        skips_before = self.nonfinite_skips, self.scaler_skips
        failed: list[dict] = []  # videos this process's batches replaced this epoch
        for it, batch in enumerate(self._batches()):
            failed += self._record_data_failures(batch, epoch)
            record = self._step(batch)
            if record is None:
                continue
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
        self._log_data_failures(epoch, failed)
        self.stats.write({"epoch": epoch + 1, **totals.averages(), "epoch_time_s": progress.elapsed(),
                          "nonfinite_skips": self.nonfinite_skips - skips_before[0],
                          "scaler_skips": self.scaler_skips - skips_before[1]}, epoch + 1, "train_epoch")
        if self.scaler_skips > skips_before[1]:
            logger.info("train epoch %d: the float16 loss scaler skipped %d step(s) for inf/NaN gradients and "
                        "lowered its scale (normal now and then; the loss itself stayed finite)", epoch + 1,
                        self.scaler_skips - skips_before[1])

    def _batches(self):
        """The loader's batches; a dataset's DataFailureError (raised in a worker) as a RunFailure."""
        try:
            yield from self.loader
        except DataFailureError as err:
            report = self.data_failures
            where = f"; the videos replaced before are listed in {report.path}" if report else ""
            raise RunFailure(" ".join(original_message(err).split()) + where) from err

    def _step(self, batch) -> dict | None:
        """`run_step`, an out-of-memory error as a RunFailure naming the batch, the peak and the keys."""
        try:
            return self.run_step(batch)
        except Exception as err:
            if not is_out_of_memory(err):
                raise
            clip, world = batch[0][0], du.get_world_size()
            where = (f"in training iteration {self.scheduler.iteration} (epoch {self.epoch + 1}): per-process batch "
                     f"{clip.shape[0]} clips of {list(clip.shape[1:])} (a global TRAIN.BATCH_SIZE over {world} "
                     f"process(es))")
            raise RunFailure(out_of_memory_line(err, self.runtime.device, where, "TRAIN.BATCH_SIZE")) from err

    def _record_data_failures(self, batch, epoch: int) -> list[dict]:
        failures = batch[3].get("decode_failures", []) if isinstance(batch[3], dict) else []
        if failures and self.data_failures is not None:
            self.data_failures.add(epoch + 1, self.scheduler.iteration + 1, failures)
        return list(failures)

    def _log_data_failures(self, epoch: int, failed: list[dict]) -> None:
        """One line per epoch naming the videos replaced on any process (they are in data_failures.jsonl)."""
        everywhere = [f for part in du.all_gather_object(failed) for f in part]
        if not everywhere:
            return
        names = sorted({f"{f['path']} ({f['source']})" for f in everywhere})
        shown = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
        where = f"; all in {self.data_failures.path}" if self.data_failures else ""
        logger.warning("train epoch %d: %d video(s) failed to decode and were replaced: %s%s", epoch + 1,
                       len(everywhere), shown, where)

    def _nonfinite(self, loss: float, lr: float) -> None:
        """Count this step as skipped, or stop with NonFiniteLoss once max_nonfinite_steps were skipped."""
        where = f"loss is {loss} at iteration {self.scheduler.iteration} (epoch {self.epoch + 1}), lr {lr:.6g}"
        if self.nonfinite_skips < self.max_nonfinite_steps:
            self.nonfinite_skips += 1
            logger.warning("%s: step skipped (%d of TRAIN.MAX_NONFINITE_STEPS = %d)", where, self.nonfinite_skips,
                           self.max_nonfinite_steps)
            return
        checkpoint = find_resumable(self.output_dir) if self.output_dir else None
        last = (f"the last good checkpoint is {checkpoint} (the same command resumes from it)" if checkpoint
                else "no checkpoint written yet")
        skipped = f" after {self.nonfinite_skips} skipped step(s)" if self.nonfinite_skips else ""
        raise NonFiniteLoss(f"{where}{skipped}; {last}; {NONFINITE_ADVICE}")

    def run_step(self, batch) -> dict | None:
        """One optimiser step on one batch; returns the numbers to record (None: a NaN/inf loss, skipped)."""
        start = time.perf_counter()
        frames, labels, _, _ = batch
        frames = [f.to(self.runtime.device, non_blocking=True) for f in frames]
        labels = labels.to(self.runtime.device, non_blocking=True)
        targets = labels
        if self.mixup is not None:
            frames[0], targets = self.mixup(frames[0], labels)
        lr = self.scheduler.step()
        # A step that may be skipped must not leave the NaN forward's BatchNorm running statistics behind.
        buffers = [b.clone() for b in self.model.buffers()] if self.max_nonfinite_steps else None
        with self.runtime.autocast():
            logits = self.model(frames)
        loss = self.loss_fn(logits, targets)
        mean_loss = du.all_reduce_mean(loss.detach()).item()
        if not math.isfinite(mean_loss):
            self._nonfinite(mean_loss, lr)
            with torch.no_grad():
                for buffer, saved in zip(self.model.buffers(), buffers):
                    buffer.copy_(saved)
            return None
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.clip_gradient:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_gradient)
        if self.scaler.is_enabled() and self._scale is None:
            self._scale = self.scaler.get_scale()  # first step only (after a resume: the loaded scale)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.scaler.is_enabled():  # one host sync, at the step's end where topk_correct syncs anyway
            scale, self._scale = self._scale, self.scaler.get_scale()
            if self._scale < scale:  # the scaler found inf/NaN gradients: it skipped the step and lowered the scale
                self.scaler_skips += 1
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
                      hooks=[h for h in (validation, checkpointing) if h is not None], output_dir=cfg.OUTPUT_DIR,
                      max_nonfinite_steps=cfg.TRAIN.MAX_NONFINITE_STEPS)
    try:
        trainer.train(start_epoch, cfg.SOLVER.MAX_EPOCH)
    finally:
        stats.close()
