"""Multi-view evaluation: every view scored once over all processes, views of a video ensembled.

Scores are the model's outputs (logits), summed (or max) over the views of a video as the released
test did, then top-1, top-5 and mean class accuracy. A distributed sampler pads the dataset so every
process gets as many items as the others; those repeated views are dropped by dataset index when the
processes' results are gathered, so padding never counts twice.
"""

import os
import pickle
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np
import torch
import torch.nn as nn
from torch import Tensor

from slowfast.utils import distributed as du
from slowfast.utils.logging import get_logger

from .checkpoint import last_checkpoint
from .launch import setup_model
from .meters import Progress, StatsWriter, topk_correct

logger = get_logger(__name__)


class MultiViewEvaluator:
    """`reset()`, `process(...)` per batch, then `evaluate()` (collective: every process calls it).

    expected_views: dataset items (views) over all processes; `evaluate` fails if any is missing.
    """

    def __init__(self, num_classes: int, ensemble: str = "sum", expected_views: int | None = None):
        if ensemble not in ("sum", "max"):
            raise ValueError(f"ensemble method must be 'sum' or 'max', got {ensemble!r}")
        self.num_classes, self.ensemble, self.expected_views = num_classes, ensemble, expected_views
        self.reset()

    def reset(self) -> None:
        # dataset index -> (video index, label, scores [C] float32)
        self._views: dict[int, tuple[int, int, np.ndarray]] = {}

    def process(self, scores: Tensor, labels: Tensor, indices: Tensor, meta: dict) -> None:
        """scores [N, C]; labels [N]; indices [N] dataset indices; meta["video_index"] [N] (absent: one view
        per video, the video is the index)."""
        videos = meta.get("video_index", indices) if isinstance(meta, dict) else indices
        scores = scores.detach().float().cpu().numpy()
        for i, (index, video, label) in enumerate(zip(indices.tolist(), torch.as_tensor(videos).tolist(),
                                                      labels.tolist())):
            self._views.setdefault(int(index), (int(video), int(label), scores[i]))

    def evaluate(self) -> dict:
        """Gather, de-duplicate, ensemble; returns metrics (same on every process) and keeps per-video
        results in `self.results` ({"video_index", "scores" [V, C], "labels" [V], "views" [V]})."""
        views: dict[int, tuple[int, int, np.ndarray]] = {}
        for part in du.all_gather_object(self._views):
            for index, item in part.items():
                views.setdefault(index, item)
        if self.expected_views is not None and len(views) != self.expected_views:
            raise RuntimeError(f"multi-view test scored {len(views)} distinct views, expected {self.expected_views}")
        videos = sorted({video for video, _, _ in views.values()})
        row = {video: r for r, video in enumerate(videos)}
        scores = np.full((len(videos), self.num_classes), -np.inf if self.ensemble == "max" else 0.0, np.float64)
        labels = np.full(len(videos), -1, np.int64)
        counts = np.zeros(len(videos), np.int64)
        for video, label, s in views.values():
            r = row[video]
            scores[r] = np.maximum(scores[r], s) if self.ensemble == "max" else scores[r] + s
            if labels[r] not in (-1, label):
                raise RuntimeError(f"video {video}: views disagree on the label ({labels[r]} vs {label})")
            labels[r] = label
            counts[r] += 1
        self.results = {"video_index": np.array(videos, np.int64), "scores": scores.astype(np.float32),
                        "labels": labels, "views": counts}
        return self._metrics(torch.from_numpy(scores), torch.from_numpy(labels), len(views))

    def _metrics(self, scores: Tensor, labels: Tensor, num_views: int) -> dict:
        n = max(len(labels), 1)
        top1, top5 = topk_correct(scores, labels, (1, 5))
        correct = scores.argmax(dim=1) == labels
        per_class = [correct[labels == c].float().mean().item() for c in labels.unique().tolist()]
        return {"top1": 100.0 * top1 / n, "top5": 100.0 * top5 / n,
                "mean_class_acc": 100.0 * float(np.mean(per_class)) if per_class else 0.0,
                "videos": len(labels), "views": num_views}

    def save(self, path: str, metrics: dict) -> None:
        """Per-video scores and labels plus the metrics, as a pickle (rank 0 only)."""
        if not du.is_main_process():
            return
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            pickle.dump({**self.results, "metrics": metrics}, f)
        logger.info("saved per-video scores and labels to %s", path)


@torch.no_grad()
def inference(model: nn.Module, loader, evaluator: MultiViewEvaluator, device: torch.device,
              autocast: Callable[[], AbstractContextManager], log_period: int, name: str) -> dict:
    """Score every batch of `loader` with `model` in eval mode and return `evaluator.evaluate()`."""
    model.eval()
    evaluator.reset()
    progress = Progress(name, len(loader), log_period)
    for it, (frames, labels, indices, meta) in enumerate(loader):
        frames = [f.to(device, non_blocking=True) for f in frames]
        with autocast():
            scores = model(frames)
        evaluator.process(scores, labels, indices, meta)
        if progress.due(it):
            logger.info(progress.line(it))
    return evaluator.evaluate()


def results_path(cfg) -> str | None:
    """TEST.SAVE_RESULTS_PATH, relative to OUTPUT_DIR unless absolute; None when empty."""
    path = cfg.TEST.SAVE_RESULTS_PATH
    return os.path.join(cfg.OUTPUT_DIR, path) if path else None


def test(cfg, loader_fn: Callable | None = None) -> dict:
    """Multi-view test of TEST.CHECKPOINT_FILE_PATH (else the newest checkpoint in OUTPUT_DIR) on the
    test views; logs and returns the metrics and saves per-video results to TEST.SAVE_RESULTS_PATH.
    The checkpoint loads exactly (`WeightsError` names every tensor of another shape, missing or unexpected).

    loader_fn(cfg, split) -> DataLoader; default `slowfast.datasets.construct_loader`.
    """
    if loader_fn is None:
        from slowfast.datasets import construct_loader as loader_fn
    path = cfg.TEST.CHECKPOINT_FILE_PATH or last_checkpoint(cfg.OUTPUT_DIR)
    if not path:
        raise FileNotFoundError(f"nothing to test: TEST.CHECKPOINT_FILE_PATH is empty and {cfg.OUTPUT_DIR}/checkpoints "
                                "holds no readable checkpoint")
    model, runtime = setup_model(cfg, path, finetune=False)
    loader = loader_fn(cfg, "test")
    evaluator = MultiViewEvaluator(cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, len(loader.dataset))
    metrics = inference(model, loader, evaluator, runtime.device, runtime.autocast, cfg.LOG_PERIOD, "test")
    logger.info("test of %s: %d videos, %d views: top-1 %.2f top-5 %.2f mean class accuracy %.2f", path,
                metrics["videos"], metrics["views"], metrics["top1"], metrics["top5"], metrics["mean_class_acc"])
    stats = StatsWriter(cfg.OUTPUT_DIR, du.is_main_process(), None)
    stats.write({"split": "test", **metrics}, 0, "test")
    out = results_path(cfg)
    if out:
        evaluator.save(out, metrics)
    return metrics
