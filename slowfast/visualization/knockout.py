"""Knock-outs of EMIM's branches at test time, through forward hooks (the model's weights are untouched).

- `motion`: the motion MLP's output (`motion_conv`) replaced by zeros: only the context branch reaches `proj`;
- `context`: the context branch's output (`context_output`) replaced by zeros: only the motion branch;
- `permuted`: the raw cost volume the motion MLP reads (`cost_volume`) has its K*K window entries permuted,
  one fixed permutation for every token and head: the values are kept, the window's structure destroyed.
  The context branch's softmax is computed inside the op and is not affected.
"""

import contextlib

import torch
import torch.nn as nn

from slowfast.datasets import construct_loader
from slowfast.engine.evaluator import MultiViewEvaluator, inference
from slowfast.models.attention import EmimAttention

KNOCKOUTS = ("motion", "context", "permuted")


def window_permutation(area: int, seed: int = 0) -> torch.Tensor:
    """A random permutation of range(area) that moves every entry (no fixed point), fixed by `seed`."""
    generator = torch.Generator().manual_seed(seed)
    while True:
        perm = torch.randperm(area, generator=generator)
        if area < 2 or not (perm == torch.arange(area)).any():
            return perm


def _zeros(module, args, output):
    return torch.zeros_like(output)


@contextlib.contextmanager
def knocked_out(model: nn.Module, knockout: str | None, seed: int = 0):
    """Within the block, every EMIM layer of `model` runs with `knockout` (one of KNOCKOUTS; None: intact).
    ValueError for an unknown knock-out, a model without EMIM, or `motion`/`permuted` without a motion branch."""
    if knockout is not None and knockout not in KNOCKOUTS:
        raise ValueError(f"unknown knock-out {knockout!r}; choose from {KNOCKOUTS}")
    layers = [m for m in model.modules() if isinstance(m, EmimAttention)]
    if knockout and not layers:
        raise ValueError(f"{type(model).__name__} has no EMIM layer to knock out")
    handles = []
    for layer in layers if knockout else []:
        if knockout in ("motion", "permuted") and layer.motion_conv is None:
            raise ValueError(f"knock-out {knockout!r}: an EMIM layer has no motion branch (UNIFORMER.EMIM_MOTION)")
        if knockout == "motion":
            handles.append(layer.motion_conv.register_forward_hook(_zeros))
        elif knockout == "context":
            handles.append(layer.context_output.register_forward_hook(_zeros))
        else:
            perm = window_permutation(layer.window ** 2, seed)
            handles.append(layer.cost_volume.register_forward_hook(
                lambda module, args, out, p=perm: out[..., p.to(out.device)]))
    try:
        yield model
    finally:
        for handle in handles:
            handle.remove()


def knockout_top1(cfg, model: nn.Module, device: torch.device, knockouts=(None, *KNOCKOUTS)) -> dict[str, float]:
    """Multi-view test top-1 (%) of `model` on the config's test split, intact ("none") and with each knock-out
    (the test loader and evaluator of `evaluator.test`)."""
    loader = construct_loader(cfg, "test")
    top1 = {}
    for knockout in knockouts:
        evaluator = MultiViewEvaluator(cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, len(loader.dataset))
        with knocked_out(model, knockout):
            metrics = inference(model, loader, evaluator, device, contextlib.nullcontext, cfg.LOG_PERIOD,
                                f"knock-out {knockout or 'none'}")
        top1[knockout or "none"] = metrics["top1"]
    return top1
