"""`slowfast.datasets.prepare`: tiny copies of each dataset in its official format (csv/json schemas, VP9 webm,
H.264 mp4) -> lists checked against hand-computed ones, frame rates converted as computed by hand, read back through
the project's loaders with the published recipes, resumability and idempotence."""

import json
import os

import av
import numpy as np
import pytest
from PIL import Image

from slowfast.config import load_config
from slowfast.datasets import build_dataset
from slowfast.datasets.prepare import (
    PrepareError,
    extract_frames,
    prepare_diving48,
    prepare_kinetics,
    prepare_sthv1,
    prepare_sthv2,
)
from slowfast.datasets.prepare.common import count_frames, temp_path

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
W, H = 32, 24


def _gray(i: int) -> int:
    """The flat grey level of source frame i (far enough apart to survive lossy coding)."""
    return 20 + 30 * i


def _write_video(path: str, num_frames: int, fps: int, codec: str, size: tuple[int, int] = (W, H)) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with av.open(path, "w") as container:
        stream = container.add_stream(codec, rate=fps)
        (stream.width, stream.height), stream.pix_fmt = size, "yuv420p"
        stream.options = ({"lossless": "1", "deadline": "realtime", "cpu-used": "8", "threads": "1"}
                          if codec == "libvpx-vp9" else {"crf": "0", "preset": "ultrafast", "threads": "1"})
        for i in range(num_frames):
            frame = np.full((size[1], size[0], 3), _gray(i), np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def _source_frames(folder: str, n: int, template: str) -> list[int]:
    """Which source frame each of frames 1..n of `folder` shows (nearest grey level)."""
    levels = []
    for k in range(1, n + 1):
        with Image.open(os.path.join(folder, template.format(k))) as img:
            levels.append(float(np.asarray(img.convert("L")).mean()))
    return [int(round((v - 20) / 30)) for v in levels]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _recipe(name: str, *overrides):
    return load_config(os.path.join(REPO, "exp", name, "config.yaml"), list(overrides))


def _shrunk(data_dir: str, prefix: str, classes: int, *overrides):
    return ["DATA.PATH_TO_DATA_DIR", data_dir, "DATA.PATH_PREFIX", prefix, "MODEL.NUM_CLASSES", str(classes),
            "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "16", "DATA.TEST_CROP_SIZE", "16",
            "DATA.TRAIN_JITTER_SCALES", "[16, 20]", "TEST.NUM_SPATIAL_CROPS", "1", "AUG.NUM_SAMPLE", "1",
            *overrides]


# ------------------------------------------------------------------------------------------------ sthv1
SSV1_CLASSES = ["Holding something", "Pushing something from left to right", "Putting something on something"]


@pytest.fixture()
def sthv1_download(tmp_path):
    """20BN frame folders: 1 (20 frames), 2 (3), 3 (00001, 00002, 00004: a gap), 6 (empty); 5 is listed only."""
    frames = tmp_path / "20bn-something-something-v1"
    for folder, numbers in {"1": range(1, 21), "2": range(1, 4), "3": (1, 2, 4), "6": ()}.items():
        (frames / folder).mkdir(parents=True)
        for k in numbers:
            Image.fromarray(np.full((H, W, 3), _gray(k % 8), np.uint8)).save(frames / folder / f"{k:05d}.jpg")
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "something-something-v1-labels.csv").write_text("\n".join(SSV1_CLASSES) + "\n")
    (ann / "something-something-v1-train.csv").write_text(
        "1;Holding something\n2;Pushing something from left to right\n3;Holding something\n5;Holding something\n")
    (ann / "something-something-v1-validation.csv").write_text(
        "1;Putting something on something\n6;Holding something\n")
    return frames, ann


def test_sthv1_lists_and_recipe_reads_them(sthv1_download, tmp_path):
    frames, ann = sthv1_download
    out = tmp_path / "sthv1"
    train, val = prepare_sthv1(str(frames), str(ann), str(out), workers=1, min_frames=4)
    assert _read(out / "somethingv1_rgb_train.txt") == "1 20 0\n2 3 1\n3 2 0\n"
    assert _read(out / "somethingv1_rgb_val.txt") == "1 20 2\n"
    assert (train.written, [n for n, _ in train.missing]) == (3, [str(frames / "5")])
    assert [n for n, _ in train.out_of_range] == [str(frames / "2"), str(frames / "3")]
    assert "3 files named like frames" in train.out_of_range[1][1]
    assert (val.written, [n for n, _ in val.unreadable]) == (1, [str(frames / "6")])

    cfg = _recipe("emim_s16_sthv1_in1k", *_shrunk(str(out), str(frames), 3))
    ds = build_dataset("sth", cfg, "train")
    assert [(os.path.basename(r.path), r.num_frames, r.label) for r in ds.records] == [
        ("1", 20, 0), ("2", 3, 1), ("3", 2, 0)]
    clip, label, _, _ = ds[0]
    assert clip[0].shape == (3, 4, 16, 16) and label == 0
    test = build_dataset("sth", cfg, "test")  # the recipe tests on the val list
    assert len(test) == 1 and test[0][1] == 2


def test_sthv1_second_run_writes_nothing(sthv1_download, tmp_path):
    frames, ann = sthv1_download
    out = tmp_path / "sthv1"
    prepare_sthv1(str(frames), str(ann), str(out))
    lists = [out / "somethingv1_rgb_train.txt", out / "somethingv1_rgb_val.txt"]
    mtimes = [os.stat(p).st_mtime_ns for p in lists]
    prepare_sthv1(str(frames), str(ann), str(out), workers=2)
    assert [os.stat(p).st_mtime_ns for p in lists] == mtimes
    assert sorted(os.listdir(out)) == ["somethingv1_rgb_train.txt", "somethingv1_rgb_val.txt"]


def test_sthv1_bad_input_names_file_and_line(sthv1_download, tmp_path):
    frames, ann = sthv1_download
    (ann / "something-something-v1-validation.csv").write_text("1;Putting something on something\n6,Holding\n")
    with pytest.raises(PrepareError, match=r"something-something-v1-validation.csv:2: expected '<id>;<class name>'"):
        prepare_sthv1(str(frames), str(ann), str(tmp_path / "o"))
    (ann / "something-something-v1-validation.csv").write_text("1;Dancing\n")
    with pytest.raises(PrepareError, match=r"validation.csv:1: class 'Dancing' is not in .*labels.csv"):
        prepare_sthv1(str(frames), str(ann), str(tmp_path / "o"))
    (ann / "something-something-v1-validation.csv").write_text("1;Holding something\n")
    with pytest.raises(PrepareError, match=r"none of the 4 videos .* pass the folder holding one sub-folder"):
        prepare_sthv1(str(tmp_path), str(ann), str(tmp_path / "o"))
    os.remove(ann / "something-something-v1-labels.csv")
    with pytest.raises(PrepareError, match=r"labels.csv: the class list not found \(pass .* as --annotations\)"):
        prepare_sthv1(str(frames), str(ann), str(tmp_path / "o"))


def test_sthv1_names_every_bad_line_at_once(sthv1_download, tmp_path):
    frames, ann = sthv1_download
    split = ann / "something-something-v1-train.csv"
    split.write_text("1;Holding something\n2,Holding\n3;Dancing\n\n;Holding something\n5;Holding something\n")
    with pytest.raises(PrepareError) as e:
        prepare_sthv1(str(frames), str(ann), str(tmp_path / "o"))
    assert str(e.value).splitlines() == [
        f"{split}: 3 malformed lines:",
        f"    {split}:2: expected '<id>;<class name>', got '2,Holding'",
        f"    {split}:3: class 'Dancing' is not in {ann / 'something-something-v1-labels.csv'}",
        f"    {split}:5: expected '<id>;<class name>', got ';Holding something'"]
    labels = ann / "something-something-v1-labels.csv"
    labels.write_text("Holding something\n1;Holding something\nHolding something\n")
    with pytest.raises(PrepareError) as e:
        prepare_sthv1(str(frames), str(ann), str(tmp_path / "o"))
    assert [line.split(": ", 1)[0] for line in str(e.value).splitlines()] == [
        str(labels), f"    {labels}:2", f"    {labels}:3"]
    assert "listed twice" in str(e.value).splitlines()[2]


# ------------------------------------------------------------------------------------------------ sthv2
SSV2_LABELS = {"Holding something": "0", "Pushing something from left to right": "1",
               "Putting something on something": "2"}


@pytest.fixture()
def sthv2_download(tmp_path):
    """VP9 webm at 12 fps: 10 (6 frames), 11 (8 frames), 12 (not a video); 13 is listed only."""
    videos = tmp_path / "20bn-something-something-v2"
    _write_video(str(videos / "10.webm"), 6, 12, "libvpx-vp9")
    _write_video(str(videos / "11.webm"), 8, 12, "libvpx-vp9")
    (videos / "12.webm").write_bytes(b"\x1a\x45\xdf\xa3 not a webm")
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "something-something-v2-labels.json").write_text(json.dumps(SSV2_LABELS))
    entry = {"label": "holding a cup", "template": "Holding [something]", "placeholders": ["a cup"]}
    (ann / "something-something-v2-train.json").write_text(json.dumps([{"id": i, **entry} for i in ("10", "12", "13")]))
    (ann / "something-something-v2-validation.json").write_text(json.dumps([
        {"id": "11", "label": "putting a pen on a book", "template": "Putting [something] on [something]",
         "placeholders": ["a pen", "a book"]}]))
    (ann / "something-something-v2-test.json").write_text(json.dumps([{"id": "14"}]))
    return videos, ann


# Source frame shown by output frame k at 30 fps from 12 fps: the last i with i / 12 <= k / 30, i = floor(0.4 k).
FROM_12_TO_30 = [0, 0, 0, 1, 1, 2, 2, 2, 3, 3, 4, 4, 4, 5, 5, 6, 6, 6, 7, 7]


@pytest.mark.parametrize("fps, expected", [
    (30, FROM_12_TO_30[:15]),  # 6 frames = 0.5 s -> 15 frames
    (12, [0, 1, 2, 3, 4, 5]),
    (6, [0, 2, 4]),  # k / 6 = 2k / 12 -> frames 0 2 4; 0.5 s -> 3 frames
    (0, [0, 1, 2, 3, 4, 5]),  # every decoded frame
])
def test_extract_frames_converts_frame_rate(sthv2_download, tmp_path, fps, expected):
    videos, _ = sthv2_download
    folder = str(tmp_path / "f")
    frames, declared = extract_frames(str(videos / "10.webm"), folder, fps)
    assert (frames, declared) == (len(expected), len(expected))
    assert sorted(os.listdir(folder)) == [f"img_{k:05d}.jpg" for k in range(1, len(expected) + 1)]
    assert _source_frames(folder, frames, "img_{:05d}.jpg") == expected
    assert not os.path.exists(temp_path(folder))


def test_extract_frames_short_side_and_quality(sthv2_download, tmp_path):
    videos, _ = sthv2_download
    extract_frames(str(videos / "11.webm"), str(tmp_path / "small"), 12, short_side=12, quality=50)
    extract_frames(str(videos / "11.webm"), str(tmp_path / "full"), 12)
    with Image.open(tmp_path / "small" / "img_00001.jpg") as img:
        assert img.size == (16, 12)
    with Image.open(tmp_path / "full" / "img_00001.jpg") as img:
        assert img.size == (W, H)


def test_sthv2_frames_lists_and_both_loaders_read_them(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    out = tmp_path / "sthv2"
    train, val = prepare_sthv2(str(videos), str(ann), str(out), workers=2, min_frames=16)
    assert _read(out / "somethingv2_rgb_train.txt") == "10 15 0\n"
    assert _read(out / "somethingv2_rgb_val.txt") == "11 20 2\n"
    assert (train.written, train.skipped) == (1, 0)
    assert [n for n, _ in train.unreadable] == [str(videos / "12.webm")]
    assert [n for n, _ in train.missing] == [str(videos / "13.webm")]
    assert train.out_of_range == [(str(out / "frames" / "10"), "15 frames, fewer than --min-frames 16")]
    assert (val.written, val.unreadable, val.missing, val.out_of_range) == (1, [], [], [])
    assert _source_frames(str(out / "frames" / "11"), 20, "img_{:05d}.jpg") == FROM_12_TO_30
    assert sorted(os.listdir(out / "frames")) == ["10", "11"]

    cfg = _recipe("emim_s16_sthv2_k400", *_shrunk(str(out), str(out / "frames"), 3))
    ds = build_dataset("sth", cfg, "train")
    clip, label, _, _ = ds[0]
    assert clip[0].shape == (3, 4, 16, 16) and label == 0
    assert build_dataset("sth", cfg, "test")[0][1] == 2
    # The official JSON files still serve the `ssv2` loader, reading the webm directly.
    cfg = _recipe("emim_s16_sthv2_k400", *_shrunk(str(ann), str(videos), 3, "TRAIN.DATASET", "ssv2",
                                                  "TEST.DATASET", "ssv2", "DATA.DECODING_BACKEND", "pyav"))
    assert build_dataset("ssv2", cfg, "train")[0][0][0].shape == (3, 4, 16, 16)
    assert build_dataset("ssv2", cfg, "val")[0][1] == 2


def test_sthv2_resumes_and_second_run_writes_nothing(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    frames = tmp_path / "sthv2" / "frames"
    leftover = temp_path(str(frames / "10"))
    os.makedirs(leftover)
    Image.new("RGB", (4, 4)).save(os.path.join(leftover, "img_00001.jpg"))  # an interrupted run's half folder
    done = frames / "11"
    done.mkdir()
    for k in (1, 2, 3):  # a folder a previous run completed (3 frames): kept as it is
        Image.new("RGB", (W, H)).save(done / f"img_{k:05d}.jpg")
    done_mtime = os.stat(done).st_mtime_ns

    train, val = prepare_sthv2(str(videos), str(ann), str(tmp_path / "sthv2"))
    assert not os.path.exists(leftover) and count_frames(str(frames / "10"), "img_{:05d}.jpg") == (15, 15)
    assert (train.written, train.skipped, val.written, val.skipped) == (1, 0, 0, 1)
    assert _read(tmp_path / "sthv2" / "somethingv2_rgb_val.txt") == "11 3 2\n"
    assert os.stat(done).st_mtime_ns == done_mtime

    paths = [frames / "10", frames / "10" / "img_00015.jpg", tmp_path / "sthv2" / "somethingv2_rgb_train.txt"]
    mtimes = [os.stat(p).st_mtime_ns for p in paths]
    train, val = prepare_sthv2(str(videos), str(ann), str(tmp_path / "sthv2"))
    assert (train.written, train.skipped, val.written, val.skipped) == (0, 1, 0, 1)
    assert [os.stat(p).st_mtime_ns for p in paths] == mtimes
    assert sorted(os.listdir(frames)) == ["10", "11"]


def test_sthv2_bad_json_names_entry(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    (ann / "something-something-v2-validation.json").write_text(json.dumps([{"id": "11", "template": "Dancing"}]))
    with pytest.raises(PrepareError, match=r"validation.json:#0: class 'Dancing' is not in .*labels.json"):
        prepare_sthv2(str(videos), str(ann), str(tmp_path / "o"))
    (ann / "something-something-v2-labels.json").write_text("{oops")
    with pytest.raises(PrepareError, match=r"labels.json:1: not valid JSON"):
        prepare_sthv2(str(videos), str(ann), str(tmp_path / "o"))
    with pytest.raises(PrepareError, match=r"missing: the folder of <id>.webm videos is not a folder \(pass it as "
                                           r"--videos\)"):
        prepare_sthv2(str(tmp_path / "missing"), str(ann), str(tmp_path / "o"))


def _todays_layout(ann, root):
    """The 20BN annotations as today's download ships them: `root/labels/{labels,train,validation,test}.json`."""
    (root / "labels").mkdir(parents=True)
    for name in ("labels", "train", "validation", "test"):
        os.rename(ann / f"something-something-v2-{name}.json", root / "labels" / f"{name}.json")


def test_sthv2_todays_labels_folder_read_as_the_20bn_names(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    download = tmp_path / "download"
    _todays_layout(ann, download)
    frames = tmp_path / "frames"
    for i, annotations in enumerate((download, download / "labels")):  # the folder holding labels/, or labels/
        out = tmp_path / f"sthv2_{i}"
        prepare_sthv2(str(videos), str(annotations), str(out), str(frames))
        assert _read(out / "somethingv2_rgb_train.txt") == "10 15 0\n"
        assert _read(out / "somethingv2_rgb_val.txt") == "11 20 2\n"


def test_sthv2_missing_annotation_names_every_name_looked_for(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(PrepareError) as e:
        prepare_sthv2(str(videos), str(empty), str(tmp_path / "o"))
    assert str(e.value) == (f"{empty}: the class list not found: looked for something-something-v2-labels.json or "
                            f"labels.json there and in {empty / 'labels'} (pass the folder that holds it as "
                            f"--annotations)")
    download = tmp_path / "download"
    _todays_layout(ann, download)
    os.remove(download / "labels" / "validation.json")
    with pytest.raises(PrepareError) as e:
        prepare_sthv2(str(videos), str(download), str(tmp_path / "o"))
    assert str(e.value) == (f"{download}: the validation split not found: looked for "
                            f"something-something-v2-validation.json or validation.json there and in "
                            f"{download / 'labels'} (pass the folder that holds it as --annotations)")


def test_sthv2_names_every_bad_entry_at_once(sthv2_download, tmp_path):
    videos, ann = sthv2_download
    split = ann / "something-something-v2-train.json"
    split.write_text(json.dumps([{"id": "10", "template": "Holding [something]"}, {"id": "12"},
                                 {"id": "13", "template": "Dancing"}]))
    with pytest.raises(PrepareError) as e:
        prepare_sthv2(str(videos), str(ann), str(tmp_path / "o"))
    assert str(e.value).splitlines() == [
        f"{split}: 2 malformed entries:",
        f"    {split}:#1: expected an object with 'id' and 'template' (a labelled split), got {{'id': '12'}}",
        f"    {split}:#2: class 'Dancing' is not in {ann / 'something-something-v2-labels.json'}"]


# ------------------------------------------------------------------------------------------------ kinetics
KINETICS_HEADER = "label,youtube_id,time_start,time_end,split\n"


@pytest.fixture()
def kinetics_download(tmp_path):
    """H.264 at 8 fps, 64x48, 8 frames (1 s, as annotated) unless said: train per class folder, val and test flat."""
    videos = tmp_path / "k400"
    _write_video(str(videos / "train" / "zumba" / "zzz_000000_000001.mp4"), 8, 8, "libx264", (64, 48))
    _write_video(str(videos / "train" / "abseiling" / "aaa_000010_000011.mp4"), 8, 8, "libx264", (64, 48))
    (videos / "train" / "abseiling" / "ccc_000000_000001.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 broken")
    _write_video(str(videos / "val" / "ddd_000000_000001.mp4"), 4, 8, "libx264", (64, 48))  # half the annotated second
    _write_video(str(videos / "val" / "eee_000003_000004.mp4"), 8, 8, "libx264", (64, 48))
    _write_video(str(videos / "test" / "fff_000000_000001.mp4"), 8, 8, "libx264", (64, 48))
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "train.csv").write_text(KINETICS_HEADER + "zumba,zzz,0,1,train\nabseiling,aaa,10,11,train\n"
                                   '"air drumming",bbb,5,6,train\nabseiling,ccc,0,1,train\n')
    (ann / "validate.csv").write_text(KINETICS_HEADER + "air drumming,ddd,0,1,validate\nzumba,eee,3,4,validate\n")
    (ann / "test.csv").write_text(KINETICS_HEADER + "abseiling,fff,0,1,test\n")
    return videos, ann


def test_kinetics_lists_classes_and_recipe_reads_them(kinetics_download, tmp_path):
    videos, ann = kinetics_download
    out = tmp_path / "kinetics"
    train, val, test = prepare_kinetics(str(videos), str(ann), str(out), workers=2, min_frames=2)
    assert _read(out / "classes.txt") == "abseiling\nair drumming\nzumba\n"
    assert _read(out / "train.csv") == "train/zumba/zzz_000000_000001.mp4,2\ntrain/abseiling/aaa_000010_000011.mp4,0\n"
    assert _read(out / "val.csv") == "val/ddd_000000_000001.mp4,1\nval/eee_000003_000004.mp4,2\n"
    assert _read(out / "test.csv") == "test/fff_000000_000001.mp4,0\n"
    assert [n for n, _ in train.missing] == ["bbb_000005_000006"]
    assert [n for n, _ in train.unreadable] == ["train/abseiling/ccc_000000_000001.mp4"]
    assert val.out_of_range == [("val/ddd_000000_000001.mp4", "4 frames, expected 8 (+-10%, --max-deviation)")]
    assert (train.written, val.written, test.written, test.missing, test.unreadable) == (2, 2, 1, [], [])

    cfg = _recipe("emim_s16_k400_in1k", *_shrunk(str(out), str(videos), 3, "DATA.SAMPLING_RATE", "1"))
    clip, label, _, _ = build_dataset("kinetics", cfg, "train")[0]
    assert clip[0].shape == (3, 4, 16, 16) and label == 2
    assert build_dataset("kinetics", cfg, "test")[0][1] == 0  # the recipe tests on test.csv


def test_kinetics_resize_to_short_side_resumable(kinetics_download, tmp_path):
    videos, ann = kinetics_download
    out, resized = tmp_path / "kinetics", tmp_path / "k400_24"
    leftover = temp_path(str(resized / "val" / "eee_000003_000004.mp4"))
    os.makedirs(os.path.dirname(leftover))
    with open(leftover, "wb") as f:
        f.write(b"half a video")
    summaries = prepare_kinetics(str(videos), str(ann), str(out), short_side=24, resized_dir=str(resized),
                                 probe=False)
    assert [(s.step, s.written, s.skipped) for s in summaries] == [
        ("kinetics train resize to short side 24", 2, 0), ("kinetics train list", 2, 0),
        ("kinetics val resize to short side 24", 2, 0), ("kinetics val list", 2, 0),
        ("kinetics test resize to short side 24", 1, 0), ("kinetics test list", 1, 0)]
    assert [n for n, _ in summaries[0].unreadable] == ["train/abseiling/ccc_000000_000001.mp4"]  # not probed
    assert not os.path.exists(leftover)
    with av.open(str(resized / "val" / "eee_000003_000004.mp4")) as c:
        stream = c.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height, stream.frames) == (32, 24, 8)
    assert _read(out / "val.csv") == "val/ddd_000000_000001.mp4,1\nval/eee_000003_000004.mp4,2\n"
    cfg = _recipe("emim_s16_k400_in1k", *_shrunk(str(out), str(resized), 3, "DATA.SAMPLING_RATE", "1"))
    assert build_dataset("kinetics", cfg, "val")[0][0][0].shape == (3, 4, 16, 16)

    mtime = os.stat(resized / "val" / "eee_000003_000004.mp4").st_mtime_ns
    summaries = prepare_kinetics(str(videos), str(ann), str(out), short_side=24, resized_dir=str(resized),
                                 probe=False)
    assert [(s.written, s.skipped) for s in summaries[::2]] == [(0, 2), (0, 2), (0, 1)]
    assert os.stat(resized / "val" / "eee_000003_000004.mp4").st_mtime_ns == mtime


def test_kinetics_cvdf_names_unlabelled_test_and_bad_csv(kinetics_download, tmp_path):
    videos, ann = kinetics_download
    (ann / "test.csv").write_text("youtube_id,time_start,time_end,split\nfff,0,1,test\n")
    os.remove(ann / "validate.csv")  # the CVDF mirror's name and extra column
    (ann / "val.csv").write_text(KINETICS_HEADER.strip() + ",is_cc\nair drumming,ddd,0,1,validate,0\n")
    prepare_kinetics(str(videos), str(ann), str(tmp_path / "k"), probe=False)
    assert sorted(os.listdir(tmp_path / "k")) == ["classes.txt", "train.csv", "val.csv"]
    assert _read(tmp_path / "k" / "val.csv") == "val/ddd_000000_000001.mp4,1\n"
    (ann / "validate.csv").write_text("label,youtube,start,end\nzumba,eee,3,4\n")
    with pytest.raises(PrepareError, match=r"validate.csv:1: missing column\(s\) youtube_id, time_start, time_end"):
        prepare_kinetics(str(videos), str(ann), str(tmp_path / "k"))
    (ann / "validate.csv").write_text(KINETICS_HEADER + "zumba,eee,3,4,validate\nyoga,ggg,0,1,validate\n")
    with pytest.raises(PrepareError, match=r"validate.csv:3: class 'yoga' is not among the 3 classes of train.csv"):
        prepare_kinetics(str(videos), str(ann), str(tmp_path / "k"))
    with pytest.raises(PrepareError, match=r"--out is the --annotations folder"):
        prepare_kinetics(str(videos), str(ann), str(ann))


def test_kinetics_original_release_names_and_its_unlabelled_test_split(kinetics_download, tmp_path):
    """The original Kinetics-400 files as the ActivityNet crawler copied them: kinetics-400_{train,val,test}.csv,
    the test split without its labels (and is_cc)."""
    videos, ann = kinetics_download
    os.rename(ann / "train.csv", ann / "kinetics-400_train.csv")
    os.rename(ann / "validate.csv", ann / "kinetics-400_val.csv")
    os.remove(ann / "test.csv")
    (ann / "kinetics-400_test.csv").write_text("youtube_id,time_start,time_end,split\nfff,0,1,test\n")
    out = tmp_path / "k"
    summaries = prepare_kinetics(str(videos), str(ann), str(out), probe=False)
    assert sorted(os.listdir(out)) == ["classes.txt", "train.csv", "val.csv"]
    assert _read(out / "val.csv") == "val/ddd_000000_000001.mp4,1\nval/eee_000003_000004.mp4,2\n"
    assert [s.step for s in summaries] == ["kinetics train list", "kinetics val list"]
    assert summaries[-1].notes == [
        f"{ann / 'kinetics-400_test.csv'} has no labels (the original Kinetics-400 release held them back), so no "
        f"test.csv is written: test on the validation list with `bash exp/<recipe>/test.sh TEST.SPLIT val`, or put "
        f"the labelled test.csv of the CVDF mirror (github.com/cvdfoundation/kinetics-dataset) in --annotations and "
        f"run this again"]
    os.remove(ann / "kinetics-400_test.csv")
    summaries = prepare_kinetics(str(videos), str(ann), str(out), probe=False)
    assert summaries[-1].notes[0].startswith(f"no test split in {ann} (looked for test.csv, kinetics-400_test.csv, "
                                             f"kinetics-600_test.csv), so no test.csv is written: test on the")
    os.remove(ann / "kinetics-400_val.csv")
    with pytest.raises(PrepareError) as e:
        prepare_kinetics(str(videos), str(ann), str(out), probe=False)
    assert str(e.value) == (f"{ann}: the official val split not found: looked for validate.csv, val.csv, "
                            f"kinetics-400_val.csv or kinetics-600_val.csv (pass the folder that holds it as "
                            f"--annotations)")


def test_kinetics_names_every_bad_row_at_once(kinetics_download, tmp_path):
    videos, ann = kinetics_download
    train = ann / "train.csv"
    train.write_text(KINETICS_HEADER + "zumba,zzz,0,1,train\n,aaa,10,11,train\nzumba,bbb,x,6,train\n"
                     "zumba,ccc,0\nabseiling,ddd,0,1.5,train\n")
    with pytest.raises(PrepareError) as e:
        prepare_kinetics(str(videos), str(ann), str(tmp_path / "k"), probe=False)
    assert str(e.value).splitlines() == [
        f"{train}: 4 malformed rows:",
        f"    {train}:3: empty label",
        f"    {train}:4: time_start 'x' is not a whole number of seconds",
        f"    {train}:5: expected 5 fields (label,youtube_id,time_start,time_end,split)",
        f"    {train}:6: time_end '1.5' is not a whole number of seconds"]
    train.write_text(KINETICS_HEADER + "zumba,zzz,0,1,train\n")
    validate = ann / "validate.csv"
    validate.write_text(KINETICS_HEADER + "yoga,ddd,0,1,validate\nzumba,eee,3,4,validate\nsurfing,ggg,0,1,v\n")
    with pytest.raises(PrepareError) as e:
        prepare_kinetics(str(videos), str(ann), str(tmp_path / "k"), probe=False)
    assert str(e.value).splitlines() == [
        f"{validate}: 2 malformed rows:",
        f"    {validate}:2: class 'yoga' is not among the 1 classes of train.csv",
        f"    {validate}:4: class 'surfing' is not among the 1 classes of train.csv"]


# ------------------------------------------------------------------------------------------------ diving48
def test_diving48_lists_read_by_kinetics_loader(tmp_path):
    rgb = tmp_path / "Diving48" / "rgb"
    for name, frames in (("-abc_00001", 8), ("xyz_00002", 8), ("-q_00003", 8)):
        _write_video(str(rgb / f"{name}.mp4"), frames, 30, "libx264")
    ann = tmp_path / "Diving48"
    (ann / "Diving48_V2_train.json").write_text(json.dumps([
        {"vid_name": "-abc_00001", "label": 3, "start_frame": 0, "end_frame": 8},
        {"vid_name": "xyz_00002", "label": 0, "start_frame": 0, "end_frame": 16},  # annotated twice as long
        {"vid_name": "nope_00004", "label": 1, "start_frame": 0, "end_frame": 8}]))
    (ann / "Diving48_V2_test.json").write_text(json.dumps([
        {"vid_name": "-q_00003", "label": 1, "start_frame": 0, "end_frame": 8}]))
    out = tmp_path / "diving48"
    train, val = prepare_diving48(str(rgb), str(ann), str(out), min_frames=2)
    assert _read(out / "train.csv") == "-abc_00001.mp4,3\nxyz_00002.mp4,0\n"
    assert _read(out / "val.csv") == _read(out / "test.csv") == "-q_00003.mp4,1\n"
    assert [n for n, _ in train.missing] == ["nope_00004"]
    assert train.out_of_range == [("xyz_00002.mp4", "8 frames, expected 16 (+-10%, --max-deviation)")]
    cfg = _recipe("emim_s16_k400_in1k", *_shrunk(str(out), str(rgb), 4, "DATA.SAMPLING_RATE", "1"))
    assert build_dataset("kinetics", cfg, "train")[0][1] == 3
    assert build_dataset("kinetics", cfg, "test")[0][1] == 1
    (ann / "Diving48_V2_test.json").write_text(json.dumps([{"vid_name": "-q_00003", "label": "back"}]))
    with pytest.raises(PrepareError, match=r"Diving48_V2_test.json:#0: label 'back' is not a class index"):
        prepare_diving48(str(rgb), str(ann), str(out))


def test_diving48_v1_names_vocab_and_every_bad_entry(tmp_path):
    """The V1 annotations (Diving48_{train,test}.json) with Diving48_vocab.json: the classes are the vocabulary's
    48, so label 47 is valid with train labels up to 3, and label 48 is not."""
    rgb = tmp_path / "rgb"
    for name in ("a_00001", "b_00002"):
        _write_video(str(rgb / f"{name}.mp4"), 8, 30, "libx264")
    ann = tmp_path / "ann"
    ann.mkdir()
    (ann / "Diving48_vocab.json").write_text(json.dumps([["Back", "15som", "05Twis", "FREE"]] * 48))
    (ann / "Diving48_train.json").write_text(json.dumps([
        {"vid_name": "a_00001", "label": 3, "start_frame": 0, "end_frame": 8}]))
    test = ann / "Diving48_test.json"
    test.write_text(json.dumps([{"vid_name": "b_00002", "label": 47, "start_frame": 0, "end_frame": 8}]))
    out = tmp_path / "out"
    train, val = prepare_diving48(str(rgb), str(ann), str(out), probe=False)
    assert _read(out / "train.csv") == "a_00001.mp4,3\n" and _read(out / "test.csv") == "b_00002.mp4,47\n"
    assert val.notes == [f"read the V1 annotations ({ann / 'Diving48_train.json'}); Diving48's V2 files "
                         f"(Diving48_V2_train.json, Diving48_V2_test.json) correct their labels"]
    test.write_text(json.dumps([{"vid_name": "b_00002", "label": 48}, {"vid_name": "c", "label": -1},
                                {"label": 2}, {"vid_name": "d", "label": 49}]))
    with pytest.raises(PrepareError) as e:
        prepare_diving48(str(rgb), str(ann), str(out), probe=False)
    assert str(e.value).splitlines() == [
        f"{test}: 2 malformed entries:",
        f"    {test}:#1: label -1 is not a class index (an integer >= 0)",
        f"    {test}:#2: expected an object with vid_name, label, start_frame, end_frame, got {{'label': 2}}"]
    test.write_text(json.dumps([{"vid_name": "b_00002", "label": 48}, {"vid_name": "d", "label": 49}]))
    with pytest.raises(PrepareError) as e:
        prepare_diving48(str(rgb), str(ann), str(out), probe=False)
    assert str(e.value).splitlines() == [
        f"{test}: 2 malformed entries:",
        f"    {test}:#0: label 48 is not among the 48 classes of Diving48_vocab.json",
        f"    {test}:#1: label 49 is not among the 48 classes of Diving48_vocab.json"]
