"""Config loading: released key names work, bad input stops with an error naming key and allowed values."""

import pytest
from conftest import DATA
from fvcore.common.config import CfgNode
from tiny_cfg import tiny_cfg

from slowfast.config import get_cfg, load_config
from slowfast.models import build_model


def test_defaults_pass_checks():
    cfg = load_config(None, [])
    assert cfg.UNIFORMER.EMIM_RELEASED_KERNEL is False
    assert cfg.UNIFORMER.CONTINUOUS_ATTN == "lg"


@pytest.mark.parametrize(
    "opts, match",
    [
        (["UNIFORMER.ATTN_MAX_DISP", "[6, 7]"], r"UNIFORMER.ATTN_MAX_DISP: got \[6, 7\]; allowed: odd"),
        (["UNIFORMER.HEAD_DIM", "48"], r"UNIFORMER.HEAD_DIM: got 48; allowed: a positive divisor"),
        (["UNIFORMER.ATTN_TYPE", "['emim']"], r"UNIFORMER.ATTN_TYPE: got \['emim'\]; allowed: a list of 2"),
        (["UNIFORMER.ATTN_TYPE", "['emim', 'natten']"], "UNIFORMER.ATTN_TYPE.*allowed: two of"),
        (["UNIFORMER.ATTN_LAYERS", "[['emim']]"], r"UNIFORMER.ATTN_LAYERS: got \[\['emim'\]\]; allowed: \[\] or two"),
        (["UNIFORMER.ATTN_LAYERS", "[['emim'], []]"], "UNIFORMER.ATTN_LAYERS.*two non-empty lists"),
        (["UNIFORMER.ATTN_LAYERS", "[['emim'], ['']]"], "UNIFORMER.ATTN_LAYERS.*attention type names"),
        (["UNIFORMER.ATTN_LAYERS", "[['emim'], ['emim']]", "UNIFORMER.ATTN_TYPE", "['global', 'emim']"],
         r"UNIFORMER.ATTN_LAYERS \(\[\['emim'\], \['emim'\]\]\) and the released ATTN_TYPE.*set one of them"),
        (["UNIFORMER.ATTN_LAYERS", "[['global'], ['global']]", "UNIFORMER.CONTINUOUS_ATTN", "l"],
         r"CONTINUOUS_ATTN \('l'\) both place attention types"),
        (["AUG.RE_SPLIT", "True"], "AUG.RE_SPLIT: got True; allowed: False"),
        (["DATA.INPUT_CHANNEL_NUM", "[3, 3]"], r"DATA.INPUT_CHANNEL_NUM: got \[3, 3\]; allowed: \[3\]"),
        (["UNIFORMER.ATTN_MAX_DISP", "[7, 7, 7]"], "a list of 2 entries"),
        (["UNIFORMER.CONTINUOUS_ATTN", "lx"], "UNIFORMER.CONTINUOUS_ATTN: got 'lx'"),
        (["UNIFORMER.EMIM_BACKEND", "triton"], "UNIFORMER.EMIM_BACKEND: got 'triton'; allowed: '', 'torch'"),
        (["UNIFORMER.SPLIT", "True"], "UNIFORMER.SPLIT: got True; allowed: False"),
        (["MODEL.CHECKPOINT_NUM", "[0, 0, 9, 0]"], "MODEL.CHECKPOINT_NUM.*stage 2: 0..8"),
        (["DATA.DECODING_BACKEND", "opencv"], "DATA.DECODING_BACKEND: got 'opencv'"),
        (["UNIFORMER.FOO", "1"], "command-line override UNIFORMER.FOO 1: unknown config key UNIFORMER.FOO; "
                                 "keys in UNIFORMER: ATTENTION_DROPOUT_RATE"),
        (["DATA.NUM_FRAMES", "abc"], "command-line override DATA.NUM_FRAMES abc: Type mismatch"),
        (["DATA.NUM_FRAMES"], "KEY VALUE pairs"),
        (["UNIFORMER.ATTN_MAX_DIPS", "[7, 7]"], "did you mean ATTN_MAX_DISP"),
    ],
)
def test_bad_values_name_key_and_allowed_values(opts, match):
    with pytest.raises(ValueError, match=match):
        load_config(None, opts)


@pytest.mark.parametrize("opts", [["DATA.NUM_FRAMES", "1"],
                                  ["UNIFORMER.STEM_TEMPORAL_STRIDE", "2", "DATA.NUM_FRAMES", "2"]])
def test_emim_with_one_token_frame_is_refused_where_the_model_is_built(opts):
    """EmimAttention declares that it pairs frames; the registry lives above the config, so the model checks."""
    cfg = load_config(None, opts)
    with pytest.raises(ValueError, match=r"DATA.NUM_FRAMES: got \d; attention type 'emim' \(stage 3\) needs >= 2 "
                                         r"token frames, NUM_FRAMES / UNIFORMER.STEM_TEMPORAL_STRIDE = 1"):
        build_model(cfg)


def test_global_attention_allows_one_frame():
    cfg = load_config(None, ["DATA.NUM_FRAMES", "1", "UNIFORMER.ATTN_TYPE", "['global', 'global']"])
    assert cfg.DATA.NUM_FRAMES == 1
    build_model(cfg)


def test_released_keys_that_place_the_defaults_do_not_conflict_with_attn_layers():
    """extra_attn64 with 'lglg' places what the defaults place, so ATTN_LAYERS may be set over it."""
    cfg = load_config(None, ["UNIFORMER.ATTN_TYPE", "['extra_attn64', 'extra_attn128']", "UNIFORMER.CONTINUOUS_ATTN",
                             "lglg", "UNIFORMER.ATTN_LAYERS", "[['global'], ['global']]"])
    assert cfg.UNIFORMER.ATTN_LAYERS == [["global"], ["global"]]


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("UNIFORMER:\n  ATTN_MAX_DISP: [7, 7]\n  NOT_A_KEY: 3\n")
    with pytest.raises(ValueError, match=f"{path}: unknown config key UNIFORMER.NOT_A_KEY"):
        load_config(str(path))
    path.write_text("UNIFORMER:\n  ATTN_MAX_DISP: [4, 7]\n")
    with pytest.raises(ValueError, match=f"{path} \\+ overrides: config key UNIFORMER.ATTN_MAX_DISP"):
        load_config(str(path))


def test_released_value_forms_load(tmp_path):
    # The released YAMLs write floats as '1e-6' strings and repeat keys; both must load.
    path = tmp_path / "released.yaml"
    path.write_text("SOLVER:\n  COSINE_END_LR: '1e-6'\n  COSINE_AFTER_WARMUP: True\n  COSINE_AFTER_WARMUP: True\n"
                    "DATA:\n  MC: True\n  THREAD: False\n  PATH_LABEL_SEPARATOR: ','\n")
    cfg = load_config(str(path), ["OUTPUT_DIR", "$work_path/${SLURM_JOB_ID}"])
    assert cfg.SOLVER.COSINE_END_LR == 1e-6
    assert cfg.OUTPUT_DIR == "$work_path/${SLURM_JOB_ID}"


def test_lr_scales_with_shards_only_when_asked():
    assert load_config(None, ["SOLVER.BASE_LR", "0.1", "NUM_SHARDS", "4"]).SOLVER.BASE_LR == 0.1
    scaled = load_config(None, ["SOLVER.BASE_LR", "0.1", "NUM_SHARDS", "4", "SOLVER.BASE_LR_SCALE_NUM_SHARDS", "True"])
    assert scaled.SOLVER.BASE_LR == pytest.approx(0.4)


def test_frozen_after_load():
    cfg = tiny_cfg()
    with pytest.raises(AttributeError):
        cfg.DATA.NUM_FRAMES = 3
    assert get_cfg().DATA.NUM_FRAMES == 8  # defaults untouched


def test_ints_widen_to_float_keys(tmp_path):
    # The released YAMLs write MLP_RATIO: 4 and DROPOUT_RATE: 0 for float keys.
    path = tmp_path / "ints.yaml"
    path.write_text("UNIFORMER:\n  MLP_RATIO: 4\n  DROPOUT_RATE: 0\nDATA:\n  MEAN: [0, 0, 1]\n")
    cfg = load_config(str(path), ["SOLVER.WARMUP_EPOCHS", "5"])
    assert type(cfg.UNIFORMER.MLP_RATIO) is float and cfg.UNIFORMER.MLP_RATIO == 4.0
    assert cfg.DATA.MEAN == [0.0, 0.0, 1.0] and type(cfg.DATA.MEAN[0]) is float
    assert type(cfg.SOLVER.WARMUP_EPOCHS) is float
    with pytest.raises(ValueError, match="UNIFORMER.HEAD_DIM"):
        load_config(None, ["UNIFORMER.HEAD_DIM", "64.5"])  # floats never narrow to int keys


def test_every_merge_widens_ints_and_never_narrows():
    cfg = get_cfg()
    cfg.merge_from_other_cfg(CfgNode({"UNIFORMER": {"MLP_RATIO": 3}, "DATA": {"MEAN": [0, 1, 0]}}))
    cfg.merge_from_list(["SOLVER.WARMUP_EPOCHS", "5", "UNIFORMER.DROPOUT_RATE", 0])
    assert (cfg.UNIFORMER.MLP_RATIO, cfg.DATA.MEAN, cfg.SOLVER.WARMUP_EPOCHS, cfg.UNIFORMER.DROPOUT_RATE) == (
        3.0, [0.0, 1.0, 0.0], 5.0, 0.0)
    assert all(type(v) is float for v in (cfg.UNIFORMER.MLP_RATIO, cfg.DATA.MEAN[0], cfg.SOLVER.WARMUP_EPOCHS,
                                          cfg.UNIFORMER.DROPOUT_RATE))
    with pytest.raises(ValueError, match="Type mismatch"):
        cfg.merge_from_list(["UNIFORMER.HEAD_DIM", "64.0"])
    with pytest.raises(AssertionError, match="Non-existent key: UNIFORMER.NOPE"):
        cfg.merge_from_list(["UNIFORMER.NOPE", "1"])


def _released_runs():
    root = DATA / "released_configs"
    for recipe in sorted(root.iterdir()):
        for yaml_name, overrides in (("config.yaml", "run_overrides.txt"), ("test.yaml", "test_overrides.txt")):
            yield pytest.param(recipe / yaml_name, recipe / overrides, id=f"{recipe.name[:40]}-{yaml_name}")


def _overrides(path):
    """The KEY VALUE pairs a released run.sh/test.sh passes, one pair a line (values may contain spaces)."""
    opts = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split(" ", 1)
            opts += [key, value]
    return opts


@pytest.mark.parametrize("yaml_path, overrides", list(_released_runs()))
def test_released_configs_load_with_fvcore_merges_as_with_load_config(yaml_path, overrides):
    """SlowFast scripts call get_cfg() then fvcore's own merge_from_file / merge_from_list."""
    cfg = get_cfg()
    cfg.merge_from_file(str(yaml_path))
    cfg.merge_from_list(_overrides(overrides))
    assert type(cfg.UNIFORMER.MLP_RATIO) is float and cfg.UNIFORMER.MLP_RATIO == 4.0  # the YAMLs write 4
    assert cfg == load_config(str(yaml_path), _overrides(overrides))  # before the cross-key checks, same values


@pytest.mark.parametrize("yaml_path, overrides", list(_released_runs()))
def test_released_configs_and_their_overrides_load_and_build(yaml_path, overrides):
    cfg = load_config(str(yaml_path), _overrides(overrides))
    assert cfg.UNIFORMER.ATTN_TYPE[0] in ("extra_attn64", "extra_attn128")
    model = build_model(cfg)
    heads = cfg.UNIFORMER.EMBED_DIM[2] // cfg.UNIFORMER.HEAD_DIM
    assert model.blocks3[0].attn.rpb.shape == (heads, 7, 7)
    assert model.head.out_features == cfg.MODEL.NUM_CLASSES
