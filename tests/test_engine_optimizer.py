"""Weight-decay groups and the cosine schedule with linear warm-up."""

import pytest
import torch
from tiny_cfg import tiny_cfg

from slowfast.config import load_config
from slowfast.engine.optimizer import LRScheduler, construct_optimizer, lr_at_epoch
from slowfast.models import build_model


def _names(model, group):
    ids = {id(p) for p in group["params"]}
    return {n for n, p in model.named_parameters() if id(p) in ids}


@pytest.mark.parametrize("released", [False, True])
def test_no_decay_on_1d_params_biases_rpb_and_pos_embed_unless_released(released):
    cfg = tiny_cfg("tiny_s16_emim7", "SOLVER.RELEASED_WEIGHT_DECAY", str(released))
    model = build_model(cfg)
    decay, no_decay = construct_optimizer(model, cfg.SOLVER).param_groups
    assert decay["weight_decay"] == 0.05 and no_decay["weight_decay"] == 0.0
    decayed, exempt = _names(model, decay), _names(model, no_decay)
    assert decayed | exempt == {n for n, _ in model.named_parameters()}
    assert all(n.endswith(".bias") or model.get_parameter(n).ndim == 1 for n in exempt - model.no_weight_decay())
    assert "blocks3.0.attn.qkv.weight" in decayed and "blocks3.0.attn.qkv.bias" in exempt
    rpb_and_pos = {n for n in model.no_weight_decay() if model.get_parameter(n).ndim > 1}
    assert "blocks3.0.attn.rpb" in rpb_and_pos and "blocks1.0.pos_embed.weight" in rpb_and_pos
    assert rpb_and_pos <= (decayed if released else exempt)


def test_sgd():
    cfg = load_config(None, ["SOLVER.OPTIMIZING_METHOD", "sgd", "SOLVER.MOMENTUM", "0.8"])
    optimizer = construct_optimizer(torch.nn.Linear(2, 2), cfg.SOLVER)
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.8


def test_linear_warmup_then_cosine_by_iteration():
    solver = load_config(None, ["SOLVER.BASE_LR", "1.0", "SOLVER.WARMUP_START_LR", "0.0", "SOLVER.WARMUP_EPOCHS",
                                "2.0", "SOLVER.MAX_EPOCH", "10", "SOLVER.COSINE_END_LR", "0.0"]).SOLVER
    assert lr_at_epoch(solver, 0.0) == 0.0
    assert lr_at_epoch(solver, 1.0) == pytest.approx(0.5)
    assert lr_at_epoch(solver, 2.0) == pytest.approx(1.0)
    assert lr_at_epoch(solver, 6.0) == pytest.approx(0.5)  # half-way through the cosine
    assert lr_at_epoch(solver, 10.0) == pytest.approx(0.0, abs=1e-12)
    optimizer = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=9.0)
    scheduler = LRScheduler(optimizer, solver, iters_per_epoch=4)
    lrs = [scheduler.step() for _ in range(5)]
    assert lrs == pytest.approx([0.0, 0.125, 0.25, 0.375, 0.5]) and optimizer.param_groups[0]["lr"] == 0.5
    resumed = LRScheduler(optimizer, solver, iters_per_epoch=4)
    resumed.load_state_dict(scheduler.state_dict())
    assert resumed.step() == scheduler.step()
