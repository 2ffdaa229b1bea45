"""Loading weights people already have into a model (EMIM_SPEC section 4).

Accepted files: released 2D ImageNet UniFormer state dicts (4D conv kernels are inflated over time),
released video state dicts, and SlowFast-style checkpoints (a dict with `model_state`). Every key
that is missing, unexpected, inflated or skipped for its shape is reported.
"""

import logging
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from iopath.common.file_io import g_pathmgr
from torch import Tensor

logger = logging.getLogger(__name__)

# Containers in which released and SlowFast-style files keep the state dict, in the order tried.
_STATE_KEYS = ("model_state", "model", "state_dict")


@dataclass
class LoadReport:
    """What `load_weights` did with each key."""

    loaded: list[str] = field(default_factory=list)
    inflated: list[str] = field(default_factory=list)  # 2D kernels repeated over T and divided by T
    skipped: list[str] = field(default_factory=list)  # present in both, shapes incompatible (e.g. the head)
    missing: list[str] = field(default_factory=list)  # in the model, not in the file
    unexpected: list[str] = field(default_factory=list)  # in the file, not in the model

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        for name in ("inflated", "skipped", "missing", "unexpected"):
            keys = getattr(self, name)
            if keys:
                lines.append(f"{name} ({len(keys)}): {', '.join(keys)}")
        return "\n".join(lines)


def extract_state_dict(checkpoint: dict, path: str = "<dict>") -> dict[str, Tensor]:
    """The model's state dict inside a loaded file, without a DDP `module.` prefix."""
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: expected a state dict or a checkpoint dict, got {type(checkpoint).__name__}")
    for key in _STATE_KEYS:
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    tensors = {k: v for k, v in checkpoint.items() if isinstance(v, Tensor)}
    if not tensors:
        raise ValueError(f"{path}: no tensors found (looked at the top level and under {_STATE_KEYS})")
    return {k.removeprefix("module."): v for k, v in tensors.items()}


def inflate(weight: Tensor, target_shape: torch.Size) -> Tensor | None:
    """A 2D kernel [out, in, h, w] as its 3D twin [out, in, T, h, w]: repeated over T, divided by T.

    None when `weight` is not the 2D twin of `target_shape`.
    """
    if weight.dim() != 4 or len(target_shape) != 5:
        return None
    frames = target_shape[2]
    if weight.shape[:2] != target_shape[:2] or weight.shape[2:] != target_shape[3:]:
        return None
    return weight.unsqueeze(2).repeat(1, 1, frames, 1, 1) / frames


def match_state_dict(source: dict[str, Tensor], target: dict[str, Tensor]) -> tuple[dict[str, Tensor], LoadReport]:
    """The subset of `source` that fits `target`'s shapes (inflating 2D kernels), and what happened to each key."""
    report = LoadReport()
    matched = {}
    for key, value in source.items():
        if key not in target:
            report.unexpected.append(key)
            continue
        want = target[key].shape
        if value.shape == want:
            matched[key] = value
            report.loaded.append(key)
        elif (inflated := inflate(value, want)) is not None:
            matched[key] = inflated
            report.inflated.append(f"{key} {tuple(value.shape)}->{tuple(want)}")
        else:
            report.skipped.append(f"{key} {tuple(value.shape)} vs model {tuple(want)}")
    report.missing = [k for k in target if k not in source]
    return matched, report


def load_weights(model: nn.Module, path: str, strict: bool = False) -> LoadReport:
    """Load the weights in `path` into `model` and log the report.

    strict: raise if any key is missing, unexpected or skipped (same architecture expected).
    """
    with g_pathmgr.open(path, "rb") as f:
        checkpoint = torch.load(f, map_location="cpu", weights_only=True)
    source = extract_state_dict(checkpoint, path)
    target = model.state_dict()
    matched, report = match_state_dict(source, target)
    if strict and (report.missing or report.unexpected or report.skipped or report.inflated):
        raise ValueError(f"{path}: does not match the model exactly:\n{report.summary()}")
    model.load_state_dict({**target, **{k: v.to(target[k].dtype) for k, v in matched.items()}})
    logger.info("weights from %s:\n%s", path, report.summary())
    return report
