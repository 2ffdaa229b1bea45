"""Configs of tiny UniFormers (widths 16-128, 1-4 blocks per stage) for tests and device smoke checks:
the models whose state-dict keys are in tests/data/tiny_state_dict_keys.json, the layout of the released
checkpoints at a size that trains in seconds on a CPU."""

from .load import load_config

TINY_BASE = ["UNIFORMER.EMBED_DIM", "[16, 32, 64, 128]", "MODEL.NUM_CLASSES", "10",
             "UNIFORMER.ATTN_TYPE", "['extra_attn64', 'extra_attn64']", "UNIFORMER.CONTINUOUS_ATTN", "lg"]
TINY = {
    "tiny_s16_emim7": ["UNIFORMER.HEAD_DIM", "16", "UNIFORMER.DEPTH", "[1, 1, 2, 2]",
                       "UNIFORMER.ATTN_MAX_DISP", "[7, 7]", "DATA.NUM_FRAMES", "16"],
    "tiny_s16_emim5_3": ["UNIFORMER.HEAD_DIM", "32", "UNIFORMER.DEPTH", "[1, 1, 4, 2]",
                         "UNIFORMER.ATTN_MAX_DISP", "[5, 3]", "DATA.NUM_FRAMES", "16"],
    "tiny_s32_emim7": ["UNIFORMER.HEAD_DIM", "16", "UNIFORMER.DEPTH", "[1, 1, 2, 2]",
                       "UNIFORMER.ATTN_MAX_DISP", "[7, 7]", "DATA.NUM_FRAMES", "32"],
}


def tiny_cfg(name: str = "tiny_s16_emim7", *overrides: str):
    """The frozen config of tiny model `name` (a key of TINY) with KEY VALUE `overrides` on top."""
    return load_config(None, TINY_BASE + TINY[name] + list(overrides))
