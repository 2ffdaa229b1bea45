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


def plot_seed_curves(curves: dict[str, list[list[tuple[int, float]]]], chance: float, path: str,
                     title: str = "") -> None:
    """Validation top-1 against epoch, one colour per model (label -> one curve per seed, thin lines) with
    the mean over seeds (thick); chance dashed; written to `path` (PNG)."""
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for colour, (label, runs) in zip(plt.rcParams["axes.prop_cycle"].by_key()["color"], curves.items()):
        for curve in runs:
            ax.plot([e for e, _ in curve], [v for _, v in curve], color=colour, alpha=0.35, linewidth=1)
        epochs = [e for e, _ in runs[0]]
        ax.plot(epochs, [sum(r[i][1] for r in runs) / len(runs) for i in range(len(epochs))], color=colour,
                linewidth=2.5, marker="o", label=f"{label} (mean of {len(runs)} seeds)")
    ax.axhline(100 * chance, color="grey", linestyle="--", label="chance")
    ax.set(xlabel="epoch (800 training clips each)", ylabel="validation top-1 (%)", ylim=(0, 100), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_probe_bars(values: dict[str, dict[str, list[float]]], chance: float, path: str, title: str = "") -> None:
    """Grouped bars: per layer (outer key) and reading (inner key, in order), the mean over seeds of the probe's
    direction accuracy (%) with each seed as a dot; chance dashed; written to `path` (PNG)."""
    layers = list(values)
    readings = list(values[layers[0]])
    width = 0.8 / len(readings)
    fig, ax = plt.subplots(figsize=(8, 4), dpi=120)
    for k, reading in enumerate(readings):
        xs = [i + (k - (len(readings) - 1) / 2) * width for i in range(len(layers))]
        means = [sum(values[layer][reading]) / len(values[layer][reading]) for layer in layers]
        ax.bar(xs, means, width, label=reading)
        for x, layer in zip(xs, layers):
            ax.scatter([x] * len(values[layer][reading]), values[layer][reading], color="black", s=6, zorder=3)
    ax.axhline(100 * chance, color="grey", linestyle="--", label="chance")
    ax.set_xticks(range(len(layers)), layers)
    ax.set(ylabel="direction within 45 deg (%)", ylim=(0, 100), title=title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
