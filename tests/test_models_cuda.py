"""The whole model on a GPU against the CPU: a tiny UniFormer (EMIM in stages 3-4, BatchNorm in train mode) with
the same weights and input gives the same logits and gradients on both, EMIM on the CUDA kernel against the
CPU kernel and on the torch backend on both, in float64 and float32 (TF32 off); and a training step under
bf16 / fp16 autocast on the GPU stays finite and near float32. Skipped without a GPU and the CUDA kernels
(tools/gpu_check.sh runs them on a GPU machine).
"""

import copy

import pytest
import torch
import torch.nn as nn
from tiny_cfg import off_initial_values, tiny_cfg

from slowfast.models import build_model
from slowfast.ops import emim_ext

needs_cuda = pytest.mark.skipif(
    not torch.cuda.is_available() or emim_ext.load_error("cuda") is not None, reason="needs CUDA and CUDA kernels"
)

SIZE, CLASSES = 64, 10
# Windows [3, 7]: stage 3's 4x4 frame is larger than its window, stage 4's 2x2 frame smaller.
BASE = ["UNIFORMER.DROP_DEPTH_RATE", "0.0", "UNIFORMER.ATTN_MAX_DISP", "[3, 7]"]


def _model(opts=()) -> nn.Module:
    """A tiny UniFormer with every parameter and BatchNorm statistic moved off its initial value."""
    torch.manual_seed(0)
    model = build_model(tiny_cfg("tiny_s16_emim7", *BASE, *opts))
    return off_initial_values(model)


def outputs_and_grads(model: nn.Module, clip: torch.Tensor, g: torch.Tensor, device: str, dtype: torch.dtype,
                      train: bool = True) -> dict[str, torch.Tensor]:
    """Logits, the input's gradient and every parameter's gradient of <logits, g>, as float64 on the CPU."""
    model = copy.deepcopy(model).to(device, dtype).train(train)
    x = clip.detach().to(device=device, dtype=dtype, copy=True).requires_grad_()
    logits = model([x])
    (logits * g.to(device, dtype)).sum().backward()
    out = {"logits": logits.detach(), "input": x.grad}
    out.update({name: p.grad for name, p in model.named_parameters() if p.grad is not None})
    return {k: v.detach().cpu().double() for k, v in out.items()}


def assert_same(got: dict, want: dict, rel: float) -> None:
    """Each tensor within rel of the largest entry of its reference (sums over many terms differ in order), that
    entry floored at 1e-3 of the largest of all (a bias before a train-mode BatchNorm has gradient 0 but for
    rounding)."""
    assert got.keys() == want.keys()
    floor = 1e-3 * max(t.abs().max().item() for t in want.values())
    for name in want:
        scale = max(want[name].abs().max().item(), floor)
        torch.testing.assert_close(got[name], want[name], atol=rel * scale, rtol=rel,
                                   msg=lambda m, name=name: f"{name}: {m}")


@needs_cuda
@pytest.mark.parametrize("backend", ["", "torch"], ids=["kernels", "torch_backend"])
@pytest.mark.parametrize("dtype, rel", [(torch.float64, 1e-9), (torch.float32, 2e-4)], ids=["float64", "float32"])
@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_cuda_model_matches_cpu(backend, dtype, rel, train, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    model = _model(["UNIFORMER.EMIM_BACKEND", backend])
    clip = torch.randn(2, 3, 16, SIZE, SIZE, dtype=torch.float64)
    g = torch.randn(2, CLASSES, dtype=torch.float64)
    want = outputs_and_grads(model, clip, g, "cpu", dtype, train)
    got = outputs_and_grads(model, clip, g, "cuda", dtype, train)
    assert_same(got, want, rel)


@needs_cuda
def test_cuda_checkpointing_gives_the_same_gradients():
    plain = _model()
    checkpointed = _model(["MODEL.USE_CHECKPOINT", "True", "MODEL.CHECKPOINT_NUM", "[1, 1, 2, 2]"])
    checkpointed.load_state_dict(plain.state_dict())
    clip = torch.randn(2, 3, 16, SIZE, SIZE, dtype=torch.float64)
    g = torch.randn(2, CLASSES, dtype=torch.float64)
    assert_same(outputs_and_grads(checkpointed, clip, g, "cuda", torch.float64),
                outputs_and_grads(plain, clip, g, "cuda", torch.float64), 1e-12)


@needs_cuda
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=["bf16", "fp16"])
def test_cuda_autocast_step_is_finite_and_near_float32(dtype):
    model = _model().cuda()
    clip = torch.randn(2, 3, 16, SIZE, SIZE, device="cuda")
    labels = torch.tensor([0, 1], device="cuda")
    model.eval()
    with torch.no_grad():
        want = model([clip])
        with torch.autocast("cuda", dtype=dtype):
            got = model([clip])
    torch.testing.assert_close(got.float(), want, atol=0.05 * want.abs().max().item(), rtol=0.05)
    model.train()
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    with torch.autocast("cuda", dtype=dtype):
        loss = nn.functional.cross_entropy(model([clip]), labels)
    scaler.scale(loss).backward()
    assert torch.isfinite(loss)
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(grad).all() for grad in grads)
