"""Batch format, NUM_SAMPLE flattening, and test sharding without duplicates."""

import pytest
import torch

from slowfast.config import get_cfg
from slowfast.datasets.loader import ShardSampler, collate, construct_loader


def _item(video, samples):
    clip = lambda s: [torch.full((3, 2, 4, 4), float(video * 10 + s))]  # noqa: E731
    if samples == 1:
        return clip(0), video % 3, video, {"video_index": video, "view_index": 0}
    return ([clip(s) for s in range(samples)], [video % 3] * samples, [video] * samples,
            {"video_index": [video] * samples, "view_index": [0] * samples})


def test_collate_single_clip_items():
    frames, labels, indices, meta = collate([_item(v, 1) for v in (4, 7)])
    assert len(frames) == 1 and frames[0].shape == (2, 3, 2, 4, 4)
    assert labels.tolist() == [1, 1] and indices.tolist() == [4, 7] and meta["video_index"].tolist() == [4, 7]


def test_collate_flattens_num_sample_video_major():
    frames, labels, indices, meta = collate([_item(v, 2) for v in (4, 7)])
    assert frames[0].shape == (4, 3, 2, 4, 4)
    assert frames[0][:, 0, 0, 0, 0].tolist() == [40.0, 41.0, 70.0, 71.0]
    assert labels.tolist() == [1, 1, 1, 1] and indices.tolist() == [4, 4, 7, 7]
    assert meta["view_index"].tolist() == [0, 0, 0, 0] and labels.dtype == torch.long


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_shard_sampler_every_item_exactly_once(world):
    data = list(range(10))
    shards = [list(ShardSampler(data, rank, world)) for rank in range(world)]
    assert sorted(i for s in shards for i in s) == data
    assert [len(ShardSampler(data, r, world)) for r in range(world)] == [len(s) for s in shards]


def test_batch_size_must_split_over_processes(tmp_path, monkeypatch):
    from slowfast.utils import distributed as du

    monkeypatch.setattr(du, "get_world_size", lambda: 4)
    cfg = get_cfg()
    cfg.TRAIN.BATCH_SIZE = 6
    (tmp_path / "train.csv").write_text("a.mp4 0\n")
    cfg.DATA.PATH_TO_DATA_DIR = str(tmp_path)
    with pytest.raises(ValueError, match="TRAIN.BATCH_SIZE = 6 is the total over all 4 processes and must be a "
                                         "positive multiple of it"):
        construct_loader(cfg, "train")
