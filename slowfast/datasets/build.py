"""The dataset registry: the only place a dataset name becomes a dataset class.

A dataset registers its class under the class name and any aliases (`register_dataset`); names are looked
up with case and underscores ignored, so `video_list` is `VideoList` and `motion_stream` is `MotionStream`.
The benchmark names the configs use are aliases of the class that reads that storage: `kinetics` of
`VideoList`, `sth` of `FrameFolders`.
"""

from fvcore.common.registry import Registry

from .video_dataset import STORAGE_KINDS, VideoDataset

DATASET_REGISTRY = Registry("DATASET")
DATASET_REGISTRY.__doc__ = """
Video datasets: `VideoDataset` subclasses, built as `cls.for_split(split)(cfg, split)` with `split` in
"train", "val", "test"; items are `(frames, label, index, meta)` (see `slowfast.datasets.video_dataset`).
"""

SPLITS = ("train", "val", "test")
# key(alias) -> (alias, the registered class name it stands for).
_ALIASES: dict[str, tuple[str, str]] = {}


def _key(name: str) -> str:
    return name.replace("_", "").lower()


def register_dataset(*aliases: str):
    """Class decorator: register a `VideoDataset` subclass under its name and `aliases`. TypeError at import
    when it does not declare its STORAGE (one of STORAGE_KINDS) or a name is taken."""

    def register(cls: type[VideoDataset]) -> type[VideoDataset]:
        if not (isinstance(cls, type) and issubclass(cls, VideoDataset)):
            raise TypeError(f"{cls!r}: a registered dataset is a VideoDataset subclass")
        if cls.STORAGE not in STORAGE_KINDS:
            raise TypeError(f"{cls.__name__}.STORAGE = {cls.STORAGE!r}: declare one of {STORAGE_KINDS}")
        taken = {_key(n) for n, _ in DATASET_REGISTRY} | _ALIASES.keys()
        clash = [n for n in (cls.__name__, *aliases) if _key(n) in taken]
        if clash:
            raise TypeError(f"{cls.__name__}: dataset name(s) {clash} already registered")
        DATASET_REGISTRY.register(cls)
        _ALIASES.update({_key(a): (a, cls.__name__) for a in aliases})
        return cls

    return register


def dataset_names() -> list[str]:
    """Every name a config may give: registered class names and their aliases."""
    return sorted([n for n, _ in DATASET_REGISTRY] + [alias for alias, _ in _ALIASES.values()])


def dataset_class(name: str) -> type[VideoDataset]:
    """The class registered as `name` (case and underscores ignored); KeyError listing the names."""
    registered = {_key(n): n for n, _ in DATASET_REGISTRY}
    key = _key(name)
    if key not in registered and key not in _ALIASES:
        raise KeyError(f"no dataset named {name!r}; registered: {', '.join(dataset_names())}")
    return DATASET_REGISTRY.get(registered[key] if key in registered else _ALIASES[key][1])


def build_dataset(name: str, cfg, split: str) -> VideoDataset:
    """The dataset `name` reads `split` with, e.g. "sth", "kinetics", "ssv2", "diving48", "motion_stream"."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return dataset_class(name).for_split(split)(cfg, split)
