"""tools/gpu_check.sh --dry-run (no GPU): it exits 0, prints every step, every path it names exists, and every
command it would run checks (tools/gpu_check.py argcheck: flags, KEY VALUE overrides, pytest selections);
argcheck itself turns red on a bad flag, key, choice, selection or path; the wheels plan and list."""

import json
import os
import re
import shlex
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))

import gpu_check  # noqa: E402

# Every step the script records, in its order (the sanitizers print a probe line, then the command).
STEPS = ["facts", "install", "imports", "build", "extension", "cuda_tests", "bench_motion", "bench_kernels",
         "bench_model", "bench_model_extra", "nccl", "demo_data", "demo_run", "bench_data", "sanitizer_memcheck",
         "sanitizer_racecheck", "sanitizer_synccheck"]
# --quick: set-up, build, CUDA tests, the kernel bench, the recipe's step under every lever, the loader bench.
QUICK_STEPS = ["facts", "install", "imports", "build", "extension", "cuda_tests", "bench_kernels", "bench_data",
               "bench_model"]


def _gpu_check(out, *flags: str, timeout: int = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("OUT", "PYTHON", "GPU_CHECK_BUDGET_S",
                                                             "GPU_CHECK_QUICK_BUDGET_S", "GPU_CHECK_DEADLINE")}
    env.update(OMP_NUM_THREADS="1", GPU_CHECK_WORK=str(out / "work"))
    return subprocess.run(["bash", "tools/gpu_check.sh", *flags, "--out", str(out)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check")
    return _gpu_check(out, "--dry-run"), out


@pytest.fixture(scope="module")
def quick_dry_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check_quick")
    return _gpu_check(out, "--quick", "--dry-run"), out


def test_dry_run_exits_0_prints_every_step_and_writes_the_report(dry_run):
    proc, out = dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    positions = [proc.stdout.find(f"=== [{step}]") for step in STEPS]
    assert -1 not in positions, [s for s, p in zip(STEPS, positions) if p == -1]
    assert positions == sorted(positions)
    assert "DRY RUN" in proc.stdout
    assert (out / "gpu_check.log").read_text() == proc.stdout
    report = json.loads((out / "gpu_check.json").read_text())
    assert report["dry_run"] is True
    assert [s["name"] for s in report["steps"]] == STEPS
    assert {s["status"] for s in report["steps"][1:]} == {"dry-run"} and report["steps"][0]["status"] == "ok"


def test_every_command_checks(dry_run):
    proc, out = dry_run
    commands = (out / "work" / "commands.txt").read_text().strip().splitlines()
    match = re.search(r"argcheck: (\d+)/(\d+) commands parse", proc.stdout)
    assert match and match.group(1) == match.group(2) == str(len(commands))
    assert "argcheck FAILED" not in proc.stdout
    checked = " ".join(commands)
    for tool in ("tools/bench_kernels.py", "tools/bench_model.py", "tools/bench_motion.py", "tools/run_net.py",
                 "tools/make_motion_dataset.py", "tools/gpu_check.py", "torch.distributed.run", "compute-sanitizer",
                 "setup.py build_ext --inplace", "tools/fetch_gpu_wheels.sh"):
        assert tool in checked, tool
    # the CUDA tests and the sanitizer selection collect tests; the run_net and bench_motion overrides load
    assert re.search(r"argcheck ok: pytest selection collects [1-9]\d* tests  <- .*junit_cuda_tests", proc.stdout)
    assert len(re.findall(r"argcheck ok: pytest selection collects [1-9]\d* tests  <- env PYTORCH", proc.stdout)) == 3
    assert re.search(r"tools/run_net.py parses; \d+ override\(s\) load", proc.stdout)
    assert re.search(r"tools/bench_motion.py parses; \d+ override\(s\) load", proc.stdout)


def _limits(stdout: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^=== \[(\w+)\] \(limit (\d+)s\)", stdout, re.M)}


def test_quick_dry_run_prints_its_steps_in_order_and_checks_every_command(quick_dry_run):
    proc, out = quick_dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "DRY RUN, budget 240s" in proc.stdout
    report = json.loads((out / "gpu_check.json").read_text())
    assert [s["name"] for s in report["steps"]] == QUICK_STEPS and report["budget_s"] == 240
    positions = [proc.stdout.find(f"=== [{step}]") for step in QUICK_STEPS]
    assert -1 not in positions and positions == sorted(positions)
    for skipped in set(STEPS) - set(QUICK_STEPS):
        assert f"=== [{skipped}]" not in proc.stdout, skipped
    commands = (out / "work" / "commands.txt").read_text().strip().splitlines()
    assert re.search(rf"argcheck: {len(commands)}/{len(commands)} commands parse", proc.stdout)
    assert "argcheck FAILED" not in proc.stdout
    model = next(shlex.split(c) for c in commands if "tools/bench_model.py" in c)
    levers = model[model.index("--levers") + 1:model.index("--profile")]
    assert levers == ["none", "cudnn", "cudnn+cl", "cudnn+cl+linear@fp16,bf16,fp32",
                      "cudnn+cl+linear+compile"]  # every lever added in turn, all precisions on the eager set
    assert model[model.index("--profile") + 1] == "15"
    assert model[model.index("--cfg") + 1] == "exp/emim_s16_sthv2_k400/config.yaml"
    # the tool's own budget ends its rows before the step's limit, which the deadline caps
    assert int(model[model.index("--budget") + 1]) < _limits(proc.stdout)["bench_model"] <= 240
    named = {t for c in commands for t in shlex.split(c) if gpu_check.REPO_PATH.match(t)}
    assert named and all(os.path.exists(os.path.join(REPO, p)) for p in named)


def test_steps_are_cut_to_the_deadline(tmp_path):
    """A real (not dry) run of the import check with a 40 s budget: its 60 s limit is cut to the 15 s left
    before the deadline (40 - the 25 s kept for the report), and the whole stays within the budget."""
    proc = _gpu_check(tmp_path, "--quick", "--steps", "imports,report", "--budget", "40", timeout=60)
    assert "=== [imports] (limit 15s)" in proc.stdout, proc.stdout[-2000:]
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    assert [s["name"] for s in report["steps"]] == ["imports"] and report["elapsed_s"] <= 40


def test_every_path_named_exists(dry_run):
    proc, out = dry_run
    named = set()
    for line in (out / "work" / "commands.txt").read_text().splitlines():
        named |= {t.split("::")[0] for t in shlex.split(line) if gpu_check.REPO_PATH.match(t.split("::")[0])}
    with open(os.path.join(REPO, "tools", "gpu_check.sh")) as f:
        named |= set(re.findall(r"\b((?:tools|tests|exp|configs)/[\w./-]+\.(?:py|sh|txt|yaml))", f.read()))
    assert {"tools/bench_kernels.py", "tests/test_ops_emim_kernels.py", "exp/motion_emim_tiny/config.yaml"} <= named
    missing = sorted(p for p in named if not os.path.exists(os.path.join(REPO, p)))
    assert not missing


def test_argcheck_rejects_bad_commands(tmp_path):
    bad = [
        "python tools/bench_kernels.py --dtypes float33",
        "python tools/bench_kernels.py --no-such-flag",
        "python tools/bench_model.py --device cuda --precisions fp8",
        "python tools/run_net.py --cfg exp/motion_emim_tiny/config.yaml NO_SUCH.KEY 1",
        "python tools/bench_motion.py --seeds 0 --out /tmp/x SOLVER.MAX_EPOCH ten",
        "python -m torch.distributed.run --nproc_per_node 1 tools/bench_model.py --checkpointing maybe",
        "python -m pytest -q tests/test_ops_emim_kernels.py -k no_such_test_anywhere",
        "python tools/no_such_tool.py --help",
        "bash tools/no_such_script.sh",
    ]
    good = ["python tools/bench_model.py --device cuda --precisions bf16 fp16 --checkpointing off on"]
    commands = tmp_path / "commands.txt"
    commands.write_text("\n".join(bad + good) + "\n")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "tools", "gpu_check.py"), "argcheck", str(commands)],
                          cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    for line in bad:
        assert f"argcheck FAILED: {line}" in proc.stdout, line
    assert f"argcheck: 1/{len(bad) + 1} commands parse" in proc.stdout


def test_wheel_list_pins_the_requirements_versions():
    with open(os.path.join(REPO, "requirements.txt")) as f:
        pins = dict(line.split("#")[0].strip().split("==") for line in f if "==" in line.split("#")[0])
    listed = gpu_check.wanted()
    assert {"fvcore", "iopath", "yacs", "decord", "av"} <= {name for name, _ in listed}
    for name, version in listed:
        if name in pins:
            assert pins[name] == version, name


def test_wheel_plan_on_a_bare_machine(tmp_path, capsys):
    for name, version in gpu_check.wanted():
        tag = "cp311-abi3-manylinux_2_28_x86_64" if name == "av" else "py3-none-any"
        (tmp_path / f"{name}-{version}-{tag}.whl").write_bytes(b"")
    install, problems = gpu_check.wheel_plan(str(tmp_path), {})
    assert problems == [] and len(install) == len(gpu_check.wanted())
    install, problems = gpu_check.wheel_plan(str(tmp_path), {"fvcore": "0.1.5", "av": "18.1.0"})
    assert problems == [] and not any(os.path.basename(p).startswith(("fvcore", "av-")) for p in install)
    # a second version of one package, a wheel for another Python, a package without a wheel: each named
    (tmp_path / "yacs-0.1.7-py3-none-any.whl").write_bytes(b"")
    os.rename(tmp_path / "av-18.1.0-cp311-abi3-manylinux_2_28_x86_64.whl",
              tmp_path / "av-18.1.0-cp311-cp311-manylinux_2_28_x86_64.whl")
    os.remove(next(tmp_path.glob("decord-*.whl")))
    _, problems = gpu_check.wheel_plan(str(tmp_path), {})
    assert len(problems) == 3
    assert any(p.startswith("yacs: 2 wheels") for p in problems)
    assert any(p.startswith("av: ") and "Python 3.12" in p for p in problems)
    assert any(p.startswith("decord==0.6.0: not installed and no wheel") for p in problems)


def test_throughput_goal_takes_the_fastest_mixed_row_and_pairs_fp32():
    def row(precision, levers, batch, step_s):
        return {"variant": "emim", "precision": precision, "levers": levers, "batch": batch, "step_s": step_s,
                "clips_per_s": batch / step_s, "mfu_pct": 1.0, "peak_gib": 2.0}

    model = {"rows": [row("fp16", "none", 8, 1.0), row("fp16", "cudnn", 8, 0.1), row("fp32", "cudnn", 8, 0.3)],
             "sweep": [row("fp16", "cudnn", 64, 0.25)]}
    goals = gpu_check.throughput_goals(model)
    assert goals["best"]["batch"] == 64 and goals["best"]["clips_per_s"] == 256.0 and goals["met"] is True
    assert goals["mixed_x_fp32"] == [{"precision": "fp16", "levers": "cudnn", "batch": 8, "x_fp32": pytest.approx(3.0)}]
    assert gpu_check.throughput_goals({"rows": model["rows"][:1], "sweep": []})["met"] is False


def test_kernel_goal_reads_the_tensor_core_row_whatever_the_row_order():
    """bench_kernels --kernel simt tensor_core lists the SIMT row first: the goal is the tensor-core kernel's, with
    the time, the fraction of roofline and the ratio to the torch backend checked against their thresholds."""
    def row(kernel, fwd_bwd_s, pct, x_torch):
        return {"shape": "s3k7", "dtype": "bfloat16", "backend": "cuda", "cuda_kernel": kernel,
                "B,T,H,W,heads,d,K": "x", "fwd_bwd_s": fwd_bwd_s, "pct_peak_fwd_bwd": pct, "x_torch_fwd_bwd": x_torch}

    goals = gpu_check.kernel_goals({"rows": [row("simt", 2.4e-3, 1.7, 1.06), row("tensor_core", 90e-6, 50.0, 6.0)]})
    assert goals["fwd_bwd_us"] == pytest.approx(90.0) and goals["met"] == {"time": True, "bandwidth": True,
                                                                          "x_torch": True}
    goals = gpu_check.kernel_goals({"rows": [row("simt", 90e-6, 50.0, 6.0)]})
    assert goals["measured"] is None
