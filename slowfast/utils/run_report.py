"""Finished runs read back from their OUTPUT_DIR: the validation curve, the test metrics, and a figure of
validation top-1 against training clips seen."""

import json
import os
import pickle

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def validation_curve(output_dir: str) -> list[tuple[int, float]]:
    """[(epoch, val top-1 %)] from OUTPUT_DIR/json_stats.log (the EvalHook's lines), in epoch order; a
    resumed run's repeated epoch keeps its last value."""
    curve = {}
    with open(os.path.join(output_dir, "json_stats.log")) as f:
        for line in f:
            stats = json.loads(line)
            if "top1" in stats and "split" not in stats:
                curve[int(stats["epoch"])] = float(stats["top1"])
    return sorted(curve.items())


def test_metrics(path: str) -> dict:
    """The metrics the multi-view test saved at `path` (`evaluator.results_path(cfg)`)."""
    with open(path, "rb") as f:
        return pickle.load(f)["metrics"]


def plot_learning_curves(curves: dict[str, list[tuple[int, float]]], clips_per_epoch: int, chance: float,
                         path: str, title: str = "") -> None:
    """One line per run (label -> validation curve) of top-1 against training clips seen, chance dashed;
    written to `path` (PNG)."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for label, curve in curves.items():
        ax.plot([e * clips_per_epoch for e, _ in curve], [top1 for _, top1 in curve], marker="o", label=label)
    ax.axhline(100 * chance, color="grey", linestyle="--", label="chance")
    ax.set(xlabel="training clips seen", ylabel="validation top-1 (%)", ylim=(0, 100), title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
