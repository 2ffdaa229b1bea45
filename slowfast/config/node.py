"""The project's CfgNode: every merge widens ints to floats where the key holds a float.

The released YAMLs write `MLP_RATIO: 4` and `DROPOUT_RATE: 0` for float keys, which fvcore's type check
refuses; with this node `cfg.merge_from_file(path)` (fvcore's own method, as SlowFast scripts call it),
`merge_from_list` and `merge_from_other_cfg` accept them, and `load_config` uses those same merges.
Floats never narrow to int keys.
"""

from fvcore.common.config import CfgNode as _FvcoreCfgNode


class CfgNode(_FvcoreCfgNode):
    """fvcore's CfgNode whose merges turn an int into a float where the current value is a float."""

    def merge_from_other_cfg(self, cfg_other):
        """Merge `cfg_other` (a CfgNode or nested dict; also the path of `merge_from_file`) into this node."""
        return super().merge_from_other_cfg(type(self)(_widen_ints(cfg_other, self)))

    def merge_from_list(self, cfg_list):
        """Merge [KEY, VALUE, ...] pairs (values as strings from a command line, or Python values)."""
        widened = list(cfg_list)
        for i in range(1, len(widened), 2):
            widened[i] = _widen_ints(self._decode_cfg_value(widened[i]), _lookup(self, widened[i - 1]))
        return super().merge_from_list(widened)


def _widen_ints(value, current):
    """`value` with ints turned into floats where `current` holds floats (nested dicts and lists alike)."""
    if isinstance(value, dict) and isinstance(current, dict):
        return {k: _widen_ints(v, current.get(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and isinstance(current, (list, tuple)) and current:
        return type(value)(_widen_ints(v, current[0]) for v in value)
    if type(value) is int and type(current) is float:
        return float(value)
    return value


def _lookup(cfg: _FvcoreCfgNode, key: str):
    """The value at dotted `key`, or None where the key does not exist."""
    node = cfg
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
