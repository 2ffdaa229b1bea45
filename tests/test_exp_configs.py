"""Every exp/*/config.yaml, with the overrides its run.sh/test.sh pass, loads and builds its model; the
published recipes state the released configs' numbers."""

import re

import pytest
from conftest import REPO

from slowfast.config import load_config
from slowfast.models import build_model

EXPS = sorted(p.parent.name for p in (REPO / "exp").glob("*/config.yaml"))
# The released configs: global batch, epochs, lr, warm-up, drop path, temporal views (x 3 crops), frames, depth.
RECIPES = {
    "emim_s16_sthv1_in1k": (32, 60, 2e-4, 5, 0.2, 1, 16, "S"),
    "emim_s16_sthv1_k400": (32, 60, 2e-4, 5, 0.25, 1, 16, "S"),
    "emim_s16_sthv2_k400": (32, 50, 2e-4, 5, 0.3, 1, 16, "S"),
    "emim_b16_sthv2_k400": (40, 50, 2.5e-4, 5, 0.4, 1, 16, "B"),
    "emim_b32_sthv1_k400": (64, 60, 4e-4, 5, 0.55, 1, 32, "B"),
    "emim_b32_sthv2_k400": (128, 50, 8e-4, 5, 0.45, 2, 32, "B"),
    "emim_s16_k400_in1k": (64, 110, 2e-4, 10, 0.0875, 4, 16, "S"),
    "emim_b16_k400_in1k": (160, 110, 5e-4, 10, 0.3, 4, 16, "B"),
    "emim_b32_k400_in1k": (256, 110, 8e-4, 10, 0.4, 4, 32, "B"),
}
LAUNCH = ["NUM_GPUS", "8", "NUM_SHARDS", "1", "OUTPUT_DIR", "/tmp/out", "DATA.PATH_TO_DATA_DIR", "/data",
          "DATA.PATH_PREFIX", "/data/frames", "TRAIN.CHECKPOINT_FILE_PATH", "", "TEST.CHECKPOINT_FILE_PATH", ""]


def test_every_published_recipe_has_a_folder():
    assert set(RECIPES) <= set(EXPS)
    for name in EXPS:
        assert (REPO / "exp" / name / "run.sh").exists() and (REPO / "exp" / name / "test.sh").exists()


@pytest.mark.parametrize("name", EXPS)
def test_config_loads_with_launcher_overrides_and_builds(name):
    cfg = load_config(str(REPO / "exp" / name / "config.yaml"), LAUNCH)
    model = build_model(cfg)  # built only: the S/B forward is too slow for the test suite
    assert model.head.out_features == cfg.MODEL.NUM_CLASSES


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_published_recipe_values(name):
    batch, epochs, lr, warmup, drop_path, views, frames, size = RECIPES[name]
    cfg = load_config(str(REPO / "exp" / name / "config.yaml"))
    assert (cfg.TRAIN.BATCH_SIZE, cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.BASE_LR, cfg.SOLVER.WARMUP_EPOCHS) == (
        batch, epochs, pytest.approx(lr), warmup)
    assert cfg.UNIFORMER.DROP_DEPTH_RATE == pytest.approx(drop_path)
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS, cfg.DATA.NUM_FRAMES) == (views, 3, frames)
    assert cfg.UNIFORMER.DEPTH == ([3, 4, 8, 3] if size == "S" else [5, 8, 20, 7])
    assert cfg.UNIFORMER.EMIM_RELEASED_KERNEL and cfg.UNIFORMER.ATTN_MAX_DISP == [7, 7]
    assert cfg.UNIFORMER.CONTINUOUS_ATTN == "lg" and cfg.DATA.TEST_CROP_SIZE == cfg.DATA.TRAIN_CROP_SIZE == 224
    assert cfg.TRAIN.MIXED_PRECISION and cfg.TRAIN.MIXED_PRECISION_DTYPE == "float16"
    assert cfg.SOLVER.CLIP_GRADIENT == (5.0 if name == "emim_b16_k400_in1k" else 20.0)
    assert cfg.DATA.RANDOM_FLIP == (cfg.TRAIN.DATASET == "kinetics")
    assert cfg.AUG.NUM_SAMPLE == 2 and cfg.MIXUP.ENABLE and cfg.MIXUP.LABEL_SMOOTH_VALUE == 0.1
    assert cfg.SOLVER.WEIGHT_DECAY == 0.05 and not cfg.SOLVER.RELEASED_WEIGHT_DECAY
    assert cfg.MODEL.USE_CHECKPOINT == (size == "B" and (frames == 32 or "k400_in1k" in name))


@pytest.mark.parametrize("name", EXPS)
def test_scripts_pass_only_launcher_and_paths(name):
    allowed = {"DATA.PATH_TO_DATA_DIR", "DATA.PATH_PREFIX", "TRAIN.CHECKPOINT_FILE_PATH", "TEST.CHECKPOINT_FILE_PATH",
               "OUTPUT_DIR", "TRAIN.ENABLE", "TEST.ENABLE"}
    for script in ("run.sh", "test.sh"):
        text = (REPO / "exp" / name / script).read_text()
        assert "source \"$EXP_DIR/../../tools/launch.sh\"" in text and '"$@"' in text
        assert set(re.findall(r"\b([A-Z_]+\.[A-Z_]+) ", text)) <= allowed, script


def test_demo_pair_differs_only_in_attention():
    emim = (REPO / "exp" / "motion_emim_tiny" / "config.yaml").read_text().splitlines()
    base = (REPO / "exp" / "motion_baseline_tiny" / "config.yaml").read_text().splitlines()
    strip = [[line for line in lines if not line.startswith("#")] for lines in (emim, base)]
    assert [(a, b) for a, b in zip(*strip) if a != b] == [("  ATTN_TYPE: ['emim', 'emim']",
                                                           "  ATTN_TYPE: ['global', 'global']")]
