"""Statistics of the motion benchmark: a paired interval over seeds, accuracy on the kind of motion and on
the direction within each time-reversed pair, and whether a learning curve has levelled off."""

import math

import numpy as np
from scipy import stats

# The motion dataset's classes come in time-reversed pairs, in order (motion_synth.CLASS_NAMES): class c
# belongs to pair c // 2. The kind of motion of each pair:
PAIR_KINDS = ("translation", "translation", "rotation", "scaling")
# A curve has levelled off when it gains less than this (top-1 points) over the last quarter of training.
LEVEL_POINTS = 2.0


def paired_interval(differences: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """(mean, low, high): the mean of paired differences and its Student-t interval (n - 1 degrees of freedom);
    the interval is (nan, nan) for fewer than two values."""
    d = np.asarray(differences, np.float64)
    mean = float(d.mean())
    if len(d) < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def kind_and_direction(scores: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, float]]:
    """scores [N, classes], labels [N] -> {kind: {"pair": % of videos whose predicted class is in their own
    time-reversed pair, "direction": % right among those, "videos": N of that kind}} per kind of motion present.
    Knowing every pair and guessing every direction gives pair 100%, direction 50%."""
    predicted = np.asarray(scores).argmax(1)
    labels = np.asarray(labels)
    out = {}
    for kind in dict.fromkeys(PAIR_KINDS):
        mine = np.isin(labels // 2, [p for p, k in enumerate(PAIR_KINDS) if k == kind])
        if not mine.any():
            continue
        same_pair = predicted[mine] // 2 == labels[mine] // 2
        right = predicted[mine] == labels[mine]
        out[kind] = {"pair": 100.0 * float(same_pair.mean()),
                     "direction": 100.0 * float(right[same_pair].mean()) if same_pair.any() else math.nan,
                     "videos": int(mine.sum())}
    return out


def last_quarter_gain(curve: list[tuple[int, float]]) -> float:
    """Validation top-1 points gained over the last quarter of training: the last epoch's value minus the value
    at the epoch a quarter of the epochs before it (at least one epoch). ValueError for fewer than 2 epochs."""
    if len(curve) < 2:
        raise ValueError(f"last_quarter_gain: need at least 2 epochs of validation, got {len(curve)}")
    back = max(1, len(curve) // 4)
    return curve[-1][1] - curve[-1 - back][1]
