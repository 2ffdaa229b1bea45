"""The pre-flight check: everything a run needs, checked before any process or GPU is started, every
problem reported at once (`PreflightError`, exit status 2 at the tools), each with the list line or config
key at fault and what to set.

    python tools/check_data.py --cfg FILE [KEY VALUE ...]    # alone
    tools/run_net.py and tools/launch.sh (exp/*/run.sh, test.sh) run it before starting the job

Checked, for the splits the run uses (train, and val when TRAIN.EVAL_PERIOD > 0, when TRAIN.ENABLE; test
when TEST.ENABLE): the lists and every video they name (`slowfast.datasets.preflight`: stat only, plus a
few decoded); the batch against the process count; TRAIN.CHECKPOINT_FILE_PATH readable and of this model
(the classifier head may differ: fine-tuning to another class count replaces it); the checkpoint to test
(TEST.CHECKPOINT_FILE_PATH, else the newest in OUTPUT_DIR when not training first) with exactly this model's
tensors; OUTPUT_DIR writable. The model is built only when there is a checkpoint to compare with.
"""

import os
import tempfile
import time

from slowfast.config import UserError
from slowfast.datasets.preflight import Problem, SplitCheck, check_split, data_kind
from slowfast.models import build_model
from slowfast.models.attention import attention_layers
from slowfast.utils.weights import WeightsError, extract_state_dict, fit, read_checkpoint

from .checkpoint import REQUIRED_KEYS, last_checkpoint
from .launch import check_world, processes_per_machine

# The shell variables exp/*/run.sh and test.sh set for the keys they pass, and the scripts that have them
# (tests/test_tools_check_data.py checks every script against this table). DATA.PATH_PREFIX: `prefix_variable`.
SCRIPT_VARIABLES = {
    "DATA.PATH_TO_DATA_DIR": ("DATA_DIR", "run.sh/test.sh"),
    "TRAIN.CHECKPOINT_FILE_PATH": ("PRETRAINED", "run.sh"),
    "TEST.CHECKPOINT_FILE_PATH": ("CHECKPOINT", "test.sh"),
    "OUTPUT_DIR": ("OUTPUT_DIR", "run.sh/test.sh"),
}


class PreflightError(UserError):
    """The run cannot start: `problems` (all of them), rendered one per line with what to set."""

    def __init__(self, problems: list[Problem], cfg):
        self.problems = problems
        lines = "\n".join(f"  - {render(p, cfg)}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) found before starting the run (nothing was started):\n{lines}")


def prefix_variable(cfg) -> str:
    """The exp/*/run.sh variable passed as DATA.PATH_PREFIX, by how the run's dataset stores its videos (its
    class's STORAGE): the frames folder of frame folders, the video folder of video files, the data folder
    itself for a rendered dataset (the motion recipes: their val/test lists name paths inside it)."""
    kind = data_kind(cfg.TRAIN.DATASET if cfg.TRAIN.ENABLE else cfg.TEST.DATASET)
    return {"frames": "FRAMES_DIR", "videos": "VIDEO_DIR", "rendered": "DATA_DIR"}.get(kind, "VIDEO_DIR")


def render(problem: Problem, cfg) -> str:
    """`where: message [what to set]`: the script variable and the config key, or the key alone."""
    text = f"{problem.where}: {problem.message}"
    if not problem.key:
        return text
    if problem.key == "DATA.PATH_PREFIX":
        variable, scripts = prefix_variable(cfg), "run.sh/test.sh"
    else:
        variable, scripts = SCRIPT_VARIABLES.get(problem.key, (None, None))
    setting = f"set {variable} in {scripts}, or {problem.key}" if variable else f"set {problem.key}"
    return f"{text} [{setting}]"


def run_splits(cfg) -> list[str]:
    """The splits the run reads: train (and val when TRAIN.EVAL_PERIOD > 0) when training, test when testing."""
    splits = []
    if cfg.TRAIN.ENABLE:
        splits += ["train", "val"] if cfg.TRAIN.EVAL_PERIOD > 0 else ["train"]
    if cfg.TEST.ENABLE:
        splits.append("test")
    return splits


def check_run(cfg, samples: int = 3) -> list[str]:
    """Check everything `cfg`'s run needs; the summary lines when all is well, else `PreflightError` (or the
    `ConfigError` of a model the config cannot describe: an unregistered attention type, too few frames)."""
    start = time.perf_counter()
    attention_layers(cfg)  # names checked against the registry of the models layer, nothing built
    problems: list[Problem] = []
    world = processes_per_machine(cfg) * cfg.NUM_SHARDS
    try:
        check_world(cfg, world)
    except ValueError as err:
        problems.append(Problem("launch", str(err)))
    checks: list[SplitCheck] = [check_split(cfg, split, samples) for split in run_splits(cfg)]
    for check in checks:
        problems += check.problems
    train = next((c for c in checks if c.split == "train" and not c.problems), None)
    if train is not None and cfg.TRAIN.BATCH_SIZE // world > train.videos:
        problems.append(Problem("TRAIN.BATCH_SIZE", f"{cfg.TRAIN.BATCH_SIZE} over {world} process(es) is "
                                f"{cfg.TRAIN.BATCH_SIZE // world} videos per process, more than the {train.videos} "
                                f"training videos: no full batch (the last incomplete one is dropped)",
                                "TRAIN.BATCH_SIZE"))
    problems += _check_checkpoints(cfg)
    problems += _check_output_dir(cfg.OUTPUT_DIR)
    if problems:
        raise PreflightError(list(dict.fromkeys(problems)), cfg)  # once each: splits share a prefix, a list
    lines = [c.summary() for c in checks]
    lines.append(f"checked in {time.perf_counter() - start:.1f} s")
    return lines


def _check_checkpoints(cfg) -> list[Problem]:
    """TRAIN.CHECKPOINT_FILE_PATH (when training) and the checkpoint to test (when testing) against the model."""
    wanted = []  # (config key, path, finetune): weights the run fine-tunes from, else loaded exactly
    if cfg.TRAIN.ENABLE and cfg.TRAIN.CHECKPOINT_FILE_PATH:
        wanted.append(("TRAIN.CHECKPOINT_FILE_PATH", cfg.TRAIN.CHECKPOINT_FILE_PATH,
                       not cfg.TRAIN.CHECKPOINT_LOAD_OPTIMIZER))
    problems = []
    if cfg.TEST.ENABLE and cfg.TEST.CHECKPOINT_FILE_PATH:
        if not (cfg.TRAIN.ENABLE and _inside(cfg.TEST.CHECKPOINT_FILE_PATH, cfg.OUTPUT_DIR)):
            wanted.append(("TEST.CHECKPOINT_FILE_PATH", cfg.TEST.CHECKPOINT_FILE_PATH, False))
        # else: a checkpoint this run's training writes (checkpoint_best.pyth), there only after training
    elif cfg.TEST.ENABLE and not cfg.TRAIN.ENABLE:  # else the test reads what this run's training writes
        newest = last_checkpoint(cfg.OUTPUT_DIR)
        if newest is None:
            problems.append(Problem("TEST.CHECKPOINT_FILE_PATH", f"nothing to test: it is empty and "
                                    f"{cfg.OUTPUT_DIR}/checkpoints holds no readable checkpoint; point it to "
                                    f"the weights to test, or train first (exp/<name>/run.sh)",
                                    "TEST.CHECKPOINT_FILE_PATH"))
        else:
            wanted.append(("TEST.CHECKPOINT_FILE_PATH", newest, False))
    loaded = []
    for key, path, finetune in wanted:
        resume = key.startswith("TRAIN") and cfg.TRAIN.CHECKPOINT_LOAD_OPTIMIZER
        state, problem = _read_checkpoint(key, path, resume)
        if problem:
            problems.append(problem)
        else:
            loaded.append((key, path, finetune, state))
    if loaded:
        target = build_model(cfg).state_dict()
        problems += [p for key, path, finetune, state in loaded if (p := _compare(key, path, state, target, finetune))]
    return problems


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return os.path.commonpath([path, folder]) == folder


def _read_checkpoint(key: str, path: str, resume: bool) -> tuple[dict | None, Problem | None]:
    """The model state dict in `path`, or the Problem that stops reading it. `resume`: the whole training
    state is restored from it (TRAIN.CHECKPOINT_LOAD_OPTIMIZER), so it must be an engine checkpoint."""
    advice = ("; PRETRAINED= (empty) trains from scratch" if key == "TRAIN.CHECKPOINT_FILE_PATH" else "")
    try:
        checkpoint = read_checkpoint(path)
        state = extract_state_dict(checkpoint, path)
    except WeightsError as err:
        return None, Problem(key, f"{err}{advice}", key)
    missing = [k for k in REQUIRED_KEYS if k not in checkpoint] if resume else []
    if missing:
        return None, Problem("TRAIN.CHECKPOINT_LOAD_OPTIMIZER", f"is True but {path} is not a training checkpoint "
                             f"(it has no {', '.join(missing)}); set it False to fine-tune from these weights",
                             "TRAIN.CHECKPOINT_LOAD_OPTIMIZER")
    return state, None


def _compare(key: str, path: str, state: dict, target: dict, finetune: bool) -> Problem | None:
    """The loader's verdict (`slowfast.utils.weights.fit`) on `state` for the model whose state dict is
    `target`: exactly (testing, resuming), or as fine-tuning loads it."""
    try:
        fit(state, target, path, finetune)
    except WeightsError as err:
        return Problem(key, str(err), key)
    return None


def _check_output_dir(output_dir: str) -> list[Problem]:
    """OUTPUT_DIR, or the deepest of its parents that exists, is a folder this process can write in."""
    if "://" in output_dir:
        return []
    existing = os.path.abspath(output_dir)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return [Problem("OUTPUT_DIR", f"{output_dir} cannot be made: {existing} is a file, not a folder", "OUTPUT_DIR")]
    try:
        fd, probe = tempfile.mkstemp(prefix=".check_data.", dir=existing)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        return [Problem("OUTPUT_DIR", f"{output_dir}: cannot write in {existing} ({err.strerror or err})",
                        "OUTPUT_DIR")]
    return []
