"""Multi-view evaluation: each view once across processes, sum/max ensembling, metrics, saved results."""

import pickle

import pytest
import torch
from engine_fixtures import VIEWS, engine_cfg, evaluate_views

from slowfast.engine.evaluator import MultiViewEvaluator
from slowfast.engine.launch import launch_job


def test_two_processes_score_each_view_once_when_the_dataset_does_not_divide(tmp_path):
    # 13 videos x 3 views = 39 views; TEST.BATCH_SIZE 4 over 2 processes: the sampler pads to 40.
    one = engine_cfg(tmp_path / "one", "NUM_GPUS", "1", "TRAIN.ENABLE", "False")
    two = engine_cfg(tmp_path / "two", "NUM_GPUS", "2", "TRAIN.ENABLE", "False")
    launch_job(one, evaluate_views)
    launch_job(two, evaluate_views)
    a, b = (torch.load(tmp_path / d / "eval.pt", weights_only=False) for d in ("one", "two"))
    assert b["local_batches"] * 2 * 2 == 40  # each process scored 20 views, one of them a repeat
    assert b["metrics"]["views"] == a["metrics"]["views"] == 13 * VIEWS
    assert (b["results"]["views"] == VIEWS).all() and len(b["results"]["views"]) == 13
    assert b["results"]["scores"].tolist() == a["results"]["scores"].tolist()
    assert b["metrics"] == a["metrics"]


def _scores(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_views_are_summed_or_maxed_per_video_and_repeats_ignored():
    meta = {"video_index": torch.tensor([0, 0, 1, 1])}
    scores = _scores([1, 0, 0], [0, 3, 0], [0, 0, 5], [4, 0, 0])
    labels, indices = torch.tensor([1, 1, 0, 0]), torch.tensor([0, 1, 2, 3])
    summed = MultiViewEvaluator(3, "sum", expected_views=4)
    summed.process(scores, labels, indices, meta)
    summed.process(scores[:1] * 100, labels[:1], indices[:1], {"video_index": torch.tensor([0])})  # padding repeat
    metrics = summed.evaluate()
    assert summed.results["scores"].tolist() == [[1, 3, 0], [4, 0, 5]]
    assert metrics["top1"] == pytest.approx(50.0) and metrics["views"] == 4 and metrics["videos"] == 2
    maxed = MultiViewEvaluator(3, "max")
    maxed.process(scores, labels, indices, meta)
    maxed.evaluate()
    assert maxed.results["scores"].tolist() == [[1, 3, 0], [4, 0, 5]]
    assert maxed.results["labels"].tolist() == [1, 0]


def test_top5_and_mean_class_accuracy():
    # Every video ranks classes 0 > 1 > ... > 6; labels 0, 0, 1, 6.
    scores = _scores(*[[5.0, 4, 3, 2, 1, 0, -1]] * 4)
    evaluator = MultiViewEvaluator(7)
    evaluator.process(scores, torch.tensor([0, 0, 1, 6]), torch.arange(4), {})
    metrics = evaluator.evaluate()
    assert metrics["top1"] == pytest.approx(50.0)
    assert metrics["top5"] == pytest.approx(75.0)
    assert metrics["mean_class_acc"] == pytest.approx(100.0 / 3)  # classes 0, 1, 6: 100, 0, 0


def test_missing_views_and_label_disagreement_fail(tmp_path):
    evaluator = MultiViewEvaluator(3, expected_views=5)
    evaluator.process(_scores([1, 0, 0]), torch.tensor([0]), torch.tensor([0]), {})
    with pytest.raises(RuntimeError, match="scored 1 distinct views, expected 5"):
        evaluator.evaluate()
    evaluator = MultiViewEvaluator(3)
    evaluator.process(_scores([1, 0, 0], [1, 0, 0]), torch.tensor([0, 2]), torch.tensor([0, 1]),
                      {"video_index": torch.tensor([7, 7])})
    with pytest.raises(RuntimeError, match="video 7: views disagree"):
        evaluator.evaluate()


def test_results_are_saved_with_per_video_scores_and_labels(tmp_path):
    evaluator = MultiViewEvaluator(3)
    evaluator.process(_scores([0, 2, 1], [3, 0, 0]), torch.tensor([1, 2]), torch.tensor([0, 1]), {})
    metrics = evaluator.evaluate()
    evaluator.save(str(tmp_path / "sub" / "res.pkl"), metrics)
    with open(tmp_path / "sub" / "res.pkl", "rb") as f:
        saved = pickle.load(f)
    assert saved["labels"].tolist() == [1, 2] and saved["scores"].shape == (2, 3)
    assert saved["metrics"]["top1"] == pytest.approx(50.0)
