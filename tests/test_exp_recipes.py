"""The published recipes as diffs on configs/ bases: each exp/emim_*/config.yaml is a `_BASE_` plus what makes it
itself, merges to exactly the config it had as a full copy (tests/data/merged_recipes/<name>.yaml, the
`cfg.dump()` of the full copies), and states the released configs' numbers that tests/test_exp_configs.py does
not already check (optimiser, augmentation, data, pre-training, checkpointed stages).

After a deliberate change to a default or a recipe, rewrite the references with
`.venv/bin/python tests/test_exp_recipes.py --write` and review `git diff tests/data/merged_recipes`.
"""

import pathlib
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from slowfast.config import load_config  # noqa: E402

MERGED = REPO / "tests" / "data" / "merged_recipes"
MAX_RECIPE_LINES = 40

# The released configs, beyond tests/test_exp_configs.py's table: data set, pre-training and the blocks whose
# activations are recomputed (B at 32 frames: stage 3, and stages 1-2 for K400; b16 K400: stage 3).
# name: (NUM_CLASSES, label list, frame file name, PRETRAIN_NAME, CHECKPOINT_NUM or None)
SPEC_DATA = {
    "emim_s16_sthv1_in1k": (174, "somethingv1_rgb_{}.txt", "{:05d}.jpg", "uniformer_small_in1k", None),
    "emim_s16_sthv1_k400": (174, "somethingv1_rgb_{}.txt", "{:05d}.jpg", "uniformer_small_k400", None),
    "emim_s16_sthv2_k400": (174, "somethingv2_rgb_{}.txt", "img_{:05d}.jpg", "uniformer_small_k400", None),
    "emim_b16_sthv2_k400": (174, "somethingv2_rgb_{}.txt", "img_{:05d}.jpg", "uniformer_base_k400", None),
    "emim_b32_sthv1_k400": (174, "somethingv1_rgb_{}.txt", "{:05d}.jpg", "uniformer_base_k400", [0, 0, 20, 0]),
    "emim_b32_sthv2_k400": (174, "somethingv2_rgb_{}.txt", "img_{:05d}.jpg", "uniformer_base_k400", [0, 0, 20, 0]),
    "emim_s16_k400_in1k": (400, None, None, "uniformer_small_in1k", None),
    "emim_b16_k400_in1k": (400, None, None, "uniformer_base_in1k", [0, 0, 20, 0]),
    "emim_b32_k400_in1k": (400, None, None, "uniformer_base_in1k", [5, 8, 20, 0]),
}
RECIPES = sorted(SPEC_DATA)  # the nine published recipes; other exp/ folders (ablations, demos) are not checked here


def _flat(node, prefix=""):
    """{"SECTION.KEY": value} with tuples as lists, so a YAML dump and a loaded CfgNode compare."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
    return out


def _differences(expected: dict, actual: dict) -> list[str]:
    """Every key that is missing, extra, or different in value or type (4 vs 4.0 counts)."""
    lines = [f"{k}: missing (reference {expected[k]!r})" for k in sorted(expected.keys() - actual.keys())]
    lines += [f"{k}: not in the reference (now {actual[k]!r})" for k in sorted(actual.keys() - expected.keys())]
    for key in sorted(expected.keys() & actual.keys()):
        want, got = expected[key], actual[key]
        if want != got or type(want) is not type(got):
            lines.append(f"{key}: reference {want!r}, now {got!r}")
    return lines


def test_every_published_recipe_has_a_reference():
    assert len(RECIPES) == 9 and all((REPO / "exp" / name / "config.yaml").is_file() for name in RECIPES)
    assert sorted(p.stem for p in MERGED.glob("*.yaml")) == RECIPES


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_merges_to_its_reference(name):
    expected = _flat(yaml.safe_load((MERGED / f"{name}.yaml").read_text()))
    actual = _flat(load_config(str(REPO / "exp" / name / "config.yaml")))
    diff = _differences(expected, actual)
    assert not diff, f"exp/{name} no longer merges to {MERGED.name}/{name}.yaml:\n  " + "\n  ".join(diff)


def test_differences_reports_changed_missing_and_retyped_keys():
    expected = {"A.X": 1.0, "A.Y": [1, 2], "B": "s"}
    assert _differences(expected, dict(expected)) == []
    assert _differences(expected, {"A.X": 1, "A.Y": [1, 3], "C": 0}) == [
        "B: missing (reference 's')", "C: not in the reference (now 0)", "A.X: reference 1.0, now 1",
        "A.Y: reference [1, 2], now [1, 3]"]


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_is_a_short_diff_on_a_base(name):
    lines = (REPO / "exp" / name / "config.yaml").read_text().splitlines()
    assert len(lines) <= MAX_RECIPE_LINES, f"exp/{name}/config.yaml has {len(lines)} lines"
    assert lines[0].startswith("# EMIM UniFormer-"), "the recipe opens with a comment saying what it is"
    base = yaml.safe_load("\n".join(lines))["_BASE_"]
    assert base.startswith("../../configs/") and (REPO / "exp" / name / base).resolve().is_file()


def test_bases_chain_to_files_in_configs():
    for path in (REPO / "configs").glob("*.yaml"):
        base = yaml.safe_load(path.read_text()).get("_BASE_")
        if base is not None:
            assert (path.parent / base).resolve().parent == path.parent, f"{path.name}: _BASE_ {base}"


@pytest.mark.parametrize("name", RECIPES)
def test_recipe_states_the_published_setting(name):
    classes, label_list, frame_file, pretrain, checkpointed = SPEC_DATA[name]
    cfg = load_config(str(REPO / "exp" / name / "config.yaml"))
    # Section 6 heading: AdamW, cosine after warm-up, mixup 0.8 / cutmix 1.0, RandAugment, random erasing 0.25.
    assert (cfg.SOLVER.OPTIMIZING_METHOD, cfg.SOLVER.LR_POLICY, cfg.SOLVER.COSINE_AFTER_WARMUP) == ("adamw", "cosine",
                                                                                                    True)
    assert cfg.SOLVER.ZERO_WD_1D_PARAM and not cfg.SOLVER.BASE_LR_SCALE_NUM_SHARDS  # lr is for the global batch
    assert (cfg.MIXUP.ALPHA, cfg.MIXUP.CUTMIX_ALPHA, cfg.MIXUP.PROB) == (0.8, 1.0, 1.0)
    assert cfg.MODEL.LOSS_FUNC == "soft_cross_entropy"
    assert cfg.AUG.ENABLE and cfg.AUG.AA_TYPE == "rand-m7-n4-mstd0.5-inc1"
    assert (cfg.AUG.RE_PROB, cfg.AUG.RE_MODE, cfg.AUG.RE_COUNT) == (0.25, "pixel", 1)
    # Train crop: scale jitter relative 0.08-1, aspect 3/4-4/3; "x4" sampling; EMIM in stages 3 and 4.
    assert cfg.DATA.TRAIN_JITTER_SCALES_RELATIVE == [0.08, 1.0]
    assert cfg.DATA.TRAIN_JITTER_ASPECT_RELATIVE == [0.75, 1.3333]
    assert cfg.DATA.SAMPLING_RATE == 4 and cfg.UNIFORMER.ATTN_TYPE == ["emim", "emim"]
    assert cfg.UNIFORMER.EMBED_DIM == [64, 128, 320, 512] and cfg.UNIFORMER.HEAD_DIM == 64
    # Data set and pre-training.
    assert cfg.MODEL.NUM_CLASSES == classes and cfg.UNIFORMER.PRETRAIN_NAME == pretrain
    if label_list is None:  # Kinetics-400: videos decoded at 30 fps
        assert (cfg.TRAIN.DATASET, cfg.TEST.DATASET, cfg.TEST.SPLIT) == ("kinetics", "kinetics", "test")
        assert cfg.DATA.DECODING_BACKEND == "decord" and cfg.DATA.TARGET_FPS == 30
    else:  # Something-Something: extracted frames, tested on the labelled val list
        assert (cfg.TRAIN.DATASET, cfg.TEST.DATASET, cfg.TEST.SPLIT) == ("sth", "sth", "val")
        assert (cfg.DATA.LABEL_PATH_TEMPLATE, cfg.DATA.IMAGE_TEMPLATE) == (label_list, frame_file)
    assert cfg.MODEL.CHECKPOINT_NUM == (checkpointed or [0, 0, 0, 0])


# Diving48 is not in the paper (arXiv 2510.18705): exp/emim_s16_diving48_k400 is the published s16 SSv2 K400 recipe
# with only these data keys changed (configs/diving48.yaml, docs/design_choices.md); the frame-file keys
# LABEL_PATH_TEMPLATE / IMAGE_TEMPLATE are left at their defaults, which a video list does not read.
DIVING48_CHANGES = {"TRAIN.DATASET": "diving48", "TEST.DATASET": "diving48", "TEST.SPLIT": "test",
                    "MODEL.NUM_CLASSES": 48, "DATA.RANDOM_FLIP": True}


def test_diving48_recipe_is_the_closest_published_one_with_its_data_keys_changed():
    published = _flat(load_config(str(REPO / "exp" / "emim_s16_sthv2_k400" / "config.yaml")))
    diving48 = _flat(load_config(str(REPO / "exp" / "emim_s16_diving48_k400" / "config.yaml")))
    frame_keys = {"DATA.LABEL_PATH_TEMPLATE", "DATA.IMAGE_TEMPLATE"}
    changed = {key: diving48[key] for key in published if key not in frame_keys and published[key] != diving48[key]}
    assert changed == DIVING48_CHANGES and diving48.keys() == published.keys()
    lines = (REPO / "exp" / "emim_s16_diving48_k400" / "config.yaml").read_text().splitlines()
    assert lines[0].startswith("# EMIM UniFormer-S, 16 frames, Diving48") and "Not a published" in lines[0] + lines[1]


def write_references() -> None:
    """Dump every recipe's merged config into tests/data/merged_recipes (run by hand; see the module doc)."""
    MERGED.mkdir(parents=True, exist_ok=True)
    for name in RECIPES:
        cfg = load_config(str(REPO / "exp" / name / "config.yaml"))
        header = f"# Merged config of exp/{name}/config.yaml (load_config, no overrides); tests/test_exp_recipes.py\n"
        (MERGED / f"{name}.yaml").write_text(header + cfg.dump())


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write   (rewrite {MERGED.relative_to(REPO)}/*.yaml from exp/)")
    write_references()
