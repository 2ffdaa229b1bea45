"""Launch checks: the process count and the global batch sizes."""

import pytest
import torch

from slowfast.config import load_config
from slowfast.engine.launch import check_world


def test_global_batch_must_divide_by_the_process_count():
    cfg = load_config(None, ["TRAIN.BATCH_SIZE", "30", "NUM_GPUS", "8", "TEST.BATCH_SIZE", "8"])
    with pytest.raises(ValueError, match=r"TRAIN.BATCH_SIZE = 30 is the total over all 8 processes"):
        check_world(cfg, 8)
    check_world(load_config(None, ["TRAIN.BATCH_SIZE", "32", "NUM_GPUS", "8", "TEST.BATCH_SIZE", "8"]), 8)
    # Test-only runs do not care about the train batch (released multi-node configs still load).
    check_world(load_config(None, ["TRAIN.ENABLE", "False", "TRAIN.BATCH_SIZE", "30", "NUM_GPUS", "8",
                                   "TEST.BATCH_SIZE", "16"]), 8)


def test_process_count_must_match_num_gpus_and_shards():
    cfg = load_config(None, ["NUM_GPUS", "4", "NUM_SHARDS", "2", "TRAIN.BATCH_SIZE", "64"])
    with pytest.raises(ValueError, match=r"started 4 processes but NUM_GPUS x NUM_SHARDS = 4 x 2 asks for 8"):
        check_world(cfg, 4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only error")
def test_sync_bn_on_cpu_is_a_clear_error():
    cfg = load_config(None, ["NUM_GPUS", "2", "BN.USE_SYNC_BN", "True", "TRAIN.BATCH_SIZE", "4",
                             "TEST.BATCH_SIZE", "4"])
    with pytest.raises(ValueError, match="BN.USE_SYNC_BN: torch's SyncBatchNorm runs on GPUs only"):
        check_world(cfg, 2)
