"""Accuracy, running averages, and the progress/statistics writer (log + json_stats + TensorBoard)."""

import os
import time
from collections import defaultdict

from torch import Tensor

from slowfast.utils.logging import get_logger, log_json_stats
from slowfast.utils.misc import format_seconds

logger = get_logger(__name__)


def topk_correct(scores: Tensor, labels: Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """Number of rows of scores [N, C] whose label [N] is among the top k, for each k (k capped at C)."""
    top = scores.topk(min(max(ks), scores.shape[1]), dim=1).indices
    hit = top == labels[:, None]
    return [int(hit[:, :k].any(dim=1).sum()) for k in ks]


class AverageMeter:
    """Weighted running mean of a scalar."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def update(self, value: float, n: int = 1) -> None:
        self.total += value * n
        self.count += n

    @property
    def avg(self) -> float:
        return self.total / max(self.count, 1)


class Progress:
    """Times the iterations of one pass (train epoch, val or test) and logs progress with an ETA."""

    def __init__(self, name: str, total: int, log_period: int):
        self.name, self.total, self.log_period = name, total, max(log_period, 1)
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def due(self, it: int) -> bool:
        """Whether iteration `it` (0-based) is one to log."""
        return (it + 1) % self.log_period == 0 or it + 1 == self.total

    def eta(self, it: int, remaining_after: int = 0) -> float:
        """Seconds left in this pass, plus `remaining_after` more iterations at the same pace."""
        per_iter = self.elapsed() / (it + 1)
        return per_iter * (self.total - it - 1 + remaining_after)

    def line(self, it: int, remaining_after: int = 0) -> str:
        return (f"{self.name} {it + 1}/{self.total} "
                f"[{'#' * int(20 * (it + 1) / max(self.total, 1)):<20}] "
                f"eta {format_seconds(self.eta(it, remaining_after))}")


class StatsWriter:
    """json_stats lines and TensorBoard scalars; a no-op apart from rank 0 (`enabled`)."""

    def __init__(self, output_dir: str, enabled: bool, tensorboard_dir: str | None):
        self.output_dir = output_dir if enabled else None
        if enabled:
            os.makedirs(output_dir, exist_ok=True)
        self.tb = None
        if enabled and tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(tensorboard_dir or os.path.join(output_dir, "runs"))
        self.enabled = enabled

    def write(self, stats: dict, step: int, prefix: str) -> None:
        """Log `stats` as one json_stats line and its numbers as TensorBoard scalars `prefix/key` at `step`."""
        if not self.enabled:
            return
        log_json_stats(stats, self.output_dir)
        if self.tb is not None:
            for key, value in stats.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    self.tb.add_scalar(f"{prefix}/{key}", value, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


class ScalarMeters:
    """A named set of AverageMeters, reset per logging window or per epoch."""

    def __init__(self):
        self.meters: dict[str, AverageMeter] = defaultdict(AverageMeter)

    def update(self, n: int = 1, **values: float) -> None:
        for key, value in values.items():
            self.meters[key].update(value, n)

    def averages(self) -> dict[str, float]:
        return {k: m.avg for k, m in self.meters.items()}
