"""torch.export of the model: EMIM as one custom-op node, save + load, outputs equal to eager, any batch."""

import subprocess
import sys

import pytest
import torch
from conftest import REPO

from slowfast.config import load_config
from slowfast.engine.export import emim_op_nodes, example_clip, export_model
from slowfast.models import build_model

sys.path.insert(0, str(REPO / "tools"))
import export  # noqa: E402

TINY = ["UNIFORMER.EMBED_DIM", "[8, 16, 32, 64]", "UNIFORMER.DEPTH", "[1, 1, 1, 1]", "UNIFORMER.HEAD_DIM", "16",
        "UNIFORMER.ATTN_MAX_DISP", "[5, 3]", "MODEL.NUM_CLASSES", "6", "DATA.NUM_FRAMES", "4",
        "DATA.TEST_CROP_SIZE", "64"]


def _trained_like(cfg) -> torch.nn.Module:
    """The config's model with non-zero motion heads and BatchNorm statistics (as after training)."""
    model = build_model(cfg)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith(("running_mean", "running_var", "motion_conv.2.weight")):
                tensor.copy_(torch.rand_like(tensor) * 0.5 + (0.5 if name.endswith("running_var") else 0.0))
    return model.eval()


def test_tool_round_trips_with_the_emim_op(tmp_path, capsys):
    cfg = load_config(None, TINY)
    checkpoint = tmp_path / "model.pyth"
    model = _trained_like(cfg)
    torch.save({"model_state": model.state_dict()}, checkpoint)
    cfg_file = tmp_path / "config.yaml"
    cfg_file.write_text(cfg.dump())
    out = tmp_path / "model.pt2"
    status = export.main(["--cfg", str(cfg_file), "--checkpoint", str(checkpoint), "--out", str(out)])
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "2 slowfast::emim_attention nodes" in printed and "max |eager - loaded| = 0" in printed
    loaded = torch.export.load(str(out))
    assert emim_op_nodes(loaded) == 2  # blocks3.0 and blocks4.0
    x = example_clip(cfg, 5)
    with torch.no_grad():
        torch.testing.assert_close(loaded.module()([x]), model([x]), rtol=0, atol=0)
    with pytest.raises(Exception):  # noqa: B017 (T is fixed by the export; torch's guard error type varies)
        loaded.module()([torch.randn(1, 3, 8, 64, 64)])


def test_torch_backend_exports_plain_aten_that_loads_without_slowfast(tmp_path):
    cfg = load_config(None, TINY + ["UNIFORMER.EMIM_BACKEND", "torch"])
    model = _trained_like(cfg)
    program = export_model(model, example_clip(cfg, 2))
    assert emim_op_nodes(program) == 0
    torch.export.save(program, tmp_path / "model.pt2")
    x = example_clip(cfg, 3)
    torch.save(x, tmp_path / "x.pt")
    script = ("import sys, torch\n"
              f"p = torch.export.load({str(tmp_path / 'model.pt2')!r})\n"
              f"y = p.module()([torch.load({str(tmp_path / 'x.pt')!r})])\n"
              "assert not any(m.startswith('slowfast') for m in sys.modules), 'slowfast was imported'\n"
              f"torch.save(y, {str(tmp_path / 'y.pt')!r})\n")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(torch.load(tmp_path / "y.pt"), model([x]), rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_export_round_trips(tmp_path):
    cfg = load_config(None, TINY)
    model = _trained_like(cfg).cuda()
    program = export_model(model, example_clip(cfg, 2, "cuda"))
    assert emim_op_nodes(program) == 2
    torch.export.save(program, tmp_path / "model.pt2")
    x = example_clip(cfg, 3, "cuda")
    with torch.no_grad():
        torch.testing.assert_close(torch.export.load(str(tmp_path / "model.pt2")).module()([x]), model([x]),
                                   rtol=1e-5, atol=1e-5)
