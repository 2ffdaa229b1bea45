"""DataLoaders for the engine: per-process batches, distributed sharding, and the batch format."""

import torch
from torch.utils.data import DataLoader, DistributedSampler, Sampler

from slowfast.utils import distributed as du

from .build import build_dataset


def collate(batch: list) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, dict]:
    """Dataset items -> `(frames, labels, indices, meta)`: `frames` a list (one per pathway) of
    [N, 3, T, H, W], labels/indices LongTensor [N], meta {key: LongTensor [N]}. Items holding S > 1 clips
    (AUG.NUM_SAMPLE) are flattened video-major: N = B * S, rows b*S .. b*S + S - 1 are video b's clips.
    The videos the items replaced because they failed to decode (each item's meta "decode_failures") are
    joined in one list, meta["decode_failures"], present only when there are any."""
    flat, failures = [], []
    for frames, label, index, meta in batch:
        meta = dict(meta)
        failures += meta.pop("decode_failures", [])
        if isinstance(label, list):
            flat.extend((frames[s], label[s], index[s], {k: v[s] for k, v in meta.items()})
                        for s in range(len(label)))
        else:
            flat.append((frames, label, index, meta))
    frames = [torch.stack([item[0][p] for item in flat]) for p in range(len(flat[0][0]))]
    labels = torch.tensor([item[1] for item in flat], dtype=torch.long)
    indices = torch.tensor([item[2] for item in flat], dtype=torch.long)
    meta = {k: torch.tensor([item[3][k] for item in flat], dtype=torch.long) for k in flat[0][3]}
    if failures:
        meta["decode_failures"] = failures
    return frames, labels, indices, meta


class ShardSampler(Sampler):
    """Item i goes to process i % world_size, in order, without padding: every item is seen exactly once
    over all processes (DistributedSampler pads with duplicates, which would be scored twice)."""

    def __init__(self, dataset, rank: int, world_size: int):
        self._indices = range(rank, len(dataset), world_size)

    def __iter__(self):
        return iter(self._indices)

    def __len__(self) -> int:
        return len(self._indices)


def construct_loader(cfg, split: str) -> DataLoader:
    """The loader of `split` ("train", "val", "test") for this process.

    Dataset TRAIN.DATASET (train, val) or TEST.DATASET (test). Per-process batch = TRAIN.BATCH_SIZE (train,
    val) or TEST.BATCH_SIZE (test) divided by the number of processes: these keys count videos (train) or
    views (test) over all processes; with AUG.NUM_SAMPLE = S a train batch holds S x that many clips.
    Train: shuffled (a DistributedSampler seeded by RNG_SEED under torch.distributed, given each epoch by the
    trainer's `set_epoch`), last incomplete batch dropped. Val/test: in order, every
    item once over all processes (`ShardSampler`), nothing dropped. Batches are `collate`'s format.
    """
    train = split == "train"
    name = cfg.TEST.DATASET if split == "test" else cfg.TRAIN.DATASET
    dataset = build_dataset(name, cfg, split)
    world, rank = du.get_world_size(), du.get_rank()
    key, global_batch = (("TEST.BATCH_SIZE", cfg.TEST.BATCH_SIZE) if split == "test"
                         else ("TRAIN.BATCH_SIZE", cfg.TRAIN.BATCH_SIZE))
    batch = du.per_process_batch(key, global_batch, world)
    if du.is_initialized():
        sampler = (DistributedSampler(dataset, world, rank, shuffle=True, seed=cfg.RNG_SEED, drop_last=False)
                   if train else ShardSampler(dataset, rank, world))
    else:
        sampler = None
    workers = cfg.DATA_LOADER.NUM_WORKERS
    return DataLoader(
        dataset,
        batch_size=batch,
        shuffle=train and sampler is None,
        sampler=sampler,
        num_workers=workers,
        pin_memory=cfg.DATA_LOADER.PIN_MEMORY and torch.cuda.is_available(),
        drop_last=train,
        collate_fn=collate,
        persistent_workers=False,
    )

