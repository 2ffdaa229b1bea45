from . import uniformer  # noqa: F401  (registers Uniformer)
from .build import MODEL_REGISTRY, build_model

__all__ = ["MODEL_REGISTRY", "build_model"]
