"""Independent gradient reference: directional derivatives by central finite differences (float64)."""

from collections.abc import Callable

import torch
from torch import Tensor


def random_directions(groups: dict[str, list[Tensor]], seed: int = 0) -> dict[str, list[Tensor]]:
    """One random direction per group, shaped as its tensors, of unit norm over the group."""
    generator = torch.Generator().manual_seed(seed)
    directions = {}
    for name, tensors in groups.items():
        d = [torch.randn(t.shape, dtype=t.dtype, generator=generator) for t in tensors]
        norm = torch.sqrt(sum((x * x).sum() for x in d))
        directions[name] = [x / norm for x in d]
    return directions


@torch.no_grad()
def finite_difference(loss_fn: Callable[[], Tensor], tensors: list[Tensor], direction: list[Tensor],
                      eps: float = 1e-6) -> float:
    """(loss(t + eps d) - loss(t - eps d)) / 2 eps, moving `tensors` in place and restoring them."""
    saved = [t.clone() for t in tensors]
    losses = []
    for step in (eps, -eps):
        for t, s, d in zip(tensors, saved, direction):
            t.copy_(s + step * d)
        losses.append(float(loss_fn()))
    for t, s in zip(tensors, saved):
        t.copy_(s)
    return (losses[0] - losses[1]) / (2 * eps)


def along(grads: list[Tensor | None], direction: list[Tensor]) -> float:
    """Directional derivative from gradients: sum of <grad, d> (a missing gradient counts as 0)."""
    return sum(float((g * d).sum()) for g, d in zip(grads, direction) if g is not None)

