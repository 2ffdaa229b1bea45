"""Mined motion (soft-argmax of EMIM's cost volume), true motion, direction accuracy, and
tools/visualize_motion.py's files."""

import json
import math
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from conftest import REPO
from PIL import Image

from slowfast.config import load_config
from slowfast.datasets import open_video
from slowfast.datasets.motion_synth import write_motion_dataset
from slowfast.datasets.transforms import EvalTransform
from slowfast.engine.inference import centre_view
from slowfast.models import build_model
from slowfast.models.attention import EmimAttention
from slowfast.visualization.capture import CostVolumes
from slowfast.visualization.motion_field import (
    ObjectMotion,
    ViewGeometry,
    direction_hits,
    eval_view_geometry,
    load_ground_truth,
    score_clip,
    soft_argmax,
)

sys.path.insert(0, str(REPO / "tools"))
import visualize_motion  # noqa: E402

IDENTITY = ViewGeometry(np.ones(2), np.zeros(2))


def test_soft_argmax_of_hand_built_cost_volumes():
    cost = torch.zeros(1, 3, 4, 5, 2, 9)  # K = 3: entry u*3 + v is (dx, dy) = (v - 1, u - 1)
    cost[:, :2, :, :, 0, 2] = 40.0  # head 0 peaks at u=0, v=2: (dx, dy) = (1, -1)
    cost[:, 2, :, :, 0, 6] = 40.0  # the last frame (a copy in EMIM) is dropped
    disp = soft_argmax(cost)
    assert disp.shape == (1, 2, 4, 5, 2, 2)
    torch.testing.assert_close(disp[..., 0, :], torch.tensor([1.0, -1.0]).expand(1, 2, 4, 5, 2))
    torch.testing.assert_close(disp[..., 1, :], torch.zeros(1, 2, 4, 5, 2))  # uniform: no displacement
    two = torch.zeros(1, 2, 1, 1, 1, 9)
    two[..., 5] = math.log(3.0)  # weight 3 on offset (dx, dy) = (1, 0), 1 on the 8 others (which sum to 0)
    expected = torch.tensor([2.0, 0.0]) / 11.0  # (3 * (1, 0) + sum of all 9 offsets - (1, 0)) / 11
    torch.testing.assert_close(soft_argmax(two)[0, 0, 0, 0, 0], expected)


def test_true_displacement_and_coverage_by_hand():
    motion = ObjectMotion("v.mp4", 0, 32, np.array([1.0, 0.0]), 0.1, 0.05, np.array([[30.0, 10.0]]), np.array([4.0]))
    points = np.array([[32.0, 10.0], [1.0, 10.0], [30.0, 16.0]])  # (2, 0) away; (3, 0) round the torus; (0, 6)
    expected = np.array([[1 + 0.05 * 2, 0.1 * 2], [1 + 0.05 * 3, 0.1 * 3], [1 - 0.1 * 6, 0.05 * 6]])
    np.testing.assert_allclose(motion.displacement(0, points), expected)
    assert motion.covers(0, points).tolist() == [True, True, False]
    # positive angular velocity turns clockwise on screen (y down): a point right of the centre moves down
    assert motion.displacement(0, points[:1])[0, 1] > 0


@pytest.mark.parametrize("height, width", [(40, 60), (60, 40)])
@pytest.mark.parametrize("crop", [0, 1, 2])
def test_view_geometry_matches_eval_transform(height, width, crop):
    frames = torch.zeros(1, height, width, 3, dtype=torch.uint8)
    x, y = (30, 17) if width > height else (17, 30)  # inside all three crops
    frames[0, y - 1:y + 1, x - 1:x + 1] = 255  # a 2x2 blob centred on the stored point (x, y)
    cfg = load_config(None, ["DATA.TEST_CROP_SIZE", "32", "DATA.MEAN", "[0., 0., 0.]", "DATA.STD", "[1., 1., 1.]"])
    image = EvalTransform(cfg)(frames, crop)[0, 0].double()  # [32, 32]
    rows, cols = torch.meshgrid(torch.arange(32.0) + 0.5, torch.arange(32.0) + 0.5, indexing="ij")
    centroid = np.array([[(cols * image).sum() / image.sum(), (rows * image).sum() / image.sum()]])
    stored = eval_view_geometry(height, width, 32, crop).to_stored(centroid)
    np.testing.assert_allclose(stored[0], [x, y], atol=0.3)


def test_direction_hits_by_angle():
    true = np.array([[1.0, 0.0]] * 5)
    mined = np.array([[1.0, 0.9], [1.0, 1.1], [-1.0, 0.0], [0.0, 0.0], [3.0, -0.5]])  # 42, 48, 180 deg, none, 9 deg
    assert direction_hits(mined, true).tolist() == [True, False, False, False, True]


def _rotation(frames: int, size: int = 128, w: float = 0.05) -> ObjectMotion:
    """Rotation about the centre of a size x size frame; the object covers a disc of radius size / 2."""
    return ObjectMotion("v", 0, size, np.zeros(2), w, 0.0, np.full((frames, 2), size / 2), np.full(frames, size / 2))


def test_scores_of_fields_built_to_follow_the_motion_and_of_random_fields():
    motion = _rotation(8)
    frames = [0, 2, 4, 5, 7]  # stored frames of 5 token frames; gaps 2, 2, 1, 2
    rows, cols = np.meshgrid(np.arange(8) + 0.5, np.arange(8) + 0.5, indexing="ij")  # 8x8 tokens of 16 px
    tangent = np.stack([-(rows - 4.0), cols - 4.0], axis=-1)  # clockwise about the centre, in tokens
    following = torch.from_numpy(np.broadcast_to(tangent * 0.3, (4, 8, 8, 2)).copy())
    hits, total = score_clip(following, motion, frames, IDENTITY, (128, 128))
    assert total == 4 * int((np.hypot(rows - 4, cols - 4) < 4).sum()) and hits == total
    assert score_clip(-following, motion, frames, IDENTITY, (128, 128))[0] == 0
    random = torch.randn(400, 8, 8, 2, generator=torch.Generator().manual_seed(0))
    hits, total = score_clip(random, _rotation(401), list(range(401)), IDENTITY, (128, 128))
    assert abs(hits / total - 0.25) < 0.02
    assert score_clip(following[:1], motion, [3, 3], IDENTITY, (128, 128)) == (0, 0)  # repeated frame: no motion


def _moving_tokens(shift: tuple[int, int], frames: int = 5, size: int = 8, dim: int = 16) -> torch.Tensor:
    """Tokens [1, T*H*W, C]: a random unit-norm pattern translated by shift (dx, dy) tokens per frame."""
    pattern = nn.functional.normalize(torch.randn(size + 2 * frames, size + 2 * frames, dim), dim=-1)
    clips = [pattern[frames - t * shift[1]:][:size, frames - t * shift[0]:][:, :size] for t in range(frames)]
    return torch.stack(clips).reshape(1, -1, dim)


def _accuracy(layer: EmimAttention, shifts) -> float:
    wrapper = nn.ModuleDict({"attn": layer})
    hits = total = 0
    for dx, dy in shifts:
        motion = ObjectMotion("v", 0, 128, np.array([16.0 * dx, 16.0 * dy]), 0.0, 0.0, np.full((5, 2), 64.0),
                              np.full(5, 48.0))  # 8x8 tokens of 16 px; the object: tokens away from the edge
        with CostVolumes(wrapper) as recorder, torch.no_grad():
            layer(_moving_tokens((dx, dy)), (5, 8, 8))
        field = soft_argmax(recorder.volumes["attn"])[0].mean(dim=3)
        h, n = score_clip(field, motion, list(range(5)), IDENTITY, (128, 128))
        hits, total = hits + h, total + n
    return hits / total


def test_emim_layer_whose_cost_volume_follows_the_motion_scores_near_one_and_a_random_one_near_chance():
    shifts = [(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    follows = EmimAttention(16, 2, window=3, qk_scale=20.0, backend="torch")
    with torch.no_grad():  # q = k = the token features, 8 channels per head
        follows.qkv.weight.zero_()
        follows.qkv.bias.zero_()
        follows.qkv.weight[:16] = torch.eye(16)
        follows.qkv.weight[16:32] = torch.eye(16)
        follows.rpb.zero_()
    assert _accuracy(follows, shifts) > 0.97
    assert abs(_accuracy(EmimAttention(16, 2, window=3, backend="torch"), shifts) - 0.25) < 0.12


@pytest.fixture(scope="module")
def motion_data(tmp_path_factory):
    """A 2-video motion dataset, a tiny EMIM model checkpoint and its config, a ground-truth file."""
    root = tmp_path_factory.mktemp("visualize")
    data = root / "data"
    write_motion_dataset(str(data), seed=5, num_train=1, num_val=1, num_test=2, num_frames=16, size=64)
    cfg = load_config(None, [
        "UNIFORMER.EMBED_DIM", "[8, 16, 32, 64]", "UNIFORMER.DEPTH", "[1, 1, 1, 1]", "UNIFORMER.HEAD_DIM", "16",
        "UNIFORMER.ATTN_MAX_DISP", "[3, 3]", "MODEL.NUM_CLASSES", "8", "TEST.DATASET", "sth", "DATA.NUM_FRAMES", "8",
        "DATA.TEST_CROP_SIZE", "64", "TEST.NUM_ENSEMBLE_VIEWS", "3", "TEST.NUM_SPATIAL_CROPS", "1"])
    (root / "config.yaml").write_text(cfg.dump())
    torch.manual_seed(1)  # not the untrained floor model (seeded by RNG_SEED = 0)
    torch.save({"model_state": build_model(cfg).state_dict()}, root / "model.pyth")
    # Fixture ground truth in the motion_<split>.json format: the object drifts right through the centre.
    centre = [[32.0 + 1.5 * t, 32.0] for t in range(16)]
    videos = [{"index": i, "video": f"videos/test/{i:06d}.mp4", "label": 1, "class": "move_right",
               "velocity": [1.5, 0.0], "angular_velocity": 0.0, "growth": 0.0, "camera_velocity": [0.0, 0.0],
               "centre": centre, "radius": [20.0] * 16} for i in range(2)]
    (data / "truth.json").write_text(json.dumps({"version": 2, "size": 64, "num_frames": 16, "fps": 30, "tier": "x",
                                                 "classes": ["move_left", "move_right"], "videos": videos}))
    return {"root": root, "data": data, "cfg": cfg}


def test_centre_view_frames_are_the_sampled_frames(motion_data):
    path = str(motion_data["data"] / "videos" / "test" / "000001.mp4")
    view = centre_view(motion_data["cfg"], path)
    assert view.frame_indices == [0, 2, 4, 6, 8, 9, 11, 13]  # round(1.875 i) + int(1.875 / 2), segment_indices
    video = open_video(path, "decord")
    expected = EvalTransform(motion_data["cfg"])(video.get_frames(view.frame_indices), 1)
    torch.testing.assert_close(view.clip, expected)
    assert view.frame_size == (64, 64)


def test_tool_writes_png_per_layer_and_gif_and_prints_accuracy(motion_data, capsys):
    root, out = motion_data["root"], motion_data["root"] / "vis"
    status = visualize_motion.main(["--cfg", str(root / "config.yaml"), "--checkpoint", str(root / "model.pyth"),
                                    "--out", str(out), "--ground-truth", str(motion_data["data"] / "truth.json"),
                                    "--device", "cpu"])
    assert status == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[:3] == [f"wrote {out / name}" for name in ("blocks3.0.png", "blocks4.0.png", "motion.gif")]
    for name in ("blocks3.0.png", "blocks4.0.png"):
        with Image.open(out / name) as png:
            png.verify()
            assert png.format == "PNG"
    with Image.open(out / "motion.gif") as gif:
        assert gif.format == "GIF" and gif.is_animated and gif.n_frames == 7  # 8 token frames, 7 pairs
    accuracy = json.loads((out / "accuracy.json").read_text())
    assert accuracy["videos"] == 2
    for model in ("checkpoint", "untrained"):
        line = next(p for p in printed if p.strip().startswith(model))
        for layer, result in accuracy[model].items():
            assert 0 < result["tokens"] and f"{layer} {100 * result['accuracy']:.1f}% ({result['tokens']})" in line


def test_generator_ground_truth_loads_and_its_centre_track_follows_the_velocity(motion_data):
    path = motion_data["data"] / "motion_test.json"
    if not path.exists():
        pytest.skip("this motion_synth does not write motion_<split>.json yet")
    header, motions = load_ground_truth(str(path))
    assert header["num_frames"] == 16 and len(motions) == 2
    for motion in motions:
        for t in range(15):  # the centre moves by the displacement at the centre (rotation and growth add 0)
            step = motion.relative(t, motion.centre[t + 1][None])[0]
            np.testing.assert_allclose(step, motion.displacement(t, motion.centre[t][None])[0], atol=1e-6)
