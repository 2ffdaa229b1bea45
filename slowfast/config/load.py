"""Build the run's config: defaults, then a YAML file, then command-line KEY VALUE pairs."""

import difflib
import re
from collections.abc import Sequence

import yaml

from .defaults import assert_and_infer_cfg, get_cfg
from .errors import ConfigError
from .node import CfgNode


def load_config(cfg_file: str | None = None, opts: Sequence[str] = ()) -> CfgNode:
    """Defaults <- `cfg_file` <- `opts` (flat KEY VALUE list), checked once and frozen.

    Any error is a `ConfigError` (a ValueError) naming the file or the command-line pair at fault.
    """
    cfg = get_cfg()
    if cfg_file:
        try:
            cfg.merge_from_file(cfg_file)
        except OSError as err:  # the file or one of its _BASE_ files
            raise ConfigError(f"{cfg_file}: cannot read {err.filename or cfg_file} ({err.strerror or err})") from None
        except yaml.YAMLError as err:
            raise ConfigError(f"{cfg_file}: not valid YAML ({' '.join(str(err).split())})") from None
        except (KeyError, ValueError, AssertionError) as err:
            raise ConfigError(f"{cfg_file}: {_message(err, cfg)}") from None
    if len(opts) % 2:
        raise ConfigError(f"command-line overrides must be KEY VALUE pairs; got an odd list {list(opts)}")
    for key, value in zip(opts[0::2], opts[1::2]):
        try:
            cfg.merge_from_list([key, value])
        except (KeyError, ValueError, AssertionError) as err:
            raise ConfigError(f"command-line override {key} {value}: {_message(err, cfg)}") from None
    try:
        assert_and_infer_cfg(cfg)
    except ValueError as err:
        raise ConfigError(f"{cfg_file or 'defaults'} + overrides: {err}") from None
    cfg.freeze()
    return cfg


def _message(err: Exception, cfg: CfgNode) -> str:
    """The library's message; for an unknown key, also the known keys of its section."""
    message = err.args[0] if err.args and isinstance(err.args[0], str) else str(err)
    unknown = re.search(r"Non-existent (?:config )?key: ([\w.]+)", message)
    if not unknown:
        return message
    *section, name = unknown.group(1).split(".")
    node = cfg
    for part in section:
        node = node.get(part, {})
    known = sorted(k for k in node if not isinstance(node[k], CfgNode)) if isinstance(node, CfgNode) else []
    close = difflib.get_close_matches(name, known, n=3)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    where = ".".join(section) or "top level"
    return f"unknown config key {unknown.group(1)}; {hint}keys in {where}: {', '.join(known)}"
