"""Inference on video files (tools/predict.py, tools/visualize_motion.py): a checkpoint checked against
the model, the config's test views of any video read by the test loader's own code, and the evaluator's
multi-view ensemble.

A video file is read as the config's test dataset reads its videos: the dataset class builds itself from the
paths (`VideoDataset.from_paths`; video lists sample densely, frame folders and SSv2 by segments over the
decoded frames). Only the list of videos is replaced, so the views are the loader's: NUM_ENSEMBLE_VIEWS
temporal clips x NUM_SPATIAL_CROPS crops through `EvalTransform`.
"""

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from iopath.common.file_io import g_pathmgr
from torch.utils.data import DataLoader

from slowfast.datasets import VideoDataset, collate, dataset_class, open_video
from slowfast.datasets.video_dataset import read_class_names
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
    """Class names, line k = class k: from `path` (one per line, blank lines ignored), else those the test
    dataset's class reads from its folder (`VideoDataset.class_names`: `classes.txt`, SSv2's labels JSON), else
    "class <k>". ValueError when their number is not MODEL.NUM_CLASSES."""
    num_classes = cfg.MODEL.NUM_CLASSES
    if path is not None:
        if not g_pathmgr.exists(path):
            raise FileNotFoundError(f"labels file {path} does not exist")
        names = read_class_names(path)
    else:
        found = _test_dataset_class(cfg).class_names(cfg)
        if found is None:
            logger.warning("no labels file given and none in DATA.PATH_TO_DATA_DIR %r: classes are numbered",
                           cfg.DATA.PATH_TO_DATA_DIR)
            return [f"class {k}" for k in range(num_classes)]
        names, path = found
    if len(names) != num_classes:
        raise ValueError(f"{path}: {len(names)} labels, but the model has MODEL.NUM_CLASSES = {num_classes} "
                         f"classes (one label per line expected)")
    return names


def video_files_dataset(cfg, paths: list[str]):
    """Test-view dataset of `paths`, built by TEST.DATASET's class (`from_paths`): item i is view i % V of
    video i // V, V = views per video; frames [clip [3, T, S, S]]. FileNotFoundError lists every missing file."""
    return _test_dataset_class(cfg).from_paths(cfg, paths)


def _test_dataset_class(cfg) -> type[VideoDataset]:
    """The class that reads TEST.DATASET's test split; ValueError for an unknown name."""
    try:
        return dataset_class(cfg.TEST.DATASET).for_split("test")
    except KeyError as err:
        raise ValueError(f"TEST.DATASET: {err.args[0]}") from None


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
    dataset = video_files_dataset(single, [path])
    frames, _, _, _ = dataset[0]
    video = open_video(path, cfg.DATA.DECODING_BACKEND)
    try:
        frame_size = tuple(video.get_frames([0]).shape[1:3])
        frame_indices = dataset.frame_indices(video.num_frames, video.fps, 0)  # the sampler the view came from
    finally:
        video.close()
    return CentreView(frames[0], frame_indices, frame_size)
