"""A tiny in-memory video dataset and loader factory for engine tests (no files, no decoding).

Items follow the data package's interface: (frames [clip [3, T, H, W]], label, index, meta) with
meta {"video_index", "view_index"}; the test split has VIEWS views per video.
"""

import contextlib
import functools
import os
import signal
import sys

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from slowfast.config import load_config
from slowfast.engine.checkpoint import unwrap
from slowfast.engine.evaluator import MultiViewEvaluator, inference
from slowfast.engine.launch import Runtime, autocast_factory, create_ddp_model, grad_scaler
from slowfast.engine.losses import build_loss
from slowfast.engine.meters import StatsWriter
from slowfast.engine.optimizer import LRScheduler, construct_optimizer
from slowfast.engine.trainer import Trainer, train
from slowfast.models import build_model
from slowfast.utils import distributed as du
from slowfast.utils.misc import seed_everything

VIEWS = 3


class TinyVideos(Dataset):
    """`videos` clips whose content is a fixed function of (video, view); label = video % classes."""

    def __init__(self, videos: int, classes: int, frames: int, size: int, views: int = 1):
        self.videos, self.classes, self.frames, self.size, self.views = videos, classes, frames, size, views

    def __len__(self) -> int:
        return self.videos * self.views

    def __getitem__(self, index: int):
        video, view = divmod(index, self.views)
        g = torch.Generator().manual_seed(1000 * video + view)
        clip = torch.randn(3, self.frames, self.size, self.size, generator=g)
        clip[0] += (video % self.classes) - self.classes / 2  # make the label learnable
        return [clip], video % self.classes, index, {"video_index": video, "view_index": view}


def tiny_loader(cfg, split: str, videos: int = 16, shuffle: bool | None = None) -> DataLoader:
    """Per-process batch = the global batch / world size; DistributedSampler when distributed."""
    train = split == "train"
    dataset = TinyVideos(videos if train else videos - 3, cfg.MODEL.NUM_CLASSES, cfg.DATA.NUM_FRAMES,
                         cfg.DATA.TRAIN_CROP_SIZE, 1 if split != "test" else VIEWS)
    batch = (cfg.TRAIN.BATCH_SIZE if train else cfg.TEST.BATCH_SIZE) // du.get_world_size()
    # Always a DistributedSampler (world 1 without a process group): its permutation depends on the seed and
    # epoch only, so a global batch of one process holds the same clips as the per-process batches of two.
    sampler = DistributedSampler(dataset, num_replicas=du.get_world_size(), rank=du.get_rank(),
                                 shuffle=train if shuffle is None else shuffle, seed=cfg.RNG_SEED)
    return DataLoader(dataset, batch_size=batch, sampler=sampler, drop_last=train, num_workers=0)


def engine_cfg(output_dir, *overrides: str):
    """A tiny UniFormer with EMIM (T = 4, 32x32 crops, 4 classes) that trains in seconds on a CPU."""
    return load_config(None, [
        "UNIFORMER.EMBED_DIM", "[8, 16, 32, 32]", "UNIFORMER.DEPTH", "[1, 1, 1, 1]", "UNIFORMER.HEAD_DIM", "16",
        "UNIFORMER.ATTN_MAX_DISP", "[3, 3]", "UNIFORMER.DROP_DEPTH_RATE", "0.0", "UNIFORMER.EMIM_BACKEND", "torch",
        "MODEL.NUM_CLASSES", "4", "DATA.NUM_FRAMES", "4", "DATA.TRAIN_CROP_SIZE", "32", "DATA.TEST_CROP_SIZE", "32",
        "TRAIN.BATCH_SIZE", "4", "TEST.BATCH_SIZE", "4", "SOLVER.BASE_LR", "1e-3", "SOLVER.MAX_EPOCH", "3",
        "SOLVER.WARMUP_EPOCHS", "1.0", "SOLVER.CLIP_GRADIENT", "1.0", "TRAIN.EVAL_PERIOD", "1",
        "TRAIN.CHECKPOINT_PERIOD", "1", "NUM_GPUS", "0", "LOG_PERIOD", "2", "DATA_LOADER.NUM_WORKERS", "0",
        "OUTPUT_DIR", str(output_dir), *overrides])


@functools.cache
def _eval_mode(cls: type[nn.BatchNorm3d]) -> type[nn.BatchNorm3d]:
    """A subclass of `cls` that stays in eval mode (running statistics) even when the model trains."""
    return type(f"EvalMode{cls.__name__}", (cls,), {"train": lambda self, mode=True: cls.train(self, False)})


def freeze_batchnorm(model: nn.Module) -> nn.Module:
    """Every BatchNorm3d of `model` (nn.BatchNorm3d or a subclass such as the model's own) in eval mode for good."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.__class__ = _eval_mode(type(m))
    return model


def train_steps(cfg) -> None:
    """Train the tiny model for SOLVER.MAX_EPOCH epochs with BatchNorm frozen; rank 0 saves the per-step
    losses and final weights to OUTPUT_DIR/result.pt (run in every process of a job)."""
    seed_everything(cfg.RNG_SEED)
    device = torch.device("cpu")
    model = create_ddp_model(freeze_batchnorm(build_model(cfg)), cfg, device)
    loader = tiny_loader(cfg, "train")
    optimizer = construct_optimizer(model, cfg.SOLVER)
    trainer = Trainer(model=model, loader=loader, optimizer=optimizer,
                      scheduler=LRScheduler(optimizer, cfg.SOLVER, len(loader)), scaler=grad_scaler(cfg, device),
                      loss_fn=build_loss(cfg.MODEL.LOSS_FUNC), runtime=Runtime(device, autocast_factory(cfg, device)),
                      stats=StatsWriter(cfg.OUTPUT_DIR, False, None), clip_gradient=cfg.SOLVER.CLIP_GRADIENT,
                      seed=cfg.RNG_SEED)
    trainer.train(0, cfg.SOLVER.MAX_EPOCH)
    if du.is_main_process():
        torch.save({"losses": trainer.losses, "state": unwrap(model).state_dict()},
                   os.path.join(cfg.OUTPUT_DIR, "result.pt"))


class ScoreByContent(nn.Module):
    """A stand-in model whose scores [B, C] are fixed functions of the clip: C values of its first frame."""

    def __init__(self, classes: int):
        super().__init__()
        self.classes = classes

    def forward(self, x: list[Tensor]) -> Tensor:
        return x[0][:, 0, 0, 0, : self.classes]


def evaluate_views(cfg) -> None:
    """Multi-view inference over the tiny test split in every process; rank 0 saves metrics and the
    evaluator's per-video results to OUTPUT_DIR/eval.pt."""
    loader = tiny_loader(cfg, "test")
    evaluator = MultiViewEvaluator(cfg.MODEL.NUM_CLASSES, cfg.DATA.ENSEMBLE_METHOD, len(loader.dataset))
    metrics = inference(ScoreByContent(cfg.MODEL.NUM_CLASSES), loader, evaluator, torch.device("cpu"),
                        contextlib.nullcontext, 100, "test")
    if du.is_main_process():
        torch.save({"metrics": metrics, "results": evaluator.results, "local_batches": len(loader)},
                   os.path.join(cfg.OUTPUT_DIR, "eval.pt"))


def train_then_kill(cfg, rank: int | None = None) -> None:
    """`train(cfg)` that SIGKILLs its own process (only on `rank`, if given) when the second epoch starts
    (after the first checkpoint)."""
    starts = []

    def loader_fn(cfg, split):
        loader = tiny_loader(cfg, split)
        if split != "train":
            return loader

        class Killing(type(loader)):
            def __iter__(self):
                starts.append(1)
                if len(starts) == 2 and rank in (None, du.get_rank()):
                    os.kill(os.getpid(), signal.SIGKILL)
                return super().__iter__()

        loader.__class__ = Killing
        return loader

    train(cfg, loader_fn)


def train_then_kill_rank1(cfg) -> None:
    """`train_then_kill` on rank 1 only: rank 0 is left waiting for it in the first step of epoch 2."""
    train_then_kill(cfg, rank=1)


if __name__ == "__main__":
    # python engine_fixtures.py OUTPUT_DIR [KEY VALUE ...]: the killed run, as it is;
    # torchrun ... engine_fixtures.py --rank1 OUTPUT_DIR [KEY VALUE ...]: rank 1 killed, through launch_job;
    # torchrun ... engine_fixtures.py --train OUTPUT_DIR [KEY VALUE ...]: train(cfg, tiny_loader), through launch_job
    if sys.argv[1] in ("--rank1", "--train"):
        from slowfast.engine.launch import launch_job

        job = train_then_kill_rank1 if sys.argv[1] == "--rank1" else functools.partial(train, loader_fn=tiny_loader)
        launch_job(engine_cfg(sys.argv[2], *sys.argv[3:]), job)
    else:
        train_then_kill(engine_cfg(sys.argv[1], *sys.argv[2:]))
