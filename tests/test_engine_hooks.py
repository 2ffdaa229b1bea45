"""Precise BatchNorm statistics: running stats become the true statistics of the training batches."""

import contextlib
from types import SimpleNamespace

import torch
import torch.nn as nn

from slowfast.engine.hooks import PreciseBNHook


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
    trainer = SimpleNamespace(model=model, epoch=2, max_epoch=10, device=torch.device("cpu"),
                              autocast=contextlib.nullcontext)
    PreciseBNHook(loader, num_batches=200, period=2).after_epoch(trainer)
    data = torch.cat(clips).transpose(0, 1).reshape(3, -1)  # [C, all values]
    torch.testing.assert_close(model.bn.running_mean, data.mean(1))
    torch.testing.assert_close(model.bn.running_var, data.var(1), rtol=2e-2, atol=0)
    assert model.training


def test_precise_bn_runs_only_on_evaluation_epochs():
    model = _BNOnly().train()
    before = model.bn.running_mean.clone()
    loader = [([torch.randn(2, 3, 1, 2, 2) + 5], None, None, None)]
    trainer = SimpleNamespace(model=model, epoch=3, max_epoch=10, device=torch.device("cpu"),
                              autocast=contextlib.nullcontext)
    PreciseBNHook(loader, num_batches=1, period=2).after_epoch(trainer)
    assert torch.equal(model.bn.running_mean, before)
