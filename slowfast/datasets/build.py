"""The dataset registry: the only place a dataset name becomes a dataset object."""

from fvcore.common.registry import Registry

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = """
Video datasets. A registered class is called as `cls(cfg, split)` with `split` in "train", "val", "test"
and returns a `torch.utils.data.Dataset` whose items are `(frames, label, index, meta)`
(see `slowfast.datasets.video_dataset.VideoDataset`).
"""

SPLITS = ("train", "val", "test")


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def build_dataset(name: str, cfg, split: str):
    """The dataset `name` for `split`: "sth", "ssv2", "kinetics", "motion_stream" (the registered name,
    case and underscores ignored: "motion_stream" is `MotionStream`)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    registered = {_key(n): n for n, _ in DATASET_REGISTRY}
    if _key(name) not in registered:
        raise KeyError(f"no dataset named {name!r}; registered: {', '.join(sorted(registered.values()))}")
    return DATASET_REGISTRY.get(registered[_key(name)])(cfg, split)
