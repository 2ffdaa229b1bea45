"""Epoch hooks: precise BatchNorm statistics, validation at most once per epoch, best checkpoints in any hook order."""

import contextlib

import pytest
import torch
import torch.nn as nn
from engine_fixtures import ScoreByContent, engine_cfg, tiny_loader

from slowfast.engine.evaluator import MultiViewEvaluator
from slowfast.engine.hooks import CheckpointHook, EvalHook, PreciseBN
from slowfast.engine.launch import Runtime
from slowfast.engine.meters import StatsWriter

CPU = Runtime(torch.device("cpu"), contextlib.nullcontext)


class _BNOnly(nn.Module):
    """model([clip]) -> BatchNorm3d(clip)."""

    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm3d(3)

    def forward(self, x):
        return self.bn(x[0])


def test_precise_bn_sets_true_mean_and_variance_of_training_batches():
    clips = [torch.randn(4, 3, 2, 5, 5) * (i + 1) + i for i in range(6)]
    loader = [([clip], torch.zeros(4), torch.arange(4), {}) for clip in clips]
    model = _BNOnly().train()
    PreciseBN(model, loader, num_batches=200, runtime=CPU).update()
    data = torch.cat(clips).transpose(0, 1).reshape(3, -1)  # [C, all values]
    torch.testing.assert_close(model.bn.running_mean, data.mean(1))
    torch.testing.assert_close(model.bn.running_var, data.var(1), rtol=2e-2, atol=0)
    assert model.training


def test_precise_bn_runs_only_on_evaluation_epochs(tmp_path):
    model = _BNOnly().train()
    before = model.bn.running_mean.clone()
    loader = [([torch.randn(2, 3, 1, 2, 2) + 5], None, None, None)]
    hook = EvalHook(model, loader, MultiViewEvaluator(3), period=2, runtime=CPU,
                    stats=StatsWriter(str(tmp_path), False, None), log_period=10,
                    precise_bn=PreciseBN(model, loader, num_batches=1, runtime=CPU))
    hook.after_epoch(3, 10)
    assert torch.equal(model.bn.running_mean, before)


class _Checkpointer:
    """Records (file name, epoch, best top-1) of every save."""

    def __init__(self, output_dir):
        self.output_dir, self.saved = str(output_dir), []

    def save(self, path: str, epoch: int, best_top1: float) -> None:
        self.saved.append((path.rsplit("/", 1)[-1], epoch, best_top1))


class _CountingEvaluator(MultiViewEvaluator):
    def __init__(self, *args):
        super().__init__(*args)
        self.evaluations = 0

    def evaluate(self) -> dict:
        self.evaluations += 1
        return super().evaluate()


@pytest.mark.parametrize("checkpoint_first", [False, True])
def test_best_checkpoint_does_not_depend_on_hook_order_and_validation_runs_once(tmp_path, checkpoint_first):
    cfg = engine_cfg(tmp_path)
    loader = tiny_loader(cfg, "val", shuffle=False)
    evaluator = _CountingEvaluator(cfg.MODEL.NUM_CLASSES)
    validation = EvalHook(ScoreByContent(cfg.MODEL.NUM_CLASSES), loader, evaluator, period=2, runtime=CPU,
                          stats=StatsWriter(str(tmp_path), False, None), log_period=10)
    checkpointer = _Checkpointer(tmp_path)
    checkpointing = CheckpointHook(checkpointer, period=3, validation=validation, best_top1=-1.0)
    hooks = [checkpointing, validation] if checkpoint_first else [validation, checkpointing]
    for epoch in range(1, 5):
        for hook in hooks:
            hook.after_epoch(epoch, 4)
    top1 = validation.metrics(4, 4)["top1"]
    assert evaluator.evaluations == 2  # epochs 2 and 4, once each
    assert checkpointer.saved == [("checkpoint_best.pyth", 2, top1), ("checkpoint_epoch_00003.pyth", 3, top1),
                                  ("checkpoint_epoch_00004.pyth", 4, top1)]
    assert checkpointing.best_top1 == top1
