"""The pre-flight check (tools/check_data.py, slowfast.engine.preflight) and the errors of run_net.py, run.sh
and test.sh: every problem at once with its list line or config key and what to set, exit status 2, no
traceback; a prepared toy copy of each dataset type trains one iteration through its published recipe."""

import importlib.util
import os
import re
import shutil
import subprocess
import time

import pytest
import torch
from conftest import REPO
from PIL import Image
from tiny_cfg import TINY, TINY_BASE

from slowfast.config import ConfigError, load_config
from slowfast.datasets import VideoDataset, preflight, register_dataset
from slowfast.datasets.decoder import read_frame_files
from slowfast.datasets.lists import read_frame_list
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.datasets.preflight import check_split
from slowfast.datasets.samplers import segment_indices
from slowfast.datasets.video_dataset import missing
from slowfast.engine.preflight import SCRIPT_VARIABLES, PreflightError, check_run, prefix_variable
from slowfast.models import build_model

SCRIPT_ENV = {"OMP_NUM_THREADS": "1", "NUM_GPUS": "0"}
STH_RECIPE, K400_RECIPE = "emim_s16_sthv1_in1k", "emim_s16_k400_in1k"
# The published recipes shrunk to one CPU iteration: 4 frames at 32 px, one video per step.
SHRINK = ["DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32", "TRAIN.BATCH_SIZE", "1",
          "TEST.BATCH_SIZE", "1", "TRAIN.MIXED_PRECISION", "False", "DATA_LOADER.NUM_WORKERS", "0",
          "SOLVER.MAX_EPOCH", "1", "TRAIN.EVAL_PERIOD", "1", "TENSORBOARD.ENABLE", "False"]


def _load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def motion_dir(tmp_path_factory):
    """The motion dataset (frame folders + mp4s), with Something-Something V1 and Kinetics lists of it."""
    root = tmp_path_factory.mktemp("toy")
    write_motion_dataset(str(root), seed=3, num_train=2, num_val=1, num_test=1, num_frames=8, size=32)
    for split in ("train", "val", "test"):
        frames = (root / f"motion_frames_{split}.txt").read_text()
        (root / f"somethingv1_rgb_{split}.txt").write_text(frames)
        videos = (root / f"{split}.csv").read_text().splitlines()
        (root / f"{split}.csv").write_text("".join(line.replace(" ", ",") + "\n" for line in videos))  # K400: ","
    return root


@pytest.fixture
def sth_dir(motion_dir, tmp_path):
    """A private copy of the toy sth dataset with 4 training videos (tests change it)."""
    root = tmp_path / "sth"
    shutil.copytree(motion_dir, root)
    lines = (root / "somethingv1_rgb_train.txt").read_text().splitlines()
    (root / "somethingv1_rgb_train.txt").write_text("\n".join(lines + lines) + "\n")
    return root


def _tiny_sth(data_dir, output_dir, *overrides):
    """A tiny UniFormer on the sth lists of `data_dir` (as the sthv1 recipe reads them)."""
    return load_config(None, [*TINY_BASE, *TINY["tiny_s16_emim7"], "TRAIN.DATASET", "sth", "TEST.DATASET", "sth",
                              "TEST.SPLIT", "val", "DATA.PATH_TO_DATA_DIR", str(data_dir), "DATA.PATH_PREFIX",
                              str(data_dir), "OUTPUT_DIR", str(output_dir), "NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "2",
                              "TRAIN.EVAL_PERIOD", "1", *overrides])


def _problems(cfg) -> list[str]:
    with pytest.raises(PreflightError) as info:
        check_run(cfg)
    return [str(line) for line in str(info.value).splitlines()[1:]]


def test_good_toy_dataset_passes(sth_dir, tmp_path):
    lines = check_run(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False"))
    assert lines[0] == f"train: 4 videos in {sth_dir}/somethingv1_rgb_train.txt, all present, 3 decoded"
    assert lines[1] == f"val: 1 videos in {sth_dir}/somethingv1_rgb_val.txt, all present, 1 decoded"
    assert not (tmp_path / "out").exists()  # checked, not made


def test_missing_folder_at_line_3_and_missing_weights_are_both_reported(sth_dir, tmp_path, capsys):
    shutil.rmtree(sth_dir / "frames/train/000000")  # lines 1 and 3 of the train list
    weights = tmp_path / "nothere.pth"
    argv = ["--cfg", str(REPO / "exp" / STH_RECIPE / "config.yaml"), "DATA.PATH_TO_DATA_DIR", str(sth_dir),
            "DATA.PATH_PREFIX", str(sth_dir), "TRAIN.CHECKPOINT_FILE_PATH", str(weights),
            "OUTPUT_DIR", str(tmp_path / "out"), "NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "1", "TEST.ENABLE", "False"]
    with pytest.raises(SystemExit) as info:
        _load_tool("check_data").main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    list_file = sth_dir / "somethingv1_rgb_train.txt"
    assert err.startswith("error: 3 problem(s) found before starting the run")
    assert f"{list_file}:1: frame folder {sth_dir}/frames/train/000000 does not exist" in err
    assert f"{list_file}:3: frame folder {sth_dir}/frames/train/000000 does not exist" in err
    assert f"TRAIN.CHECKPOINT_FILE_PATH: {weights} does not exist" in err
    assert "[set PRETRAINED in run.sh, or TRAIN.CHECKPOINT_FILE_PATH]" in err
    assert "[set FRAMES_DIR in run.sh/test.sh, or DATA.PATH_PREFIX]" in err
    assert "Traceback" not in err


def test_truncated_folder_and_undecodable_frame_reported(sth_dir, tmp_path):
    os.remove(sth_dir / "frames/train/000001/00008.jpg")  # lines 2 and 4 say 8 frames
    (sth_dir / "frames/val/000000/00001.jpg").write_bytes(b"not a jpeg")
    problems = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False"))
    train_list, val_list = sth_dir / "somethingv1_rgb_train.txt", sth_dir / "somethingv1_rgb_val.txt"
    assert any(p.startswith(f"  - {train_list}:2: frame folder {sth_dir}/frames/train/000001 has no 00008.jpg")
               for p in problems)
    assert any(p.startswith(f"  - {val_list}:1: cannot be decoded:") and "00001.jpg" in p for p in problems)
    assert len(problems) == 3


def test_list_errors_and_label_range_name_the_line(sth_dir, tmp_path):
    train_list = sth_dir / "somethingv1_rgb_train.txt"
    train_list.write_text(train_list.read_text() + "frames/train/000000 eight 0\n")
    (sth_dir / "somethingv1_rgb_val.txt").write_text("frames/val/000000 8 99\n")
    problems = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False"))
    assert f"{train_list}:5: num_frames 'eight' is not an integer" in problems[0] and "(fix the list)" in problems[0]
    assert "somethingv1_rgb_val.txt:1: label 99 outside [0, 10)" in problems[1]
    assert problems[1].endswith("[set MODEL.NUM_CLASSES]")


def test_checkpoint_of_another_class_count_is_reported_with_tensor_names_and_shapes(sth_dir, tmp_path):
    other = build_model(_tiny_sth(sth_dir, tmp_path, "MODEL.NUM_CLASSES", "12"))
    torch.save({"model_state": other.state_dict()}, tmp_path / "other.pyth")
    cfg = _tiny_sth(sth_dir, tmp_path / "out", "TRAIN.ENABLE", "False",
                    "TEST.CHECKPOINT_FILE_PATH", str(tmp_path / "other.pyth"))
    (problem,) = _problems(cfg)
    assert f"TEST.CHECKPOINT_FILE_PATH: {tmp_path}/other.pyth is not a checkpoint of the model" in problem
    assert "2 tensors of another shape (file vs model): head.weight (12, 128) vs model (10, 128), " \
           "head.bias (12,) vs model (10,)" in problem
    assert problem.endswith("[set CHECKPOINT in test.sh, or TEST.CHECKPOINT_FILE_PATH]")
    # Fine-tuning replaces the head: the same file is good pre-trained weights ...
    check_run(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False",
                        "TRAIN.CHECKPOINT_FILE_PATH", str(tmp_path / "other.pyth")))
    # ... but not weights of another width.
    wide = build_model(_tiny_sth(sth_dir, tmp_path, "UNIFORMER.EMBED_DIM", "[16, 32, 64, 192]"))
    torch.save(wide.state_dict(), tmp_path / "wide.pth")
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False",
                                     "TRAIN.CHECKPOINT_FILE_PATH", str(tmp_path / "wide.pth")))
    assert "tensors of another shape (file vs model)" in problem and "(192,) vs model (128,)" in problem


def test_unreadable_weights_and_resume_from_plain_weights(sth_dir, tmp_path):
    (tmp_path / "broken.pth").write_bytes(b"\x00" * 64)
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False",
                                     "TRAIN.CHECKPOINT_FILE_PATH", str(tmp_path / "broken.pth")))
    assert problem.startswith(f"  - TRAIN.CHECKPOINT_FILE_PATH: {tmp_path}/broken.pth cannot be read as weights (")
    torch.save(build_model(_tiny_sth(sth_dir, tmp_path)).state_dict(), tmp_path / "plain.pth")
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False", "TRAIN.CHECKPOINT_FILE_PATH",
                                     str(tmp_path / "plain.pth"), "TRAIN.CHECKPOINT_LOAD_OPTIMIZER", "True"))
    assert "TRAIN.CHECKPOINT_LOAD_OPTIMIZER: is True but" in problem and "not a training checkpoint" in problem


def test_unwritable_output_dir_reported(sth_dir, tmp_path):
    (tmp_path / "a_file").write_text("")
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "a_file" / "out", "TEST.ENABLE", "False"))
    assert problem == (f"  - OUTPUT_DIR: {tmp_path}/a_file/out cannot be made: {tmp_path}/a_file is a file, not a "
                       f"folder [set OUTPUT_DIR in run.sh/test.sh, or OUTPUT_DIR]")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        (problem,) = _problems(_tiny_sth(sth_dir, locked / "out", "TEST.ENABLE", "False"))
        assert f"cannot write in {locked}" in problem


def test_nothing_to_test_says_set_checkpoint_or_train_first(sth_dir, tmp_path):
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TRAIN.ENABLE", "False"))
    assert "TEST.CHECKPOINT_FILE_PATH: nothing to test" in problem and "train first" in problem
    assert problem.endswith("[set CHECKPOINT in test.sh, or TEST.CHECKPOINT_FILE_PATH]")
    # Training first: the checkpoint the run will write is not looked for now.
    check_run(_tiny_sth(sth_dir, tmp_path / "out", "TEST.CHECKPOINT_FILE_PATH",
                        str(tmp_path / "out/checkpoints/checkpoint_best.pyth")))


def test_batch_larger_than_the_list_and_batch_per_process(sth_dir, tmp_path):
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False", "TRAIN.BATCH_SIZE", "8"))
    assert problem.startswith("  - TRAIN.BATCH_SIZE: 8 over 1 process(es) is 8 videos per process, more than the 4")
    (problem,) = _problems(_tiny_sth(sth_dir, tmp_path / "out", "TEST.ENABLE", "False", "NUM_GPUS", "3"))
    assert problem.startswith("  - launch: TRAIN.BATCH_SIZE = 2 is the total over all 3 processes")


def test_kinetics_missing_and_undecodable_videos(motion_dir, tmp_path):
    root = tmp_path / "k400"
    shutil.copytree(motion_dir, root)
    (root / "val.csv").write_text("videos/val/000000.mp4,0\nvideos/val/gone.mp4,1\n")
    (root / "videos/train/000001.mp4").write_bytes(b"\x00" * 1000)
    cfg = load_config(str(REPO / "exp" / K400_RECIPE / "config.yaml"), [
        "DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root), "TRAIN.CHECKPOINT_FILE_PATH", "",
        "OUTPUT_DIR", str(tmp_path / "out"), "NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "1", "TEST.ENABLE", "False"])
    problems = _problems(cfg)
    assert len(problems) == 2
    assert problems[0].startswith(f"  - {root}/train.csv:2: cannot be decoded with DATA.DECODING_BACKEND decord:")
    assert problems[1] == (f"  - {root}/val.csv:2: video {root}/videos/val/gone.mp4 does not exist "
                           f"[set VIDEO_DIR in run.sh/test.sh, or DATA.PATH_PREFIX]")


def test_motion_stream_checks_the_dataset_info_not_a_train_list(motion_dir, tmp_path):
    opts = ["DATA.PATH_PREFIX", str(motion_dir), "OUTPUT_DIR", str(tmp_path / "out"), "TRAIN.BATCH_SIZE", "2",
            "TEST.ENABLE", "False", "DATA.STREAM_VIDEOS_PER_EPOCH", "0"]
    cfg = load_config(str(REPO / "exp/motion_emim_tiny/config.yaml"), ["DATA.PATH_TO_DATA_DIR", str(motion_dir), *opts])
    assert check_run(cfg)[0] == "train: motion_stream renders 2 videos per epoch"
    empty = tmp_path / "empty"
    empty.mkdir()
    cfg = load_config(str(REPO / "exp/motion_emim_tiny/config.yaml"), ["DATA.PATH_TO_DATA_DIR", str(empty), *opts])
    problems = _problems(cfg)
    assert problems[0].startswith(f"  - DATA.PATH_TO_DATA_DIR: {empty}/motion_dataset.json not found")
    assert problems[0].endswith("[set DATA_DIR in run.sh/test.sh, or DATA.PATH_TO_DATA_DIR]")
    assert problems[1].startswith(f"  - val list: split list {empty}/motion_frames_val.txt does not exist")


@register_dataset()
class ZeroBasedFrames(VideoDataset):
    """A frame-folder dataset the pre-flight has never heard of (no FrameFolders subclass): lists
    `folders_<split>.txt`, lines `<folder> <num_frames> <label>`, frames `img<k>.png` numbered from 0."""

    STORAGE = "frames"

    def _records(self, list_split):
        d = self.cfg.DATA
        return read_frame_list(os.path.join(d.PATH_TO_DATA_DIR, f"folders_{list_split}.txt"), d.PATH_PREFIX, " ",
                               self.cfg.MODEL.NUM_CLASSES)

    @staticmethod
    def _frame(record, k):
        return os.path.join(record.path, f"img{k}.png")

    @classmethod
    def entry_problem(cls, cfg, record):
        gone = [p for p in (cls._frame(record, 0), cls._frame(record, record.num_frames - 1)) if not os.path.isfile(p)]
        return f"frame folder {record.path} has no {os.path.basename(gone[0])}" if gone else None

    @classmethod
    def read_sample(cls, cfg, record):
        read_frame_files([cls._frame(record, k) for k in (0, record.num_frames // 2, record.num_frames - 1)])

    def _missing_files(self, record):
        return missing([self._frame(record, k) for k in range(record.num_frames)])

    def _read_clip(self, record, view):
        indices = segment_indices(record.num_frames, self.num_frames, view, self.num_temporal_views)
        return read_frame_files([self._frame(record, k) for k in indices])


def test_a_new_frame_folder_dataset_is_checked_by_what_it_declares(tmp_path):
    """Its folders are statted by its own entry_problem and sampled by its read_sample: a truncated folder and
    an undecodable middle frame are named, the good folder passes (asked by name, every folder would be a
    missing video file), and the message says to set the frames folder."""
    for name in ("v0", "v1", "v2"):
        (tmp_path / "frames" / name).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (8, 8), (40 * k, 0, 0)).save(tmp_path / "frames" / name / f"img{k}.png")
    os.remove(tmp_path / "frames/v1/img2.png")
    (tmp_path / "frames/v2/img1.png").write_bytes(b"not a png")
    listed = tmp_path / "folders_train.txt"
    listed.write_text("v0 3 0\nv1 3 1\nv2 3 0\n")
    cfg = load_config(None, [*TINY_BASE, *TINY["tiny_s16_emim7"], "TRAIN.DATASET", "zero_based_frames",
                             "DATA.PATH_TO_DATA_DIR", str(tmp_path), "DATA.PATH_PREFIX", str(tmp_path / "frames"),
                             "OUTPUT_DIR", str(tmp_path / "out"), "NUM_GPUS", "0", "TRAIN.BATCH_SIZE", "1",
                             "TRAIN.EVAL_PERIOD", "0", "TEST.ENABLE", "False"])
    check = check_split(cfg, "train")
    assert (check.storage, check.videos, check.decoded) == ("frames", 3, 1)
    assert [(p.where, p.message, p.key) for p in check.problems[:1]] == [
        (f"{listed}:2", f"frame folder {tmp_path}/frames/v1 has no img2.png", "DATA.PATH_PREFIX")]
    assert check.problems[1].where == f"{listed}:3" and check.problems[1].message.startswith("cannot be decoded: ")
    assert "img1.png" in check.problems[1].message and len(check.problems) == 2
    assert prefix_variable(cfg) == "FRAMES_DIR"
    assert _problems(cfg)[0].endswith("img2.png [set FRAMES_DIR in run.sh/test.sh, or DATA.PATH_PREFIX]")
    for name in ("v0", "v2"):
        shutil.rmtree(tmp_path / "frames" / name)
    os.remove(tmp_path / "frames/v1/img0.png")
    assert check_split(cfg, "train").problems[-1].message.startswith("none of the 3 listed frame folders exist")


def test_stat_pass_of_a_220k_line_list_is_well_under_a_minute(tmp_path):
    """220,000 lines over 2,000 tiny frame folders (two frames each, hard links of one JPEG): the full pass
    stats the first and last frame of every line, as on a real list; printed: the cost per line."""
    frame = tmp_path / "frame.jpg"
    Image.new("RGB", (8, 8)).save(frame, "JPEG")
    for i in range(2000):
        folder = tmp_path / "frames" / f"{i:05d}"
        folder.mkdir(parents=True)
        os.link(frame, folder / "00001.jpg")
        os.link(frame, folder / "00002.jpg")
    lines = 220_000
    (tmp_path / "somethingv1_rgb_train.txt").write_text("".join(f"{i % 2000:05d} 2 {i % 174}\n" for i in range(lines)))
    cfg = load_config(str(REPO / "exp" / STH_RECIPE / "config.yaml"), [
        "DATA.PATH_TO_DATA_DIR", str(tmp_path), "DATA.PATH_PREFIX", str(tmp_path / "frames")])
    start = time.perf_counter()
    check = check_split(cfg, "train")
    elapsed = time.perf_counter() - start
    print(f"\npre-flight of a {lines}-line sth list: {elapsed:.2f} s, {1e6 * elapsed / lines:.1f} us per line")
    assert (check.videos, check.decoded, check.problems) == (lines, 3, [])
    assert elapsed < 30


def test_threaded_stat_pass_on_a_slow_file_system_keeps_the_list_order(tmp_path, monkeypatch):
    for i in range(0, 50, 2):  # every odd folder is missing
        (tmp_path / "frames" / f"{i:05d}").mkdir(parents=True)
        Image.new("RGB", (8, 8)).save(tmp_path / "frames" / f"{i:05d}" / "00001.jpg", "JPEG")
    (tmp_path / "somethingv1_rgb_train.txt").write_text("".join(f"{i:05d} 1 0\n" for i in range(50)))
    cfg = load_config(str(REPO / "exp" / STH_RECIPE / "config.yaml"), [
        "DATA.PATH_TO_DATA_DIR", str(tmp_path), "DATA.PATH_PREFIX", str(tmp_path / "frames")])
    sequential = check_split(cfg, "train")
    monkeypatch.setattr(preflight, "_STAT_CHUNK", 4)
    monkeypatch.setattr(preflight, "SLOW_STAT_S", 0.0)  # every file system is slow: 12 chunks in threads
    threaded = check_split(cfg, "train")
    assert threaded.problems == sequential.problems and len(sequential.problems) == 21  # 20 named + "and 5 more"
    assert [p.where.rsplit(":", 1)[1] for p in sequential.problems[:20]] == [str(i) for i in range(2, 42, 2)]
    assert sequential.problems[20].message == "and 5 more missing frame folders (lines 42 to 50)"


def test_every_script_passes_the_variables_the_messages_name():
    """The table the messages name (SCRIPT_VARIABLES, prefix_variable) is what exp/*/run.sh and test.sh pass."""
    for script in sorted((REPO / "exp").glob("*/*.sh")):
        text = script.read_text()
        if "run_released_name" in text:  # a released name runs its recipe's script (test_exp_released_names.py)
            continue
        passed = dict(re.findall(r"\b([A-Z_]+(?:\.[A-Z_]+)?) \"\$(?:\{)?([A-Z_]+)", text))
        cfg = load_config(str(script.parent / "config.yaml"))
        assert passed["DATA.PATH_PREFIX"] == prefix_variable(cfg), script
        for key in ("DATA.PATH_TO_DATA_DIR", "OUTPUT_DIR") + (("TRAIN.CHECKPOINT_FILE_PATH",)
                                                              if script.name == "run.sh" else ()):
            assert passed[key] == SCRIPT_VARIABLES[key][0], (script, key)
        if script.name == "test.sh":
            assert 'TEST.CHECKPOINT_FILE_PATH "$(test_checkpoint)"' in text  # CHECKPOINT, through launch.sh
        else:
            assert re.search(r'^PRETRAINED="\$\{PRETRAINED-[^}]*\}"', text, re.M), script  # set but empty: scratch


def test_attention_names_and_frames_are_checked_before_the_data(tmp_path):
    """The registry lives in the models layer, so the config cannot check attention names; the pre-flight does,
    before any list is read (the data folder here does not exist)."""
    with pytest.raises(ConfigError, match=r"UNIFORMER.ATTN_LAYERS: stage 3 names 'natten'; allowed: .*'emim'"):
        check_run(_tiny_sth(tmp_path / "nothere", tmp_path / "out",
                            "UNIFORMER.ATTN_LAYERS", "[['natten'], ['global']]"))
    with pytest.raises(ConfigError, match=r"DATA.NUM_FRAMES: got 1; attention type 'emim' \(stage 3\) needs >= 2"):
        check_run(_tiny_sth(tmp_path / "nothere", tmp_path / "out", "DATA.NUM_FRAMES", "1"))


def test_config_errors_are_config_errors():
    with pytest.raises(ConfigError, match="unknown config key UNIFORMER.NOPE"):
        load_config(None, ["UNIFORMER.NOPE", "1"])
    with pytest.raises(ConfigError, match="nothere.yaml: cannot read"):
        load_config(str(REPO / "nothere.yaml"))


def _run(args: list[str], env: dict, timeout: int = 300) -> tuple[int, str, float]:
    start = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env={**os.environ, **SCRIPT_ENV, **env}, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr, time.perf_counter() - start


def test_run_sh_with_nothing_prepared_names_every_missing_path_at_once(tmp_path):
    env = {"DATA_DIR": str(tmp_path / "data"), "OUTPUT_DIR": str(tmp_path / "out")}
    (tmp_path / "data").mkdir()
    rc, out, seconds = _run(["bash", f"exp/{STH_RECIPE}/run.sh"], env)
    assert rc == 2 and "Traceback" not in out and "ChildFailedError" not in out and "torchrun" not in out
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert errors == ["error: 4 problem(s) found before starting the run (nothing was started):"], out
    for path, setting in ((f"{tmp_path}/data/frames", "FRAMES_DIR"),
                          (f"{tmp_path}/data/somethingv1_rgb_train.txt", "DATA_DIR"),
                          (f"{tmp_path}/data/somethingv1_rgb_val.txt", "DATA_DIR"),
                          ("/path/to/uniformer_small_in1k.pth", "PRETRAINED")):
        assert any(path in line and f"[set {setting} in run.sh" in line for line in out.splitlines()), (path, out)
    assert seconds < 60
    # PRETRAINED set but empty: from scratch, so only the data is missing.
    rc, out, _ = _run(["bash", f"exp/{STH_RECIPE}/run.sh"], {**env, "PRETRAINED": ""})
    assert rc == 2 and "error: 3 problem(s)" in out and "PRETRAINED" not in out and "CHECKPOINT_FILE_PATH" not in out


def test_test_sh_without_a_checkpoint_and_a_bad_override_end_in_one_error_line(tmp_path, motion_dir):
    env = {"DATA_DIR": str(motion_dir), "FRAMES_DIR": str(motion_dir), "OUTPUT_DIR": str(tmp_path / "out")}
    rc, out, _ = _run(["bash", f"exp/{STH_RECIPE}/test.sh"], env)
    assert rc == 2 and "Traceback" not in out and "ChildFailedError" not in out
    assert "nothing to test" in out and "[set CHECKPOINT in test.sh" in out and "train first" in out
    rc, out, _ = _run(["bash", f"exp/{STH_RECIPE}/run.sh", "UNIFORMER.DEPHT", "[1, 1, 1, 1]"], env)
    assert rc == 2 and "Traceback" not in out
    assert out.strip().splitlines()[-1].startswith(
        "error: command-line override UNIFORMER.DEPHT [1, 1, 1, 1]: unknown config key UNIFORMER.DEPHT; "
        "did you mean DEPTH?")
    rc, out, _ = _run([str(REPO / ".venv/bin/python"), "tools/run_net.py", "--cfg", f"exp/{STH_RECIPE}/config.yaml",
                       "DATA.PATH_TO_DATA_DIR", str(tmp_path / "nothere"), "NUM_GPUS", "0"], {})
    errors = [line for line in out.splitlines() if line.startswith("error:")]
    assert rc == 2 and "Traceback" not in out and len(errors) == 1 and "somethingv1_rgb_train.txt" in out


@pytest.mark.parametrize("recipe", [STH_RECIPE, K400_RECIPE])
def test_toy_dataset_trains_one_iteration_through_its_published_recipe(recipe, motion_dir, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    if recipe == STH_RECIPE:
        for split in ("train", "val"):
            (data / f"somethingv1_rgb_{split}.txt").write_text(
                (motion_dir / f"somethingv1_rgb_{split}.txt").read_text().splitlines()[0] + "\n")
        env = {"FRAMES_DIR": str(motion_dir)}
    else:
        for split in ("train", "val"):
            (data / f"{split}.csv").write_text((motion_dir / f"{split}.csv").read_text().splitlines()[0] + "\n")
        env = {"VIDEO_DIR": str(motion_dir)}
    env.update(DATA_DIR=str(data), OUTPUT_DIR=str(tmp_path / "out"), PRETRAINED="")
    rc, out, _ = _run(["bash", f"exp/{recipe}/run.sh", *SHRINK], env)
    assert rc == 0, out
    assert "check_data: train: 1 videos in" in out and "all present, 1 decoded" in out
    assert "training epochs 1..1, 1 iterations per epoch" in out
    assert (tmp_path / "out/checkpoints/checkpoint_epoch_00001.pyth").exists()
    merged = load_config(str(tmp_path / "out/config.yaml"))
    assert merged.TRAIN.CHECKPOINT_FILE_PATH == "" and merged.UNIFORMER.DEPTH == [3, 4, 8, 3]
