"""The motion benchmark's statistics (slowfast/utils/bench_stats.py) against hand-computed values."""

import math

import numpy as np
import pytest

from slowfast.utils.bench_stats import kind_and_direction, last_quarter_gain, paired_interval


def test_paired_interval_by_hand():
    # differences 1, 2, 3, 6: mean 3, sample std sqrt(14 / 3), t(0.975, 3) = 3.182446305
    mean, low, high = paired_interval([1.0, 2.0, 3.0, 6.0])
    half = 3.182446305 * math.sqrt(14 / 3) / 2
    assert mean == 3.0 and low == pytest.approx(3 - half, abs=1e-6) and high == pytest.approx(3 + half, abs=1e-6)
    mean, low, high = paired_interval([4.0])
    assert mean == 4.0 and math.isnan(low) and math.isnan(high)


def test_kind_and_direction_by_hand():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 0, 4])
    predicted = np.array([1, 1, 2, 0, 4, 4, 7, 7, 0, 6])  # pair right: all but 3 (0 is pair 0) and the last
    scores = np.eye(8)[predicted]
    out = kind_and_direction(scores, labels)
    assert list(out) == ["translation", "rotation", "scaling"]
    # translation: videos 0, 1, 2, 3, 8; pair right for 0, 1, 2, 8 (4/5); direction right for 1, 2, 8 (3/4)
    assert out["translation"] == {"pair": 80.0, "direction": 75.0, "videos": 5}
    # rotation: videos 4, 5, 9; pair right for 4, 5 (2/3); direction right for 4 (1/2)
    assert out["rotation"]["pair"] == pytest.approx(200 / 3) and out["rotation"]["direction"] == 50.0
    assert out["scaling"] == {"pair": 100.0, "direction": 50.0, "videos": 2}
    only_translation = kind_and_direction(np.eye(4)[[1, 1]], np.array([0, 1]))
    assert list(only_translation) == ["translation"] and only_translation["translation"]["direction"] == 50.0


def test_last_quarter_gain_by_hand():
    curve = [(e, v) for e, v in enumerate([10, 20, 30, 40, 50, 55, 60, 61, 62, 70], start=1)]
    assert last_quarter_gain(curve) == 70 - 61  # 10 epochs: a quarter is 2 epochs back
    assert last_quarter_gain([(1, 5.0), (2, 4.0)]) == -1.0
    with pytest.raises(ValueError, match="at least 2 epochs"):
        last_quarter_gain([(1, 5.0)])
