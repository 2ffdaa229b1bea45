"""A tiny in-memory video dataset and loader factory for engine tests (no files, no decoding).

Items follow the data package's interface: (frames [clip [3, T, H, W]], label, index, meta) with
meta {"video_index", "view_index"}; the test split has VIEWS views per video.
"""

import torch
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from slowfast.config import load_config
from slowfast.utils import distributed as du

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
    shuffle = train if shuffle is None else shuffle
    sampler = None
    if du.is_initialized():
        sampler = DistributedSampler(dataset, shuffle=shuffle, seed=cfg.RNG_SEED)
    return DataLoader(dataset, batch_size=batch, shuffle=shuffle and sampler is None, sampler=sampler,
                      drop_last=train, num_workers=0)


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
