"""Python face of the compiled EMIM kernels in `slowfast._C` (filled in by the kernels work)."""

import importlib


def load_error(device_type: str) -> str | None:
    """None if the compiled kernels can run on `device_type`, else why not."""
    try:
        importlib.import_module("slowfast._C")
    except ImportError as err:
        return f"slowfast._C is not built ({err}); run `make install`"
    return f"slowfast._C has no EMIM kernel for {device_type}"


def emim_attention_ext(q, k, v, rpb, scale):
    raise RuntimeError(load_error(q.device.type))
