"""The process-wide and model-wide speed settings of the PERF config section (docs/config.md): cuDNN's
algorithm search, set once per process (`apply_backend_flags`, from `launch.run_process`), and torch.compile
of the model (`compile_model`, from `launch.setup_model`). The model's own levers (memory format, 1x1x1
convolutions as Linear layers) are set where it is built (`slowfast.models.build_model`)."""

import torch
import torch.nn as nn

from slowfast.utils.logging import get_logger

logger = get_logger(__name__)


def apply_backend_flags(cfg) -> None:
    """torch.backends.cudnn.benchmark = PERF.CUDNN_BENCHMARK for this process (no effect on the CPU)."""
    torch.backends.cudnn.benchmark = cfg.PERF.CUDNN_BENCHMARK


def compile_model(model: nn.Module, cfg) -> nn.Module:
    """`model` compiled in place with torch.compile in PERF.COMPILE_MODE when PERF.COMPILE, else unchanged.

    In place (nn.Module.compile): the module, its class and its state dict keys stay those of `model`
    (a DistributedDataParallel wrapper included, so that its gradient buckets split the compiled graph).
    The first steps, and each new input shape, pay for the compilation."""
    if cfg.PERF.COMPILE:
        logger.info("torch.compile of the model, mode %s (the first steps compile)", cfg.PERF.COMPILE_MODE)
        model.compile(mode=cfg.PERF.COMPILE_MODE)
    return model
