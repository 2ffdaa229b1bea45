"""Timing of the recipe's training step under the PERF levers, for tools/bench_model.py.

One step is `Trainer.run_step`, the loop's own: the clip to the device, Mixup where the config enables it,
the forward and loss under TRAIN.MIXED_PRECISION's autocast, the loss scaler, backward, gradient clipping,
the optimiser step. The model comes from `setup_model`, so each lever acts through its config key
(docs/config.md, PERF): `cudnn` PERF.CUDNN_BENCHMARK, `cl` PERF.CHANNELS_LAST, `linear`
PERF.POINTWISE_AS_LINEAR, `compile` PERF.COMPILE. A lever set is written "none" (all off: the step as it was
before these keys), "cfg" (the config's own values) or names joined by "+" ("cudnn+cl"; the others off).

FLOPs (`train_step_flops`): fvcore's count of the model's forward on one clip (`slowfast.utils.complexity`:
every convolution, matmul and attention, the EMIM op as its window work), which counts a multiply-add as 1;
here x2 (a multiply-add = 2 FLOPs) and x3 for forward + backward (the backward is two matmuls per forward
one). Recomputation under gradient checkpointing is not counted. MFU = those FLOPs per second over the
device's dense bf16 tensor-core peak (`peak_tflops`, a datasheet table by device name).
"""

import gc
import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from slowfast.models import build_model
from slowfast.models.layers import BatchNorm3d
from slowfast.utils.complexity import clip_flops

from .launch import grad_scaler, setup_model
from .losses import SoftTargetCrossEntropy, build_loss
from .optimizer import LRScheduler, construct_optimizer
from .performance import apply_backend_flags
from .trainer import Trainer, build_mixup

LEVERS = {"cudnn": "PERF.CUDNN_BENCHMARK", "cl": "PERF.CHANNELS_LAST", "linear": "PERF.POINTWISE_AS_LINEAR",
          "compile": "PERF.COMPILE"}
PRECISIONS = {"fp32": ["TRAIN.MIXED_PRECISION", "False"],
              "bf16": ["TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "bfloat16"],
              "fp16": ["TRAIN.MIXED_PRECISION", "True", "TRAIN.MIXED_PRECISION_DTYPE", "float16"]}
# Dense (no sparsity) bf16/fp16 tensor-core peak in TFLOP/s from the vendors' datasheets, by the first name
# fragment the device's name contains (NVIDIA H200/H100 SXM: 989.4; H100 NVL 835.5; H100 PCIe 756; A100 312;
# L40S 362.1; L4 121; A10 125).
BF16_PEAK_TFLOPS = (("H200", 989.4), ("H100 NVL", 835.5), ("H100 PCIe", 756.0), ("H100", 989.4), ("A100", 312.0),
                    ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0))


def lever_overrides(levers: str) -> list[str]:
    """KEY VALUE overrides of a lever set: "none", "cfg" or lever names joined by "+"."""
    if levers == "cfg":
        return []
    names = [] if levers == "none" else levers.split("+")
    unknown = sorted(set(names) - set(LEVERS))
    if unknown:
        raise ValueError(f"lever set {levers!r}: unknown {unknown}; levers are {sorted(LEVERS)}, or none / cfg")
    return [item for name, key in LEVERS.items() for item in (key, str(name in names))]


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    """(dense bf16 peak TFLOP/s, where it came from) of a CUDA device; (None, why) elsewhere."""
    if device.type != "cuda":
        return None, "no peak table for the CPU"
    name = torch.cuda.get_device_name(device)
    for fragment, tflops in BF16_PEAK_TFLOPS:
        if fragment in name:
            return tflops, f"datasheet dense bf16 peak of {fragment}"
    return None, f"{name} is not in the datasheet table (slowfast/engine/step_bench.py)"


def train_step_flops(cfg) -> int:
    """FLOPs of one training clip (forward + backward, a multiply-add = 2) at DATA.NUM_FRAMES x
    TRAIN_CROP_SIZE^2, counted by fvcore on the CPU with the compiled EMIM op (one countable node)."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.UNIFORMER.EMIM_BACKEND, cfg.PERF.POINTWISE_AS_LINEAR, cfg.PERF.CHANNELS_LAST = "cpu", False, False
    crop = cfg.DATA.TRAIN_CROP_SIZE
    forward, _ = clip_flops(build_model(cfg), torch.zeros(1, 3, cfg.DATA.NUM_FRAMES, crop, crop))
    return 2 * 3 * forward


@dataclass
class Measured:
    """Fastest step (s, wall clock) of the timed ones, the fewest CPU seconds of this process in one (every
    thread: on a shared CPU the work done, whatever else runs), peak device memory (GiB, CUDA only) and the
    error, if any."""

    step_s: float | None = None
    cpu_s: float | None = None
    peak_gib: float | None = None
    error: str | None = None


def build_trainer(cfg, plain_bn: bool = False) -> Trainer:
    """A Trainer of the config's model, optimiser, schedule, scaler, loss and Mixup, as `train` builds them
    (no data, hooks or stats). `plain_bn`: torch's nn.BatchNorm3d in place of slowfast's channels-last one."""
    apply_backend_flags(cfg)
    model, runtime = setup_model(cfg)
    if plain_bn:
        for m in model.modules():
            if isinstance(m, BatchNorm3d):
                m.__class__ = nn.BatchNorm3d  # same parameters and buffers, torch's own forward
    optimizer = construct_optimizer(model, cfg.SOLVER)
    mixup = build_mixup(cfg)
    loss_fn = SoftTargetCrossEntropy() if mixup is not None else build_loss(cfg.MODEL.LOSS_FUNC)
    return Trainer(model=model, loader=None, optimizer=optimizer, scheduler=LRScheduler(optimizer, cfg.SOLVER, 1000),
                   scaler=grad_scaler(cfg, runtime.device), loss_fn=loss_fn, runtime=runtime, stats=None,
                   clip_gradient=cfg.SOLVER.CLIP_GRADIENT, mixup=mixup)


def synthetic_batch(cfg, batch: int, device: torch.device) -> tuple:
    """A loader batch of random clips [batch, 3, T, crop, crop] (in pinned host memory for a GPU, as the
    loader's PIN_MEMORY gives) and random labels."""
    crop = cfg.DATA.TRAIN_CROP_SIZE
    generator = torch.Generator().manual_seed(0)
    clip = torch.randn(batch, 3, cfg.DATA.NUM_FRAMES, crop, crop, generator=generator)
    labels = torch.randint(0, cfg.MODEL.NUM_CLASSES, (batch,), generator=generator)
    if device.type == "cuda":
        clip, labels = clip.pin_memory(), labels.pin_memory()
    return [clip], labels, None, None


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _release(device: torch.device) -> None:
    gc.collect()
    torch._dynamo.reset()  # compiled graphs of the last model, and its recompilation counts
    if device.type == "cuda":
        torch.cuda.empty_cache()


def measure(cfg, batch: int, reps: int, warmup: int, plain_bn: bool = False) -> Measured:
    """The fastest of `reps` training steps after `warmup` untimed ones (cuDNN's search, compilation);
    an out-of-memory or other runtime error is returned, not raised, so that the other rows still run."""
    device = torch.device("cuda") if cfg.NUM_GPUS > 0 and torch.cuda.is_available() else torch.device("cpu")
    out, trainer = Measured(), None
    try:
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        trainer = build_trainer(cfg, plain_bn)
        data = synthetic_batch(cfg, batch, device)
        times, cpu_times = [], []
        for i in range(warmup + reps):
            _sync(device)
            start, cpu = time.perf_counter(), time.process_time()
            trainer.run_step(data)
            _sync(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
                cpu_times.append(time.process_time() - cpu)
        out.step_s, out.cpu_s = min(times), min(cpu_times)
        if device.type == "cuda":
            out.peak_gib = torch.cuda.max_memory_allocated(device) / 2**30
    except torch.OutOfMemoryError:
        out.error = "out of memory"
    except (RuntimeError, FloatingPointError) as err:  # e.g. a kernel without this dtype
        out.error = str(err).strip().splitlines()[0][:200]
    del trainer
    _release(device)
    return out


def profile_step(cfg, batch: int, top: int, warmup: int = 2) -> list[dict]:
    """The `top` kernels (CUDA) or operators (CPU) by self time in one profiled training step after `warmup`
    steps: name, self milliseconds, calls, share of the step's total self time (%)."""
    from torch.profiler import ProfilerActivity, profile

    trainer = build_trainer(cfg)
    device = trainer.runtime.device
    data = synthetic_batch(cfg, batch, device)
    for _ in range(warmup):
        trainer.run_step(data)
    _sync(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with profile(activities=activities) as prof:
        trainer.run_step(data)
        _sync(device)
    events = prof.key_averages()
    cuda = device.type == "cuda"

    def self_us(e) -> float:
        if cuda:
            return getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0.0)
        return e.self_cpu_time_total

    rows = [e for e in events if self_us(e) > 0 and (not cuda or e.device_type == torch.autograd.DeviceType.CUDA)]
    total = sum(self_us(e) for e in rows) or 1.0
    rows.sort(key=self_us, reverse=True)
    del trainer
    _release(device)
    return [{"name": e.key, "self_ms": self_us(e) / 1e3, "calls": e.count, "share_pct": 100 * self_us(e) / total}
            for e in rows[:top]]

