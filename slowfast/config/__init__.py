from .defaults import assert_and_infer_cfg, attention_layer_names, get_cfg
from .errors import ConfigError, RunFailure, UserError, exit_on_user_error
from .load import load_config

__all__ = ["ConfigError", "RunFailure", "UserError", "assert_and_infer_cfg", "attention_layer_names",
           "exit_on_user_error", "get_cfg", "load_config"]
