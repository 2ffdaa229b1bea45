"""The EMIM release's experiment names (exp/uniformer_*): each folder is its recipe under the released name.

The mapping is worked out here from the released files themselves (tests/data/released_configs: each released
config.yaml with the KEY VALUE overrides its run.sh and test.sh passed), not from the folders under test: model
size from UNIFORMER.DEPTH, frames, data set (Kinetics, or Something-Something V1/V2 by the label list), and
pre-training from PRETRAIN_NAME. Then every released name must name that recipe as its only setting, merge to the
recipe's config, state the released model and schedule, and its run.sh/test.sh must run the recipe's script with
the released name's config up to the pre-flight check.
"""

import os
import pathlib
import re
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from slowfast.config import load_config  # noqa: E402

RELEASED_DIR = REPO / "tests" / "data" / "released_configs"
RELEASED = sorted(p.name for p in RELEASED_DIR.iterdir() if p.is_dir())
SIZES = {(3, 4, 8, 3): "s", (5, 8, 20, 7): "b"}  # UniFormer-S, UniFormer-B
RELEASED_EMIM_NAMES = ("extra_attn64", "extra_attn128")  # the released ATTN_TYPE names of EMIM, one operator


def _overrides(path: pathlib.Path) -> dict[str, str]:
    """{KEY: value as written} of a released run/test override file (comment lines skipped)."""
    lines = [line.split(None, 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return {key: value.strip() for key, value in lines}


def _released(name: str) -> tuple[dict, dict[str, str], dict[str, str]]:
    folder = RELEASED_DIR / name
    return (yaml.safe_load((folder / "config.yaml").read_text()), _overrides(folder / "run_overrides.txt"),
            _overrides(folder / "test_overrides.txt"))


def _recipe_of(name: str) -> str:
    """The project's recipe for a released experiment, from its released config and run overrides alone."""
    config, run, _ = _released(name)
    size = SIZES[tuple(config["UNIFORMER"]["DEPTH"])]
    if config["TRAIN"]["DATASET"] == "kinetics":
        data = "k400"
    else:
        data = "sth" + re.fullmatch(r"something(v[12])_rgb_\{\}\.txt", run["DATA.LABEL_PATH_TEMPLATE"]).group(1)
    pretraining = config["UNIFORMER"]["PRETRAIN_NAME"].rsplit("_", 1)[1]  # uniformer_small_in1k -> in1k
    return f"emim_{size}{config['DATA']['NUM_FRAMES']}_{data}_{pretraining}"


def test_every_released_name_has_a_folder_and_no_other():
    assert len(RELEASED) == 9
    assert sorted(p.name for p in (REPO / "exp").glob("uniformer_*")) == RELEASED
    recipes = [_recipe_of(name) for name in RELEASED]
    assert len(set(recipes)) == 9 and all((REPO / "exp" / r / "config.yaml").is_file() for r in recipes), recipes


def test_the_mapping_as_worked_out_by_hand():
    """The mapping the README table shows, written out: a check on `_recipe_of` itself."""
    assert {name: _recipe_of(name) for name in RELEASED} == {
        "uniformer_b16_sthv2_prek400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_b16_sthv2_k400",
        "uniformer_b16x4_k400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_b16_k400_in1k",
        "uniformer_b32_sthv1_prek400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_b32_sthv1_k400",
        "uniformer_b32_sthv2_prek400_uniformer_extra_attn128_ATTN_ATTN_7_7_LG": "emim_b32_sthv2_k400",
        "uniformer_b32x4_k400_uniformer_extra_attn128_ATTN_ATTN_7_7_LG": "emim_b32_k400_in1k",
        "uniformer_s16_sthv1_pre1k_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_s16_sthv1_in1k",
        "uniformer_s16_sthv1_prek400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_s16_sthv1_k400",
        "uniformer_s16_sthv2_prek400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG": "emim_s16_sthv2_k400",
        "uniformer_s16x4_k400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG_ok": "emim_s16_k400_in1k",
    }


@pytest.mark.parametrize("name", RELEASED)
def test_released_name_is_its_recipe_as_base_and_nothing_else(name):
    recipe = _recipe_of(name)
    config = yaml.safe_load((REPO / "exp" / name / "config.yaml").read_text())
    assert config == {"_BASE_": f"../{recipe}/config.yaml"}
    assert load_config(str(REPO / "exp" / name / "config.yaml")) == load_config(
        str(REPO / "exp" / recipe / "config.yaml"))


@pytest.mark.parametrize("name", RELEASED)
def test_released_name_states_the_released_model_and_schedule(name):
    released, run, test = _released(name)
    cfg = load_config(str(REPO / "exp" / name / "config.yaml"))
    u, d = released["UNIFORMER"], released["DATA"]
    assert (cfg.UNIFORMER.EMBED_DIM, cfg.UNIFORMER.DEPTH, cfg.UNIFORMER.HEAD_DIM, cfg.UNIFORMER.MLP_RATIO) == (
        u["EMBED_DIM"], u["DEPTH"], u["HEAD_DIM"], u["MLP_RATIO"])
    assert all(t in RELEASED_EMIM_NAMES for t in u["ATTN_TYPE"]) and cfg.UNIFORMER.ATTN_TYPE == ["emim", "emim"]
    assert (cfg.UNIFORMER.ATTN_MAX_DISP, cfg.UNIFORMER.CONTINUOUS_ATTN) == (u["ATTN_MAX_DISP"],
                                                                          u["CONTINUOUS_ATTN"].lower())
    assert cfg.UNIFORMER.PRETRAIN_NAME == u["PRETRAIN_NAME"]
    assert cfg.UNIFORMER.DROP_DEPTH_RATE == pytest.approx(float(run["UNIFORMER.DROP_DEPTH_RATE"]))
    assert (cfg.DATA.NUM_FRAMES, cfg.DATA.SAMPLING_RATE, cfg.DATA.TRAIN_CROP_SIZE) == (
        d["NUM_FRAMES"], d["SAMPLING_RATE"], d["TRAIN_CROP_SIZE"])
    assert cfg.DATA.TEST_CROP_SIZE == int(run["DATA.TEST_CROP_SIZE"]) == int(test["DATA.TEST_CROP_SIZE"])
    assert (cfg.MODEL.NUM_CLASSES, cfg.TRAIN.DATASET, cfg.TEST.DATASET) == (
        released["MODEL"]["NUM_CLASSES"], released["TRAIN"]["DATASET"], released["TEST"]["DATASET"])
    checkpointed = released["MODEL"].get("USE_CHECKPOINT", False)
    assert cfg.MODEL.USE_CHECKPOINT == checkpointed
    if checkpointed:
        assert cfg.MODEL.CHECKPOINT_NUM == released["MODEL"]["CHECKPOINT_NUM"]
    if "DATA.LABEL_PATH_TEMPLATE" in run:
        assert cfg.DATA.LABEL_PATH_TEMPLATE == run["DATA.LABEL_PATH_TEMPLATE"]
        assert cfg.DATA.IMAGE_TEMPLATE == run["DATA.IMAGE_TEMPLATE"]
    # The released TRAIN.BATCH_SIZE is per machine (PySlowFast); the project's is global.
    assert cfg.TRAIN.BATCH_SIZE == int(run["TRAIN.BATCH_SIZE"]) * int(run.get("NUM_SHARDS", "1"))
    assert cfg.SOLVER.BASE_LR == pytest.approx(float(run["SOLVER.BASE_LR"]))
    assert (cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.WARMUP_EPOCHS) == (int(run["SOLVER.MAX_EPOCH"]),
                                                                float(run["SOLVER.WARMUP_EPOCHS"]))
    assert (cfg.SOLVER.OPTIMIZING_METHOD, cfg.SOLVER.WEIGHT_DECAY) == (released["SOLVER"]["OPTIMIZING_METHOD"],
                                                                       released["SOLVER"]["WEIGHT_DECAY"])
    assert (cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS) == (int(test["TEST.NUM_ENSEMBLE_VIEWS"]),
                                                                         int(test["TEST.NUM_SPATIAL_CROPS"]))


def _script_up_to_preflight(tmp_path, name: str, script: str) -> tuple[int, str, list[str]]:
    """Run exp/<name>/<script> with DATA_DIR an empty folder: (exit status, output, the arguments the pre-flight
    check was started with, recorded by a PYTHON wrapper that then runs the real interpreter)."""
    (tmp_path / "data").mkdir()
    wrapper, argv_file = tmp_path / "python", tmp_path / "argv"
    wrapper.write_text(f"#!/bin/sh\nprintf '%s\\0' \"$@\" > {argv_file}\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in (
        "FRAMES_DIR", "VIDEO_DIR", "PRETRAINED", "CHECKPOINT", "RELEASED_NAME_CONFIG")}
    env.update(OMP_NUM_THREADS="1", NUM_GPUS="0", PYTHON=str(wrapper), DATA_DIR=str(tmp_path / "data"),
               OUTPUT_DIR=str(tmp_path / "out"))
    proc = subprocess.run(["bash", f"exp/{name}/{script}"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)
    argv = argv_file.read_text().split("\0")[:-1] if argv_file.exists() else []
    return proc.returncode, proc.stdout + proc.stderr, argv


# test.sh for one released name per data set (the scripts differ only in the name they run; 5 s a run).
TEST_SH = ["uniformer_s16_sthv1_pre1k_uniformer_extra_attn64_ATTN_ATTN_7_7_LG",
           "uniformer_b32_sthv2_prek400_uniformer_extra_attn128_ATTN_ATTN_7_7_LG",
           "uniformer_s16x4_k400_uniformer_extra_attn64_ATTN_ATTN_7_7_LG_ok"]


@pytest.mark.parametrize("name, script", [(n, "run.sh") for n in RELEASED] + [(n, "test.sh") for n in TEST_SH])
def test_released_script_runs_its_recipe_up_to_the_preflight(tmp_path, name, script):
    recipe = _recipe_of(name)
    rc, out, argv = _script_up_to_preflight(tmp_path, name, script)
    assert rc == 2 and "Traceback" not in out and "torchrun" not in out, out
    assert out.splitlines()[0] == f"{name} is the released name of exp/{recipe}: running its {script}"
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.fullmatch(
        r"error: \d problem\(s\) found before starting the run \(nothing was started\):", errors[0]), out
    # The pre-flight checked the released name's config with the recipe script's overrides, and that config is
    # the recipe's.
    assert argv[:3] == [str(REPO / "tools" / "check_data.py"), "--cfg", str(REPO / "exp" / name / "config.yaml")]
    opts = argv[3:]
    assert opts[opts.index("DATA.PATH_TO_DATA_DIR") + 1] == str(tmp_path / "data")
    assert opts[opts.index("OUTPUT_DIR") + 1] == str(tmp_path / "out")
    assert load_config(argv[2], opts) == load_config(str(REPO / "exp" / recipe / "config.yaml"), opts)
    # What is missing is the recipe's: its lists, and (run.sh) its default weights of the released pre-training.
    released, run, _ = _released(name)
    if "DATA.LABEL_PATH_TEMPLATE" in run:
        lists = [run["DATA.LABEL_PATH_TEMPLATE"].format(s) for s in (("train", "val") if script == "run.sh"
                                                                      else ("val",))]
    else:
        lists = ["train.csv", "val.csv"] if script == "run.sh" else ["test.csv"]
    for list_file in lists:
        assert f"{tmp_path}/data/{list_file} does not exist [set DATA_DIR in run.sh/test.sh" in out, (list_file, out)
    if script == "run.sh":
        assert f"/path/to/{released['UNIFORMER']['PRETRAIN_NAME']}.pth does not exist" in out
    else:
        assert "[set CHECKPOINT in test.sh" in out
