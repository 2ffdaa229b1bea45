"""tools/predict.py: top-5 of a video equal to the engine's multi-view test of the same checkpoint; errors."""

import json
import pickle
import sys

import numpy as np
import pytest
import torch
from conftest import REPO

from slowfast.config import load_config
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.engine.checkpoint import Checkpointer
from slowfast.engine.evaluator import test as engine_test
from slowfast.engine.inference import load_labels
from slowfast.engine.optimizer import LRScheduler, construct_optimizer
from slowfast.models import build_model
from slowfast.utils.weights import WeightsError

sys.path.insert(0, str(REPO / "tools"))
import predict  # noqa: E402

VIDEOS = 3
TEMPORAL_VIEWS, SPATIAL_CROPS = 2, 3


def tiny_overrides(data_dir, output_dir) -> list[str]:
    """A tiny EMIM UniFormer tested as `kinetics` on the motion dataset's mp4 list: 2 x 3 views of 8 frames."""
    return [
        "UNIFORMER.EMBED_DIM", "[8, 16, 32, 64]", "UNIFORMER.DEPTH", "[1, 1, 1, 1]", "UNIFORMER.HEAD_DIM", "16",
        "UNIFORMER.ATTN_MAX_DISP", "[3, 3]", "MODEL.NUM_CLASSES", "8", "TEST.DATASET", "kinetics",
        "TRAIN.DATASET", "kinetics", "TRAIN.ENABLE", "False", "DATA.NUM_FRAMES", "8", "DATA.SAMPLING_RATE", "1",
        "DATA.TEST_CROP_SIZE", "64", "DATA.TRAIN_CROP_SIZE", "64", "TEST.NUM_ENSEMBLE_VIEWS", str(TEMPORAL_VIEWS),
        "TEST.NUM_SPATIAL_CROPS", str(SPATIAL_CROPS), "TEST.BATCH_SIZE", "4", "NUM_GPUS", "0",
        "DATA_LOADER.NUM_WORKERS", "0", "DATA.PATH_TO_DATA_DIR", str(data_dir), "DATA.PATH_PREFIX", str(data_dir),
        "OUTPUT_DIR", str(output_dir), "TEST.SAVE_RESULTS_PATH", "results.pkl",
    ]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Motion dataset, a checkpoint written by the engine's Checkpointer, the engine's test results on it."""
    root = tmp_path_factory.mktemp("predict")
    data = root / "data"
    write_motion_dataset(str(data), seed=3, num_train=1, num_val=1, num_test=VIDEOS, num_frames=16, size=64)
    cfg = load_config(None, tiny_overrides(data, root / "out"))
    torch.manual_seed(0)
    model = build_model(cfg)
    with torch.no_grad():  # non-trivial BatchNorm statistics and motion head, as after training
        for name, tensor in model.state_dict().items():
            if name.endswith(("running_mean", "running_var", "motion_conv.2.weight")):
                tensor.copy_(torch.rand_like(tensor) * 0.5 + (0.5 if name.endswith("running_var") else 0.0))
    optimizer = construct_optimizer(model, cfg.SOLVER)
    checkpoint = root / "checkpoint.pyth"
    Checkpointer(str(root / "out"), model, optimizer, LRScheduler(optimizer, cfg.SOLVER, 1), None, cfg,
                 True).save(str(checkpoint), 1, 0.0)
    cfg_file = root / "config.yaml"
    cfg_file.write_text(cfg.dump())
    test_cfg = load_config(str(cfg_file), ["TEST.CHECKPOINT_FILE_PATH", str(checkpoint)])
    engine_test(test_cfg)
    with open(root / "out" / "results.pkl", "rb") as f:
        results = pickle.load(f)
    return {"data": data, "cfg": cfg_file, "checkpoint": checkpoint, "results": results}


def _videos(trained) -> list[str]:
    return [str(trained["data"] / "videos" / "test" / f"{i:06d}.mp4") for i in range(VIDEOS)]


def test_top5_equals_the_engine_multi_view_test(trained, capsys):
    status = predict.main(["--cfg", str(trained["cfg"]), "--checkpoint", str(trained["checkpoint"]), "--json",
                           "--device", "cpu", *_videos(trained)])
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == VIDEOS
    results = trained["results"]
    assert results["video_index"].tolist() == list(range(VIDEOS))
    classes = (trained["data"] / "classes.txt").read_text().split()
    for video, line in enumerate(lines):
        out = json.loads(line)
        assert out["video"] == _videos(trained)[video] and out["views"] == TEMPORAL_VIEWS * SPATIAL_CROPS
        engine_scores = results["scores"][video].astype(np.float64)  # summed logits of the 6 views
        expected = np.argsort(-engine_scores, kind="stable")[:5]
        assert [c["class"] for c in out["top5"]] == expected.tolist()
        assert [c["label"] for c in out["top5"]] == [classes[c] for c in expected]
        np.testing.assert_allclose([c["score"] for c in out["top5"]], engine_scores[expected], rtol=1e-5, atol=1e-5)
        mean_logit = engine_scores / results["views"][video]
        softmax = np.exp(mean_logit - mean_logit.max()) / np.exp(mean_logit - mean_logit.max()).sum()
        probs = [c["probability"] for c in out["top5"]]
        np.testing.assert_allclose(probs, softmax[expected], atol=2e-6)
        assert sum(probs) <= 1.0 and probs == sorted(probs, reverse=True)


def test_plain_lines_and_unreadable_video(trained, tmp_path, capsys, caplog):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video" * 10)
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"name{k}\n" for k in range(8)) + "\n")
    status = predict.main(["--cfg", str(trained["cfg"]), "--checkpoint", str(trained["checkpoint"]),
                           "--labels", str(labels), "--device", "cpu", str(broken), _videos(trained)[0]])
    assert status == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    fields = lines[0].split("\t")
    assert fields[0] == _videos(trained)[0] and len(fields) == 6
    assert all(f.split()[0].startswith("name") and 0 < float(f.split()[1]) < 1 for f in fields[1:])
    assert str(broken) in caplog.text


def test_checkpoint_of_another_model_names_the_keys(trained, tmp_path):
    cfg = load_config(str(trained["cfg"]), ["UNIFORMER.ATTN_MAX_DISP", "[5, 3]", "MODEL.NUM_CLASSES", "10"])
    other = tmp_path / "other.pyth"
    torch.save({"model_state": build_model(cfg).state_dict()}, other)
    with pytest.raises(WeightsError) as err:
        predict.main(["--cfg", str(trained["cfg"]), "--checkpoint", str(other), _videos(trained)[0]])
    message = str(err.value)
    assert str(other) in message
    assert "blocks3.0.attn.rpb (2, 5, 5) vs model (2, 3, 3)" in message
    assert "head.weight (10, 64) vs model (8, 64)" in message


def test_labels_of_the_wrong_count(trained, tmp_path):
    cfg = load_config(str(trained["cfg"]))
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\n")
    with pytest.raises(ValueError, match=r"labels.txt: 3 labels, but the model has MODEL.NUM_CLASSES = 8"):
        load_labels(str(labels), cfg)
    assert load_labels(None, cfg) == (trained["data"] / "classes.txt").read_text().split()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_gpu_prediction_equals_cpu(trained, capsys):
    outputs = {}
    for device in ("cpu", "cuda"):
        predict.main(["--cfg", str(trained["cfg"]), "--checkpoint", str(trained["checkpoint"]), "--json",
                      "--device", device, _videos(trained)[0]])
        outputs[device] = json.loads(capsys.readouterr().out)
    assert [c["class"] for c in outputs["cuda"]["top5"]] == [c["class"] for c in outputs["cpu"]["top5"]]
    np.testing.assert_allclose([c["score"] for c in outputs["cuda"]["top5"]],
                               [c["score"] for c in outputs["cpu"]["top5"]], rtol=1e-3, atol=1e-3)
