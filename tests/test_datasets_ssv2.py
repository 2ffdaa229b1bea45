"""`ssv2`: Something-Something V2's own JSON files and .webm (VP9) videos, both backends."""

import json
from pathlib import Path

import av
import numpy as np
import pytest

from slowfast.config import get_cfg
from slowfast.datasets import build_dataset
from slowfast.datasets.motion_synth import render_video
from slowfast.engine.inference import load_labels


def _write_webm(path, frames):
    with av.open(str(path), "w", format="webm") as c:
        s = c.add_stream("libvpx-vp9", rate=12)
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        s.options = {"crf": "10", "b": "0", "deadline": "realtime", "cpu-used": "8"}
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())


@pytest.fixture(scope="module")
def ssv2_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("ssv2")
    names = {"Moving something left": "0", "Moving something right": "1"}
    (root / "something-something-v2-labels.json").write_text(json.dumps(names))
    entries = []
    for i, (name, cls) in enumerate([("move_left", "left"), ("move_right", "right"), ("move_left", "left")]):
        _write_webm(root / f"{100 + i}.webm", render_video(np.random.default_rng(i), name, 32, 20)[0])
        entries.append({"id": str(100 + i), "template": f"Moving [something] {cls}", "placeholders": ["x"]})
    for split in ("train", "validation"):
        (root / f"something-something-v2-{split}.json").write_text(json.dumps(entries))
    (root / "something-something-v2-test.json").write_text(json.dumps([{"id": "100"}]))
    return str(root)


def _cfg(root, backend):
    cfg = get_cfg()
    cfg.DATA.PATH_TO_DATA_DIR, cfg.DATA.PATH_PREFIX, cfg.DATA.DECODING_BACKEND = root, root, backend
    cfg.DATA.NUM_FRAMES, cfg.DATA.TRAIN_CROP_SIZE, cfg.DATA.TEST_CROP_SIZE = 8, 24, 32
    cfg.MODEL.NUM_CLASSES, cfg.TEST.NUM_ENSEMBLE_VIEWS, cfg.TEST.NUM_SPATIAL_CROPS = 2, 2, 1
    cfg.TEST.SPLIT = "val"
    return cfg


@pytest.mark.parametrize("backend", ["decord", "pyav"])
def test_ssv2_webm_videos_with_labels_from_json(ssv2_dir, backend):
    cfg = _cfg(ssv2_dir, backend)
    train = build_dataset("ssv2", cfg, "train")
    frames, label, index, _ = train[1]
    assert frames[0].shape == (3, 8, 24, 24) and (label, index) == (1, 1)
    test = build_dataset("ssv2", cfg, "test")  # TEST.SPLIT "val" reads the validation JSON
    assert len(test) == 3 * 2 and [test[i][1] for i in (0, 2, 4)] == [0, 1, 0]
    assert not np.array_equal(test[0][0][0].numpy(), test[1][0][0].numpy())  # two temporal views


def test_ssv2_official_test_file_has_no_labels(ssv2_dir):
    cfg = _cfg(ssv2_dir, "pyav")
    cfg.TEST.SPLIT = "test"
    with pytest.raises(ValueError, match="something-something-v2-test.json:#0: expected an object with 'id' and"):
        build_dataset("ssv2", cfg, "test")


def test_predict_labels_come_from_the_labels_json_by_id(tmp_path):
    """tools/predict.py's class names for an `ssv2` config: the labels JSON's names ordered by their ids (written
    here out of order), asked of the dataset class; a folder without one falls back to `classes.txt`."""
    (tmp_path / "something-something-v2-labels.json").write_text(json.dumps({"Pushing b": "1", "Pulling a": "0"}))
    cfg = _cfg(str(tmp_path), "pyav")
    cfg.TEST.DATASET = "ssv2"
    assert load_labels(None, cfg) == ["Pulling a", "Pushing b"]
    (tmp_path / "something-something-v2-labels.json").unlink()
    (tmp_path / "classes.txt").write_text("first\n\nsecond\n")
    assert load_labels(None, cfg) == ["first", "second"]
    (tmp_path / "classes.txt").unlink()
    assert load_labels(None, cfg) == ["class 0", "class 1"]


@pytest.mark.parametrize("data_dir", [".", "labels"])
def test_todays_labels_folder_is_read_as_the_20bn_names(ssv2_dir, tmp_path, data_dir):
    """Today's download ships `labels/{labels,train,validation,test}.json`: DATA_DIR may be the folder that holds
    labels/ or labels/ itself, and the records equal those of the 20BN names (same videos, ids and labels)."""
    (tmp_path / "labels").mkdir()
    for name in ("labels", "train", "validation", "test"):
        text = (Path(ssv2_dir) / f"something-something-v2-{name}.json").read_text()
        (tmp_path / "labels" / f"{name}.json").write_text(text)
    cfg = _cfg(ssv2_dir, "pyav")
    today = _cfg(str(tmp_path / data_dir), "pyav")
    today.DATA.PATH_PREFIX = ssv2_dir
    for split in ("train", "test"):
        read = [build_dataset("ssv2", c, split).records for c in (today, cfg)]
        assert [[(r.path, r.label) for r in records] for records in read] == [[(r.path, r.label) for r in read[1]]] * 2
        assert read[0][0].source.endswith(f"labels/{'train' if split == 'train' else 'validation'}.json:#0")
    today.TEST.DATASET = "ssv2"
    assert load_labels(None, today) == ["Moving something left", "Moving something right"]
