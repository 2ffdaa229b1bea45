"""Frame indices against values worked out by hand from the released formulas (as
`slowfast/datasets/samplers.py` states them)."""

import random

import pytest

from slowfast.datasets.samplers import dense_indices, segment_indices


@pytest.mark.parametrize("length,frames,view,views,expected", [
    # seg = 32 / 8 = 4: spans [0,4], [4,8], ... ; offset int(4 / (V + 1) * (v + 1))
    (33, 8, 0, 1, [2, 6, 10, 14, 18, 22, 26, 30]),
    (33, 8, 0, 2, [1, 5, 9, 13, 17, 21, 25, 29]),
    (33, 8, 1, 2, [2, 6, 10, 14, 18, 22, 26, 30]),
    # seg = 2.25: starts round(0, 2.25, 4.5, 6.75) = 0, 2, 4 (half to even, as numpy), 7
    (10, 4, 0, 1, [1, 3, 5, 8]),
    (10, 4, 0, 3, [0, 2, 4, 7]),
    (10, 4, 2, 3, [1, 3, 5, 8]),
    # fewer frames than T: seg = 0.25, frames repeat
    (3, 8, 0, 1, [0, 0, 0, 1, 1, 1, 2, 2]),
])
def test_segment_indices_test_views_match_hand_computed(length, frames, view, views, expected):
    assert segment_indices(length, frames, view, views) == expected


def test_segment_indices_training_draws_every_frame_of_each_span_inclusive():
    random.seed(0)
    draws = [segment_indices(10, 4, None, 1) for _ in range(400)]
    spans = [(0, 2), (2, 4), (4, 7), (7, 9)]
    for i, (lo, hi) in enumerate(spans):
        assert {d[i] for d in draws} == set(range(lo, hi + 1))


@pytest.mark.parametrize("length,fps,view,views,offset,expected", [
    # c = 8 * 4 * 30 / 30 = 32, delta = 68; offset sampling, V = 1: start floor(68 / 2) = 34
    (100, 30, 0, 1, True, [34, 38, 42, 47, 51, 56, 60, 65]),
    # V = 3: start j * floor(68 / 2) -> 0, 34, 68
    (100, 30, 0, 3, True, [0, 4, 8, 13, 17, 22, 26, 31]),
    (100, 30, 2, 3, True, [68, 72, 76, 81, 85, 90, 94, 99]),
    # SlowFast (no offset): start delta * j / V = 22.67 for j = 1 of 3
    (100, 30, 1, 3, False, [22, 27, 31, 35, 40, 44, 49, 53]),
    # 60 fps source: c = 64 > L = 50, delta = 0, indices clipped to L - 1
    (50, 60, 0, 1, True, [0, 9, 18, 27, 36, 45, 49, 49]),
])
def test_dense_indices_match_hand_computed(length, fps, view, views, offset, expected):
    assert dense_indices(length, fps, 8, 4, 30, view, views, offset) == expected


def test_dense_indices_training_start_uniform_in_delta():
    random.seed(0)
    starts = [dense_indices(100, 30, 8, 4, 30, None, 1, True)[0] for _ in range(500)]
    assert min(starts) <= 2 and max(starts) >= 66 and max(starts) <= 68
    for _ in range(50):
        idx = dense_indices(100, 30, 8, 4, 30, None, 1, True)
        assert idx[-1] - idx[0] in (30, 31, 32) and idx == sorted(idx)
