from . import uniformer  # noqa: F401  (registers Uniformer)
from .attention import ATTENTION_TYPES, AttentionLayer, register_attention
from .build import MODEL_REGISTRY, build_model

__all__ = ["ATTENTION_TYPES", "MODEL_REGISTRY", "AttentionLayer", "build_model", "register_attention"]
