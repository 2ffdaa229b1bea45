"""The dataset registry: the only place a dataset name becomes a dataset object."""

from fvcore.common.registry import Registry

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = """
Video datasets. A registered class is called as `cls(cfg, split)` with `split` in "train", "val", "test"
and returns a `torch.utils.data.Dataset` whose items are `(frames, label, index, meta)`
(see `slowfast.datasets.video_dataset.VideoDataset`).
"""

SPLITS = ("train", "val", "test")


def build_dataset(name: str, cfg, split: str):
    """The dataset `name` ("sth", "ssv2", "kinetics"; registered as the capitalised class name) for `split`."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return DATASET_REGISTRY.get(name.capitalize())(cfg, split)
