from .defaults import assert_and_infer_cfg, get_cfg, uses_emim
from .load import load_config

__all__ = ["assert_and_infer_cfg", "get_cfg", "load_config", "uses_emim"]
