"""`torch.export` of a built model (tools/export.py).

The result is an `ExportedProgram`: the model's ATen graph with its weights, input [B, 3, T, S, S] with the
batch size symbolic, output logits [B, NUM_CLASSES]. With the compiled EMIM kernels (the default backend)
each EMIM layer is one `slowfast::emim_attention` node (the custom op's fake implementation gives its
shapes), so loading the saved file needs `import slowfast.ops` (which registers the op) and nothing else
of this package; with `UNIFORMER.EMIM_BACKEND torch` the graph holds only ATen ops and loads with torch alone.
"""

import torch
import torch.nn as nn
from torch import Tensor
from torch.export import Dim, ExportedProgram

EMIM_OP = "slowfast.emim_attention.default"
# Largest batch the exported program accepts when its batch size is symbolic.
MAX_BATCH = 1024


def example_clip(cfg, batch: int = 2, device: torch.device | str = "cpu") -> Tensor:
    """A random model input [batch, 3, DATA.NUM_FRAMES, TEST_CROP_SIZE, TEST_CROP_SIZE]."""
    size = cfg.DATA.TEST_CROP_SIZE
    return torch.randn(batch, 3, cfg.DATA.NUM_FRAMES, size, size, device=device)


def export_model(model: nn.Module, clip: Tensor, dynamic_batch: bool = True) -> ExportedProgram:
    """Export `model` (switched to eval mode) called as `model([clip])`; clip [B, 3, T, H, W] fixes T, H, W
    (and B unless dynamic_batch, then any 1 <= B <= MAX_BATCH)."""
    model.eval()
    shapes = ([{0: Dim("batch", min=1, max=MAX_BATCH)}],) if dynamic_batch else None
    return torch.export.export(model, ([clip],), dynamic_shapes=shapes)


def emim_op_nodes(program: ExportedProgram) -> int:
    """How many `slowfast::emim_attention` calls the exported graph holds."""
    return sum(1 for node in program.graph.nodes if node.op == "call_function" and str(node.target) == EMIM_OP)
