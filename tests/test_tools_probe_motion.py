"""tools/probe_motion.py end to end on a tiny motion dataset: probe split written with another seed, every
reading per layer, knock-outs against the engine's own multi-view test, the probe along training."""

import json
import os
import sys

import torch
from conftest import REPO

from slowfast.config import load_config
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.engine.evaluator import test as engine_test
from slowfast.models import build_model

sys.path.insert(0, str(REPO / "tools"))
import probe_motion  # noqa: E402

TINY = ["UNIFORMER.EMBED_DIM", "[8, 16, 32, 64]", "UNIFORMER.DEPTH", "[1, 1, 2, 2]", "UNIFORMER.HEAD_DIM", "16",
        "UNIFORMER.ATTN_MAX_DISP", "[3, 3]", "MODEL.NUM_CLASSES", "4", "TEST.DATASET", "sth", "DATA.NUM_FRAMES", "4",
        "DATA.TEST_CROP_SIZE", "64", "TEST.NUM_ENSEMBLE_VIEWS", "2", "TEST.NUM_SPATIAL_CROPS", "1",
        "DATA.LABEL_PATH_TEMPLATE", "motion_frames_{}.txt", "DATA.IMAGE_TEMPLATE", "{:05d}.jpg",
        "DATA_LOADER.NUM_WORKERS", "0", "NUM_GPUS", "0"]


def test_probe_tool_on_a_tiny_dataset(tmp_path):
    data = tmp_path / "data"
    write_motion_dataset(str(data), seed=3, num_train=0, num_val=0, num_test=4, num_frames=8, size=64,
                         classes=["move_left", "move_right", "move_up", "move_down"])
    opts = TINY + ["DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data), "OUTPUT_DIR", str(tmp_path)]
    cfg = load_config(None, opts)
    (tmp_path / "config.yaml").write_text(cfg.dump())
    os.makedirs(tmp_path / "checkpoints")
    for epoch, seed in ((1, 1), (2, 0)):  # epoch 2 holds the untrained model itself (seeded by RNG_SEED = 0)
        torch.manual_seed(seed)
        path = tmp_path / f"checkpoints/checkpoint_epoch_0000{epoch}.pyth"
        torch.save({"model_state": build_model(cfg).state_dict()}, path)
    stats = [json.dumps({"epoch": e, "top1": v}) + "\n" for e, v in ((1, 30.0), (2, 40.0))]
    (tmp_path / "json_stats.log").write_text("".join(stats))
    checkpoint = str(tmp_path / "checkpoints/checkpoint_epoch_00002.pyth")
    report = probe_motion.main(["--cfg", str(tmp_path / "config.yaml"), "--checkpoint", checkpoint,
                                "--probe-videos", "4", "--baseline-cfg", str(tmp_path / "config.yaml"),
                                "--baseline-checkpoint", checkpoint,
                                "--along-training", "--device", "cpu", "--out", str(tmp_path / "out")])
    assert report["probe_split"] == str(data / "probe_seed1003" / "motion_test.json")
    probe_truth = json.loads((data / "probe_seed1003" / "motion_test.json").read_text())
    test_truth = json.loads((data / "motion_test.json").read_text())
    assert len(probe_truth["videos"]) == 4 and probe_truth["videos"][0]["centre"] != test_truth["videos"][0]["centre"]
    assert report["layers"] == ["blocks3.0", "blocks4.0"]
    for layer in report["layers"]:
        assert set(report["trained"][layer]) == {"cost", "soft_argmax", "input"}
        assert report["trained"][layer] == report["untrained"][layer]  # the same weights: the same readings
        assert report["global_twin"][layer]["input"] == report["trained"][layer]["input"]
        for reading in report["trained"][layer].values():
            assert reading["tokens"] > 0 and 0 <= reading["direction"] <= 100
    engine = engine_test(load_config(None, opts + ["TEST.CHECKPOINT_FILE_PATH", checkpoint]))
    assert report["knockouts_top1"]["none"] == engine["top1"]
    assert set(report["knockouts_top1"]) == {"none", "motion", "context", "permuted"}
    assert [(r["epoch"], r["val_top1"]) for r in report["along_training"]] == [(1, 30.0), (2, 40.0)]
    assert report["along_training"][1]["blocks3.0"] == report["trained"]["blocks3.0"]["cost"]["direction"]
    assert json.loads((tmp_path / "out" / "probe_motion.json").read_text())["layers"] == report["layers"]
