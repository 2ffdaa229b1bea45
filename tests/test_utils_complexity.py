"""FLOP counting against hand-computed multiply-adds."""

import os

import pytest
import torch

from slowfast.models.attention import EmimAttention, GlobalAttention
from slowfast.ops import emim_ext
from slowfast.utils.complexity import count_flops


def _linear(tokens, i, o):
    return tokens * i * o


def test_global_attention_flops_hand_computed():
    B, (T, H, W), C, n = 2, (3, 2, 4), 16, 2
    N = T * H * W
    layer = GlobalAttention(C, n).eval()
    total, _ = count_flops(layer, (torch.zeros(B, N, C), (T, H, W)))
    expected = _linear(B * N, C, 3 * C) + 2 * B * N * N * C + _linear(B * N, C, C)
    assert total == expected


# CI builds the extension, so there the test must run.
@pytest.mark.skipif(emim_ext.load_error("cpu") is not None and not os.environ.get("CI"),
                    reason="needs the compiled EMIM op (make install)")
def test_emim_layer_flops_hand_computed():
    B, (T, H, W), C, n, K = 2, (4, 3, 5), 16, 2, 3
    N, d, KK = T * H * W, C // n, K * K
    layer = EmimAttention(C, n, window=K, backend="cpu").eval()
    total, by_op = count_flops(layer, (torch.zeros(B, N, C), (T, H, W)))
    window = 2 * B * (T - 1) * H * W * n * KK * d  # cost volume + context over T-1 frame pairs
    motion = _linear(B * N * n, KK, 4 * KK) + _linear(B * N * n, 4 * KK, d)
    expected = _linear(B * N, C, 3 * C) + window + motion + _linear(B * N, C, C)
    assert total == expected
