"""Inference on video files (tools/predict.py, tools/visualize_motion.py): a checkpoint checked against
the model, the config's test views of any video read by the test loader's own code, and the evaluator's
multi-view ensemble.

A video file is read as the config's test dataset reads its videos: `kinetics` configs by the `Kinetics`
dataset (dense sampling), `sth` and `ssv2` configs by the `Ssv2` dataset (segment sampling over the decoded
frames, as `sth` samples its extracted frames). Only the list of videos is replaced, so the views are the
loader's: NUM_ENSEMBLE_VIEWS temporal clips x NUM_SPATIAL_CROPS crops through `EvalTransform`.
"""

import json
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from iopath.common.file_io import g_pathmgr
from torch.utils.data import DataLoader

from slowfast.datasets import Kinetics, Ssv2, collate, open_video
from slowfast.datasets.lists import VideoRecord
from slowfast.datasets.samplers import dense_indices, segment_indices
from slowfast.models import build_model
from slowfast.utils.logging import get_logger
from slowfast.utils.weights import load_weights

from .evaluator import MultiViewEvaluator, inference
from .launch import autocast_factory

logger = get_logger(__name__)


def load_model(cfg, checkpoint: str | None, device: torch.device) -> nn.Module:
    """The config's model with the weights of `checkpoint` (engine, SlowFast or released; None: its random
    initialisation), in eval mode. The file must hold exactly the model's tensors (`WeightsError` names every
    one of another shape, missing or unexpected)."""
    model = build_model(cfg)
    if checkpoint:
        load_weights(model, checkpoint)
    return model.to(device).eval()


def load_labels(path: str | None, cfg) -> list[str]:
    """Class names, line k = class k: from `path` (one per line, blank lines ignored), else from the
    config's data folder (`classes.txt` of the motion dataset, or SSv2's `something-something-v2-labels.json`),
    else "class <k>". ValueError when their number is not MODEL.NUM_CLASSES."""
    num_classes = cfg.MODEL.NUM_CLASSES
    data_dir = cfg.DATA.PATH_TO_DATA_DIR
    ssv2_labels = os.path.join(data_dir, "something-something-v2-labels.json")
    if path is None and data_dir and g_pathmgr.exists(os.path.join(data_dir, "classes.txt")):
        path = os.path.join(data_dir, "classes.txt")
    if path is not None:
        if not g_pathmgr.exists(path):
            raise FileNotFoundError(f"labels file {path} does not exist")
        with g_pathmgr.open(path, "r") as f:
            names = [line.strip() for line in f.read().splitlines() if line.strip()]
    elif data_dir and g_pathmgr.exists(ssv2_labels):
        path = ssv2_labels
        with g_pathmgr.open(path, "r") as f:
            ids = json.load(f)
        names = [name for name, _ in sorted(ids.items(), key=lambda item: int(item[1]))]
    else:
        logger.warning("no labels file given and none in DATA.PATH_TO_DATA_DIR %r: classes are numbered", data_dir)
        return [f"class {k}" for k in range(num_classes)]
    if len(names) != num_classes:
        raise ValueError(f"{path}: {len(names)} labels, but the model has MODEL.NUM_CLASSES = {num_classes} "
                         f"classes (one label per line expected)")
    return names


class _VideoFiles:
    """Mixin for a test dataset class: the test views of the given video files instead of a split list.
    Labels are unknown (-1). Items, views and errors are the dataset's own (see `VideoDataset`)."""

    def __init__(self, cfg, paths: list[str]):
        self._paths = list(paths)
        super().__init__(cfg, "test")

    def _records(self, list_split: str) -> list[VideoRecord]:
        return [VideoRecord(path, -1, path) for path in self._paths]


class KineticsVideoFiles(_VideoFiles, Kinetics):
    """Video files read as the `kinetics` test split reads its videos (dense sampling)."""


class SegmentVideoFiles(_VideoFiles, Ssv2):
    """Video files read as the `ssv2` test split reads its videos (segment sampling, also `sth`'s)."""


_FILE_DATASETS = {"kinetics": KineticsVideoFiles, "ssv2": SegmentVideoFiles, "sth": SegmentVideoFiles}


def video_files_dataset(cfg, paths: list[str]):
    """Test-view dataset of `paths` for TEST.DATASET: item i is view i % V of video i // V, V = views per
    video; frames [clip [3, T, S, S]]. FileNotFoundError lists every missing file."""
    name = cfg.TEST.DATASET
    if name not in _FILE_DATASETS:
        raise ValueError(f"TEST.DATASET {name!r}: video files can be read for {sorted(_FILE_DATASETS)}")
    return _FILE_DATASETS[name](cfg, paths)


def sampled_frame_indices(cfg, path: str, view: int, num_views: int) -> list[int]:
    """0-based frame indices of `path` that temporal test view `view` of `num_views` holds, computed by the
    sampler the test dataset of `video_files_dataset` calls (with the decoder's frame count and fps)."""
    d = cfg.DATA
    video = open_video(path, d.DECODING_BACKEND)
    try:
        if cfg.TEST.DATASET == "kinetics":
            fps = video.fps if video.fps > 0 else d.TARGET_FPS
            return dense_indices(video.num_frames, fps, d.NUM_FRAMES, d.SAMPLING_RATE, d.TARGET_FPS, view,
                                 num_views, d.USE_OFFSET_SAMPLING)
        return segment_indices(video.num_frames, d.NUM_FRAMES, view, num_views)
    finally:
        video.close()


@dataclass
class Prediction:
    """One video's result. scores [C]: the evaluator's ensemble of the views' logits (sum or max, as
    DATA.ENSEMBLE_METHOD); probabilities [C]: softmax of the mean logit (sum) or of the max logit (max),
    so they rank the classes as the evaluator does."""

    path: str
    scores: np.ndarray
    probabilities: np.ndarray
    views: int

    def top(self, k: int = 5) -> list[tuple[int, float]]:
        """(class, probability) of the k best classes, best first (ties: lower class first)."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        return [(int(c), float(self.probabilities[c])) for c in order]


def predict_video(model: nn.Module, cfg, path: str, device: torch.device) -> Prediction:
    """The multi-view prediction of `model` (eval mode, on `device`) for the video file `path`, through
    the engine's own test loop (`evaluator.inference`) with TEST.BATCH_SIZE views per batch.
    Raises FileNotFoundError or `DecodeError` naming the file."""
    dataset = video_files_dataset(cfg, [path])
    loader = DataLoader(dataset, batch_size=cfg.TEST.BATCH_SIZE, collate_fn=collate, num_workers=0)
    evaluator = MultiViewEvaluator(cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, len(dataset))
    inference(model, loader, evaluator, device, autocast_factory(cfg, device), len(loader) + 1, "predict")
    scores = evaluator.results["scores"][0]
    views = int(evaluator.results["views"][0])
    logits = torch.from_numpy(scores).double()
    if cfg.DATA.ENSEMBLE_METHOD == "sum":
        logits = logits / views
    return Prediction(path, scores, logits.softmax(0).numpy(), views)


@dataclass
class CentreView:
    """The single test view of a video (centre clip, centre crop) and where its frames come from."""

    clip: torch.Tensor  # [3, T, S, S], normalised model input
    frame_indices: list[int]  # [T] the video frame each clip frame is
    frame_size: tuple[int, int]  # (H, W) of the video's frames


def centre_view(cfg, path: str) -> CentreView:
    """The view the test loader reads with NUM_ENSEMBLE_VIEWS = NUM_SPATIAL_CROPS = 1 (the middle of each
    segment or the centred dense clip, the centre crop)."""
    single = cfg.clone()
    single.defrost()
    single.TEST.NUM_ENSEMBLE_VIEWS, single.TEST.NUM_SPATIAL_CROPS = 1, 1
    single.freeze()
    frames, _, _, _ = video_files_dataset(single, [path])[0]
    video = open_video(path, cfg.DATA.DECODING_BACKEND)
    try:
        frame_size = tuple(video.get_frames([0]).shape[1:3])
    finally:
        video.close()
    return CentreView(frames[0], sampled_frame_indices(single, path, 0, 1), frame_size)
