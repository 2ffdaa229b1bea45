"""tools/prepare_data.py: the command line over slowfast.datasets.prepare (bad input -> one `error:` line, exit 2;
the summary and the report file)."""

import fcntl
import logging
import os
import subprocess
import sys

import pytest
from conftest import REPO
from PIL import Image

sys.path.insert(0, str(REPO / "tools"))
import prepare_data  # noqa: E402


def _sthv1(root):
    frames, ann = root / "frames", root / "ann"
    (frames / "7").mkdir(parents=True)
    ann.mkdir()
    for k in (1, 2):
        Image.new("RGB", (8, 8)).save(frames / "7" / f"{k:05d}.jpg")
    (ann / "something-something-v1-labels.csv").write_text("Holding something\nTearing something\n")
    (ann / "something-something-v1-train.csv").write_text("7;Tearing something\n8;Holding something\n")
    (ann / "something-something-v1-validation.csv").write_text("7;Holding something\n")
    return frames, ann


def _exit(argv, capsys):
    with pytest.raises(SystemExit) as e:
        prepare_data.main(argv)
    err = capsys.readouterr().err
    return e.value.code, err


def test_sthv1_summary_and_report(tmp_path, caplog):
    frames, ann = _sthv1(tmp_path)
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        prepare_data.main(["sthv1", "--frames", str(frames), "--annotations", str(ann), "--out", str(out),
                           "--workers", "1"])
    assert (out / "somethingv1_rgb_train.txt").read_text() == "7 2 1\n"
    assert (out / "somethingv1_rgb_val.txt").read_text() == "7 2 0\n"
    assert ("sthv1 train list: 1 written, 0 skipped (already complete), 0 unreadable, 1 missing, "
            "1 frame counts out of range") in caplog.text
    assert f"3 problem(s), all listed in {out / 'prepare_sthv1_report.txt'}" in caplog.text
    train_csv = ann / "something-something-v1-train.csv"
    assert (out / "prepare_sthv1_report.txt").read_text().splitlines() == [
        f"sthv1 train list\tmissing\t{frames / '8'}\tno such folder (listed at {train_csv}:2)",
        f"sthv1 train list\tframe count out of range\t{frames / '7'}\t2 frames, fewer than --min-frames 16",
        f"sthv1 val list\tframe count out of range\t{frames / '7'}\t2 frames, fewer than --min-frames 16"]


def test_missing_split_file_is_one_error_line(tmp_path, capsys):
    frames, ann = _sthv1(tmp_path)
    os.remove(ann / "something-something-v1-validation.csv")
    code, err = _exit(["sthv1", "--frames", str(frames), "--annotations", str(ann), "--out", str(tmp_path / "o")],
                      capsys)
    assert code == 2
    assert err == (f"error: {ann}/something-something-v1-validation.csv: the val split not found (pass the folder "
                   f"that holds it as --annotations)\n")


def test_wrong_columns_and_missing_video_folder(tmp_path, capsys):
    ann = tmp_path / "ann"
    ann.mkdir()
    (tmp_path / "videos").mkdir()
    (ann / "train.csv").write_text("label,id,start,end\nzumba,x,0,1\n")
    (ann / "validate.csv").write_text("label,youtube_id,time_start,time_end,split\n")
    argv = ["kinetics", "--videos", str(tmp_path / "videos"), "--annotations", str(ann), "--out", str(tmp_path / "o")]
    code, err = _exit(argv, capsys)
    assert code == 2
    assert err.startswith(f"error: {ann}/train.csv:1: missing column(s) youtube_id, time_start, time_end; "
                          "expected the official header label,youtube_id,time_start,time_end,split")
    assert err.count("\n") == 1
    argv[2] = str(tmp_path / "nowhere")
    code, err = _exit(argv, capsys)
    assert (code, err) == (2, f"error: {tmp_path / 'nowhere'}: the video folder is not a folder (pass it as "
                              f"--videos)\n")


def test_entry_point_exits_2_without_traceback(tmp_path):
    result = subprocess.run([sys.executable, str(REPO / "tools" / "prepare_data.py"), "diving48", "--videos",
                             str(tmp_path), "--annotations", str(tmp_path), "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 2
    assert result.stderr == (f"error: {tmp_path}: the train split not found: looked for Diving48_V2_train.json or "
                             f"Diving48_train.json (pass the folder that holds it as --annotations)\n")


def test_second_run_on_the_same_out_is_refused(tmp_path, capsys):
    frames, ann = _sthv1(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".prepare_data.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        code, err = _exit(["sthv1", "--frames", str(frames), "--annotations", str(ann), "--out", str(out)], capsys)
    assert (code, err) == (2, f"error: {out / '.prepare_data.lock'}: another tools/prepare_data.py run is writing "
                              f"to this --out; wait for it or stop it\n")
    assert not (out / "somethingv1_rgb_train.txt").exists()


def test_unlabelled_kinetics_test_split_ends_with_what_to_pass(tmp_path, caplog):
    """The original Kinetics-400 test.csv holds no labels: train and val are written, and the log ends (before the
    closing line) with the one line saying what to pass for testing. --no-probe: the videos are only found."""
    ann, videos = tmp_path / "ann", tmp_path / "videos"
    ann.mkdir()
    videos.mkdir()
    for stem in ("a_000000_000010", "b_000000_000010"):
        (videos / f"{stem}.mp4").write_bytes(b"")
    (ann / "train.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,a,0,10,train\n")
    (ann / "validate.csv").write_text("label,youtube_id,time_start,time_end,split\nzumba,b,0,10,validate\n")
    (ann / "test.csv").write_text("youtube_id,time_start,time_end,split\nc,0,10,test\n")
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO):
        prepare_data.main(["kinetics", "--videos", str(videos), "--annotations", str(ann), "--out", str(out),
                           "--no-probe", "--workers", "1"])
    assert sorted(p.name for p in out.glob("*.csv")) == ["train.csv", "val.csv"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[-2] == (f"kinetics val list: {ann / 'test.csv'} has no labels (the original Kinetics-400 "
                            f"release held them back), so no test.csv is written: test on the validation list with "
                            f"`bash exp/<recipe>/test.sh TEST.SPLIT val`, or put the labelled test.csv of the CVDF "
                            f"mirror (github.com/cvdfoundation/kinetics-dataset) in --annotations and run this again")
    assert messages[-1].startswith("kinetics done in ")
