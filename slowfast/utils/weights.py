"""The one weight-loading policy: which tensors of a file a model takes, and when a file is refused.

Accepted files: released 2D ImageNet UniFormer state dicts, released video state dicts, and SlowFast-style
checkpoints (a dict with `model_state`, with or without a DDP `module.` prefix), read weights-only.

- **exact** (the default: testing, resuming, predicting, exporting, the pre-flight check of those): every
  model tensor must be in the file with its shape and nothing else may be there. Otherwise `WeightsError`
  names every tensor of another shape (file vs model), every missing and every unexpected one, in one line.
- **finetune** (`finetune=True`: TRAIN.CHECKPOINT_FILE_PATH without TRAIN.CHECKPOINT_LOAD_OPTIMIZER): tensors
  are taken by name and shape; 2D kernels [out, in, h, w] inflate to [out, in, T, h, w] (repeated over T,
  divided by T); a classifier (`head.*`) of another class count, model tensors absent from the file (e.g. new
  EMIM layers) and file tensors the model lacks are skipped, each listed in the log. Refused: any other tensor
  of another shape, and a file with no tensor of the model at all.

`tools/check_data.py` compares through `fit`, so its verdict on a file is the loader's (docs/model_and_kernels.md,
"Weights").
"""

import logging
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from iopath.common.file_io import g_pathmgr
from torch import Tensor

from slowfast.config import UserError

logger = logging.getLogger(__name__)

# Containers in which released and SlowFast-style files keep the state dict, in the order tried.
_STATE_KEYS = ("model_state", "model", "state_dict")
# The classifier: fine-tuning to another class count (K400 -> SSv1) replaces it.
HEAD_PREFIX = "head."
# File tensors quoted when none of them is the model's (their names show what the file is instead).
_QUOTED = 5


class WeightsError(UserError, ValueError):
    """A weights file that cannot be read, or whose tensors do not fit the model under the policy asked for."""


@dataclass
class LoadReport:
    """What the policy did with each key."""

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


def read_checkpoint(path: str):
    """The object in the weights file `path` (torch.load on CPU, weights only, memory-mapped where the file
    format allows). WeightsError, one line, when it does not exist, is a folder or does not read as weights."""
    if not g_pathmgr.exists(path):
        raise WeightsError(f"{path} does not exist")
    if g_pathmgr.isdir(path):
        raise WeightsError(f"{path} is a folder, not a weights file")
    local = g_pathmgr.get_local_path(path)
    try:
        try:
            return torch.load(local, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap" not in str(err):
                raise
            return torch.load(local, map_location="cpu", weights_only=True)  # the legacy (non-zip) format
    except Exception as err:  # truncated file, not a torch file, pickled code
        raise WeightsError(f"{path} cannot be read as weights ({type(err).__name__}: {_short(err)})") from err


def _short(err: Exception) -> str:
    """One line of an error: of torch's weights-only unpickling message, the reason alone (its advice to
    load with weights_only=False does not apply to a file that is not a checkpoint)."""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1].split("\n\nCheck", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= 200 else text[:200] + "..."


def extract_state_dict(checkpoint, path: str = "<dict>") -> dict[str, Tensor]:
    """The model's state dict inside a loaded file, without a DDP `module.` prefix."""
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"{path}: expected a state dict or a checkpoint dict, got {type(checkpoint).__name__}")
    for key in _STATE_KEYS:
        if key in checkpoint and isinstance(checkpoint[key], dict):
            checkpoint = checkpoint[key]
            break
    tensors = {k: v for k, v in checkpoint.items() if isinstance(v, Tensor)}
    if not tensors:
        raise WeightsError(f"{path}: no tensors found (looked at the top level and under {_STATE_KEYS})")
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


def _refused(report: LoadReport, source: dict[str, Tensor], finetune: bool) -> list[tuple[int, str, list[str]]]:
    """(count, what, tensors named) of each kind of mismatch the policy refuses; empty when the file loads."""
    if finetune:
        kinds = [("tensors of another shape (file vs model)",
                  [k for k in report.skipped if not k.startswith(HEAD_PREFIX)])]
    else:
        kinds = [("tensors of another shape (file vs model)", report.skipped + report.inflated),
                 ("model tensors missing from the file", report.missing),
                 ("unexpected tensors in the file", report.unexpected)]
    refused = [(len(keys), what, keys) for what, keys in kinds if keys]
    if finetune and not (report.loaded or report.inflated):
        names = list(source)
        more = [f"... and {len(names) - _QUOTED} more"] if len(names) > _QUOTED else []
        refused.append((len(names), "tensors in the file, none with a name and shape of the model's",
                        names[:_QUOTED] + more))
    return refused


def fit(source: dict[str, Tensor], target: dict[str, Tensor], path: str,
        finetune: bool = False) -> tuple[dict[str, Tensor], LoadReport]:
    """The tensors of `source` (read from `path`) that the model whose state dict is `target` takes, and what
    happened to each key. WeightsError, one line naming every refused tensor, when the policy refuses the file."""
    matched, report = match_state_dict(source, target)
    refused = _refused(report, source, finetune)
    if refused:
        found = "; ".join(f"{count} {what}: {', '.join(keys)}" for count, what, keys in refused)
        raise WeightsError(f"{path} is not a checkpoint of the model this config builds ({len(target)} tensors): "
                           f"{found}. Use weights of this model, or the config it was trained with (engine "
                           f"checkpoints hold it as YAML under 'cfg')")
    return matched, report


def load_state(model: nn.Module, source: dict[str, Tensor], path: str, finetune: bool = False) -> LoadReport:
    """Load the state dict `source` (read from `path`) into `model` under the policy; logs what was loaded and
    every inflated, skipped, missing and unexpected key. WeightsError when the policy refuses it."""
    target = model.state_dict()
    matched, report = fit(source, target, path, finetune)
    model.load_state_dict({**target, **{k: v.to(target[k].dtype) for k, v in matched.items()}})
    logger.info("weights from %s (%s):\n%s", path, "fine-tuning" if finetune else "exact", report.summary())
    return report


def load_weights(model: nn.Module, path: str, finetune: bool = False) -> LoadReport:
    """Load the weights file `path` into `model`: exactly, or as fine-tuning loads pre-trained weights."""
    return load_state(model, extract_state_dict(read_checkpoint(path), path), path, finetune)
