"""tools/bench_model.py on the CPU (tiny model, brief): every lever set and variant gives a row with its
derived figures consistent (clips/s = batch / step, TFLOP/s from fvcore's count x2 x3), the ratios, the batch
sweep, the profile's top operators, the budget; the lever sets and the datasheet peak table."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO

from slowfast.config import load_config
from slowfast.engine import step_bench
from slowfast.models import build_model
from slowfast.utils.complexity import clip_flops

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools"))
import bench_model  # noqa: E402

TINY_ARGS = ["--size", "tiny", "--frames", "4", "--crop", "32", "--batch", "2", "--reps", "1", "--threads", "1"]


def test_lever_sets_set_every_key():
    assert step_bench.lever_overrides("cfg") == []
    none = dict(zip(*[iter(step_bench.lever_overrides("none"))] * 2))
    assert none == {"PERF.CUDNN_BENCHMARK": "False", "PERF.CHANNELS_LAST": "False",
                    "PERF.POINTWISE_AS_LINEAR": "False", "PERF.COMPILE": "False"}
    some = dict(zip(*[iter(step_bench.lever_overrides("cudnn+cl"))] * 2))
    assert some == {**none, "PERF.CUDNN_BENCHMARK": "True", "PERF.CHANNELS_LAST": "True"}
    with pytest.raises(ValueError, match="unknown \\['fast'\\]"):
        step_bench.lever_overrides("cl+fast")
    with pytest.raises(SystemExit):
        bench_model.build_parser().parse_args(["--levers", "cl+fast"])
    assert bench_model.split_lever_set("cudnn+cl@fp16,bf16", ["fp32"]) == ("cudnn+cl", ["fp16", "bf16"])
    assert bench_model.split_lever_set("cudnn", ["fp32"]) == ("cudnn", ["fp32"])
    with pytest.raises(SystemExit):
        bench_model.build_parser().parse_args(["--levers", "cl@fp8"])


@pytest.mark.parametrize("name, peak", [("NVIDIA H200", 989.4), ("NVIDIA H100 80GB HBM3", 989.4),
                                        ("NVIDIA H100 PCIe", 756.0), ("NVIDIA A100-SXM4-80GB", 312.0),
                                        ("Some GPU", None)])
def test_peak_table_by_device_name(monkeypatch, name, peak):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: name)
    assert step_bench.peak_tflops(torch.device("cuda"))[0] == peak
    assert step_bench.peak_tflops(torch.device("cpu"))[0] is None


def test_every_lever_and_variant_side_by_side_on_the_cpu(tmp_path):
    """The tool as a command, in a process of its own: inside the whole suite's process, the bfloat16 EMIM row's
    step once turned non-finite at its second iteration (never alone; docs/design_choices.md)."""
    proc = subprocess.run([sys.executable, str(REPO / "tools" / "bench_model.py"), *TINY_ARGS, "--variants", "emim",
                           "global", "--levers", "none", "cl+linear", "linear@bf16", "--sweep-batches", "2", "4",
                           "--profile", "3", "--json", str(tmp_path / "b.json")], cwd=REPO, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads((tmp_path / "b.json").read_text())
    assert [(r["levers"], r["variant"], r["precision"]) for r in out["rows"]] == [
        ("none", "emim", "fp32"), ("none", "global", "fp32"), ("cl+linear", "emim", "fp32"),
        ("cl+linear", "global", "fp32"), ("linear", "emim", "bf16"), ("linear", "global", "bf16")]
    rows = out["rows"][:4]
    assert out["rows"][4]["step_s"] > 0 and out["rows"][4]["x_none"] is None  # no "none" row at bf16
    assert all(r["step_s"] > 0 and r["cpu_s"] > 0 and "error" not in r for r in rows)
    for r in rows:
        cfg = load_config(None, bench_model.row_opts(bench_model.build_parser().parse_args(TINY_ARGS), r["variant"],
                                                     "fp32", "off", "none"))
        forward, _ = clip_flops(build_model(cfg), torch.zeros(1, 3, 4, 32, 32))
        assert out["train_flops_per_clip"][r["variant"]] == 6 * forward  # multiply-add = 2, forward + backward
        assert r["clips_per_s"] == pytest.approx(2 / r["step_s"])
        assert r["tflops"] == pytest.approx(6 * forward * 2 / r["step_s"] / 1e12)
        assert r["mfu_pct"] is None and r["peak_gib"] is None  # no peak table or CUDA allocator on the CPU
    emim_none, global_none, emim_fast, _ = rows
    assert emim_none["x_global"] == pytest.approx(emim_none["step_s"] / global_none["step_s"])
    assert emim_fast["x_none"] == pytest.approx(emim_none["step_s"] / emim_fast["step_s"])
    assert global_none["x_global"] == 1.0 and emim_none["x_none"] == 1.0
    assert [(r["levers"], r["batch"]) for r in out["sweep"]] == [("linear", 2), ("linear", 4)]
    kernels = out["profile"]["kernels"]
    assert len(kernels) == 3 and all(k["name"].startswith(("aten::", "Optimizer")) for k in kernels)
    assert kernels[0]["self_ms"] >= kernels[1]["self_ms"] >= kernels[2]["self_ms"] > 0


def test_rows_past_the_budget_are_skipped_and_say_so():
    out = bench_model.main([*TINY_ARGS, "--variants", "emim", "--budget", "0"])
    assert out["rows"][0]["step_s"] is None and out["rows"][0]["error"].startswith("skipped: past the 0 s budget")


def test_rounds_interleave_the_rows_and_keep_each_rows_fastest(monkeypatch):
    calls = []
    times = iter([0.5, 0.4, 0.3, 0.6])  # round 1: none, cl; round 2: none, cl

    def fake_measure(cfg, batch, reps, warmup, plain_bn=False):
        calls.append(cfg.PERF.CHANNELS_LAST)
        return step_bench.Measured(step_s=next(times), cpu_s=0.1)

    monkeypatch.setattr(bench_model, "measure", fake_measure)
    monkeypatch.setattr(bench_model, "train_step_flops", lambda cfg: 10**9)
    out = bench_model.main([*TINY_ARGS, "--variants", "emim", "--levers", "none", "cl", "--rounds", "2"])
    assert calls == [False, True, False, True]  # row after row, round after round
    none, cl = out["rows"]
    assert (none["step_s"], cl["step_s"]) == (0.3, 0.4)
    assert cl["x_none"] == pytest.approx(0.75) and none["clips_per_s"] == pytest.approx(2 / 0.3)
    assert none["tflops"] == pytest.approx(1e9 * 2 / 0.3 / 1e12)
