"""The weight-loading policy end to end: a checkpoint with one tensor removed, one added or one of another
shape is refused, the tensor named in one `error:` line, by test.sh (its pre-flight), run_net.py --no-check
(the test's own load), evaluator.test, resuming, tools/predict.py and tools/export.py; the pre-flight's
verdict is the loader's; fine-tuning takes the same files and lists what it skipped."""

import logging
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO
from engine_fixtures import tiny_loader
from tiny_cfg import TINY, TINY_BASE, off_initial_values

from slowfast.config import load_config
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.engine.checkpoint import Checkpointer
from slowfast.engine.evaluator import test as engine_test
from slowfast.engine.optimizer import LRScheduler, construct_optimizer
from slowfast.engine.preflight import PreflightError, check_run
from slowfast.models import build_model
from slowfast.utils.weights import WeightsError, load_weights

sys.path.insert(0, str(REPO / "tools"))
import export  # noqa: E402
import predict  # noqa: E402

RECIPE = "motion_emim_tiny"
# The tiny UniFormer of tests/tiny_cfg.py (stage 3: width 64, one EMIM block) on 4 frames of 32 px, with the
# motion dataset's 8 classes.
TINY_MODEL = [*TINY_BASE, *TINY["tiny_s16_emim7"], "MODEL.NUM_CLASSES", "8", "DATA.NUM_FRAMES", "4",
              "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "TEST.BATCH_SIZE", "3",
              "DATA_LOADER.NUM_WORKERS", "0"]
TENSOR = "blocks3.0.attn.qkv.weight"  # [3 x 64, 64]
# How each tampered file differs from the model, and the words every refusal of it must contain.
TAMPERED = {
    "missing": f"(133 tensors): 1 model tensors missing from the file: {TENSOR}. ",
    "unexpected": "(133 tensors): 1 unexpected tensors in the file: blocks3.0.attn.extra.weight. ",
    "shape": f"(133 tensors): 1 tensors of another shape (file vs model): {TENSOR} (191, 64) vs model (192, 64). ",
}


def _tamper(state: dict, kind: str) -> dict:
    state = dict(state)
    if kind == "missing":
        del state[TENSOR]
    elif kind == "unexpected":
        state["blocks3.0.attn.extra.weight"] = torch.zeros(4)
    else:
        state[TENSOR] = state[TENSOR][:-1]
    return state


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The motion dataset, the tiny model's recipe config, an engine training checkpoint of it and the three
    tampered copies (the training state kept, only the model's tensors changed)."""
    root = tmp_path_factory.mktemp("policy")
    data = root / "data"
    write_motion_dataset(str(data), seed=5, num_train=1, num_val=1, num_test=1, num_frames=8, size=32)
    overrides = [*TINY_MODEL, "DATA.PATH_TO_DATA_DIR", str(data), "DATA.PATH_PREFIX", str(data),
                 "OUTPUT_DIR", str(root / "out"), "TRAIN.ENABLE", "False"]
    cfg = load_config(str(REPO / "exp" / RECIPE / "config.yaml"), overrides)
    cfg_file = root / "config.yaml"
    cfg_file.write_text(cfg.dump())
    torch.manual_seed(0)
    model = off_initial_values(build_model(cfg))
    optimizer = construct_optimizer(model, cfg.SOLVER)
    checkpointer = Checkpointer(str(root / "out"), model, optimizer, LRScheduler(optimizer, cfg.SOLVER, 1), None,
                                cfg, True)
    files = {"intact": root / "intact.pyth"}
    checkpointer.save(str(files["intact"]), 1, 0.0)
    state = torch.load(files["intact"], weights_only=True)
    for kind in TAMPERED:
        files[kind] = root / f"{kind}.pyth"
        torch.save({**state, "model_state": _tamper(state["model_state"], kind)}, files[kind])
    return {"root": root, "data": data, "cfg": cfg, "cfg_file": cfg_file, "files": files, "model": model,
            "overrides": overrides}


def _script_env(setup, checkpoint) -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "NUM_GPUS": "0", "DATA_DIR": str(setup["data"]),
            "OUTPUT_DIR": str(setup["root"] / "out"), "CHECKPOINT": str(checkpoint)}


def _one_error_line(out: str) -> str:
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in out, out
    return errors[0]


def test_test_sh_refuses_a_checkpoint_with_a_tensor_removed(setup):
    proc = subprocess.run(["bash", f"exp/{RECIPE}/test.sh", *TINY_MODEL], cwd=REPO, capture_output=True, text=True,
                          env=_script_env(setup, setup["files"]["missing"]), timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2 and _one_error_line(out) == \
        "error: 1 problem(s) found before starting the run (nothing was started):"
    (problem,) = [line for line in out.splitlines() if line.startswith("  - ")]
    assert problem.startswith(f"  - TEST.CHECKPOINT_FILE_PATH: {setup['files']['missing']} is not a checkpoint")
    assert TAMPERED["missing"] in problem and "run_net:" not in out  # stopped before torchrun


def test_run_net_without_the_pre_flight_refuses_it_at_the_test_load(setup):
    missing = setup["files"]["missing"]
    proc = subprocess.run([sys.executable, "tools/run_net.py", "--no-check", "--cfg", str(setup["cfg_file"]),
                           "TEST.CHECKPOINT_FILE_PATH", str(missing)], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
    out = proc.stdout + proc.stderr
    line = _one_error_line(out)
    assert proc.returncode == 2 and "check_data:" not in out  # the pre-flight did not run
    assert line.startswith(f"error: {missing} is not a checkpoint") and TAMPERED["missing"] in line
    assert not (setup["root"] / "out" / "stats.json").exists() and "test of" not in out  # nothing was tested


@pytest.mark.parametrize("kind", TAMPERED)
def test_engine_test_loads_exactly(setup, kind):
    cfg = load_config(str(setup["cfg_file"]), ["TEST.CHECKPOINT_FILE_PATH", str(setup["files"][kind])])
    with pytest.raises(WeightsError) as err:
        engine_test(cfg, tiny_loader)
    assert TAMPERED[kind] in str(err.value) and "\n" not in str(err.value)


def test_engine_test_of_the_intact_checkpoint_runs(setup):
    cfg = load_config(str(setup["cfg_file"]), ["TEST.CHECKPOINT_FILE_PATH", str(setup["files"]["intact"]),
                                               "OUTPUT_DIR", str(setup["root"] / "intact_out")])
    metrics = engine_test(cfg, tiny_loader)
    assert metrics["views"] == 13 * 3  # tiny_loader's test split: 13 videos x 3 views


@pytest.mark.parametrize("kind", TAMPERED)
def test_predict_refuses(setup, kind):
    video = str(setup["data"] / "videos" / "test" / "000000.mp4")
    with pytest.raises(WeightsError) as err:
        predict.main(["--cfg", str(setup["cfg_file"]), "--checkpoint", str(setup["files"][kind]), "--device", "cpu",
                      video])
    assert str(err.value).startswith(f"{setup['files'][kind]} is not a checkpoint") and TAMPERED[kind] in str(err.value)


@pytest.mark.parametrize("kind", TAMPERED)
def test_export_refuses_and_writes_nothing(setup, kind, tmp_path):
    out = tmp_path / "model.pt2"
    with pytest.raises(WeightsError) as err:
        export.main(["--cfg", str(setup["cfg_file"]), "--checkpoint", str(setup["files"][kind]), "--out", str(out)])
    assert TAMPERED[kind] in str(err.value) and not out.exists()


@pytest.mark.parametrize("kind", TAMPERED)
def test_resume_refuses(setup, kind):
    cfg = setup["cfg"]
    model = build_model(cfg)
    optimizer = construct_optimizer(model, cfg.SOLVER)
    checkpointer = Checkpointer(str(setup["root"] / "resume"), model, optimizer,
                                LRScheduler(optimizer, cfg.SOLVER, 1), None, cfg, False)
    with pytest.raises(WeightsError) as err:
        checkpointer.resume(str(setup["files"][kind]))
    assert TAMPERED[kind] in str(err.value)
    assert checkpointer.resume(str(setup["files"]["intact"])) == (1, 0.0)
    for key, value in setup["model"].state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


@pytest.mark.parametrize("kind", TAMPERED)
def test_the_pre_flight_verdict_is_the_loaders(setup, kind):
    path = str(setup["files"][kind])
    with pytest.raises(WeightsError) as loader:
        load_weights(build_model(setup["cfg"]), path)
    with pytest.raises(PreflightError) as preflight:
        check_run(load_config(str(setup["cfg_file"]), ["TEST.CHECKPOINT_FILE_PATH", path]))
    (problem,) = preflight.value.problems
    assert problem.key == "TEST.CHECKPOINT_FILE_PATH" and problem.message == str(loader.value)


def test_fine_tuning_takes_the_file_missing_a_tensor_and_logs_it(setup, caplog):
    path = str(setup["files"]["missing"])
    check_run(load_config(str(setup["cfg_file"]), ["TRAIN.ENABLE", "True", "TEST.ENABLE", "False",
                                                   "TRAIN.CHECKPOINT_FILE_PATH", path]))
    model = build_model(setup["cfg"])
    fresh = model.state_dict()[TENSOR].clone()
    with caplog.at_level(logging.INFO, logger="slowfast.utils.weights"):
        report = load_weights(model, path, finetune=True)
    assert report.missing == [TENSOR] and f"missing (1): {TENSOR}" in caplog.text
    assert torch.equal(model.state_dict()[TENSOR], fresh)  # its initialisation kept
    torch.testing.assert_close(model.state_dict()["blocks3.0.attn.proj.weight"],
                               setup["model"].state_dict()["blocks3.0.attn.proj.weight"])
    # Resuming the same file (TRAIN.CHECKPOINT_LOAD_OPTIMIZER) is exact: the pre-flight refuses it.
    with pytest.raises(PreflightError, match=TENSOR):
        check_run(load_config(str(setup["cfg_file"]), ["TRAIN.ENABLE", "True", "TEST.ENABLE", "False",
                                                       "TRAIN.CHECKPOINT_FILE_PATH", path,
                                                       "TRAIN.CHECKPOINT_LOAD_OPTIMIZER", "True"]))
