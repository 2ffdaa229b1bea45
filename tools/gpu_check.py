"""Helpers of tools/gpu_check.sh (see its header and docs/gpu_check.md): one subcommand per job.

    python tools/gpu_check.py facts --json FILE             # device, driver, toolkit, torch, peak bandwidth
    python tools/gpu_check.py wheels [--dir wheels/gpu-py312] [--install-list]
                                                             # which of tools/gpu_wheels.txt this Python lacks and
                                                             # the carried wheels that give them
    python tools/gpu_check.py argcheck FILE                 # every command in FILE (one per line, shell-quoted)
                                                             # parses: tools' flags and KEY VALUE overrides, pytest
                                                             # selections collect >= 1 test, named paths exist
    torchrun --nproc_per_node 1 tools/gpu_check.py nccl --json FILE   # NCCL collectives and a DDP step
    python tools/gpu_check.py report --work DIR --out FILE  # every step's record and figures in one JSON

Only `facts`, `wheels`, `argcheck` and `report` run without a GPU (gpu_check.sh --dry-run runs them).
"""

import argparse
import contextlib
import glob
import importlib.metadata
import importlib.util
import inspect
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WHEEL_LIST = os.path.join(REPO, "tools", "gpu_wheels.txt")
# The GPU machine's Python (docs/gpu_check.md): the tags its wheels must carry.
TARGET_PYTHON = (3, 12)
TARGET_PLATFORMS = ["manylinux1_x86_64", "manylinux2010_x86_64", "manylinux2014_x86_64",
                    *[f"manylinux_2_{n}_x86_64" for n in range(5, 40)], "linux_x86_64"]
# Paths a command may name that must exist in the checkout (output paths are the script's own).
REPO_PATH = re.compile(r"^(tools|tests|exp|configs|slowfast|csrc)/[\w./-]+$")
# The kernel's goals, checked by `report` where the figures exist.
KERNEL_GOAL = {"shape": "s3k7", "dtype": "bfloat16", "backend": "cuda", "cuda_kernel": "tensor_core",
               "max_fwd_bwd_us": 100.0, "min_pct_peak_fwd_bwd": 45.0, "min_x_torch_fwd_bwd": 5.0}


# ---- facts ----


def _run(cmd: list[str]) -> str | None:
    """stdout of `cmd` (stripped), or None where it is missing or fails."""
    if shutil.which(cmd[0]) is None:
        return None
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _nccl_version() -> str | None:
    import torch

    try:
        version = torch.cuda.nccl.version()
    except (AttributeError, RuntimeError):
        return None
    return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)


def facts(args) -> dict:
    import torch

    sys.path.insert(0, os.path.join(REPO, "tools"))
    from bench_kernels import peak_bandwidth_gbps

    out = {"python": sys.version.split()[0], "executable": sys.executable, "torch": torch.__version__,
           "torch_cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(), "cpus": os.cpu_count(),
           "nvidia_smi": _run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm,"
                                             "clocks.max.mem", "--format=csv,noheader"]),
           "nvcc": (_run(["nvcc", "--version"]) or "").splitlines()[-1:] or None,
           "compute_sanitizer": (_run(["compute-sanitizer", "--version"]) or "").splitlines()[-1:] or None}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        peak, source = peak_bandwidth_gbps(0)
        out.update(device=props.name, capability=f"{props.major}.{props.minor}", sms=props.multi_processor_count,
                   memory_gib=props.total_memory / 2**30, l2_mib=getattr(props, "L2_cache_size", 0) / 2**20,
                   peak_gbps=peak, peak_source=source, cudnn=torch.backends.cudnn.version(),
                   nccl=_nccl_version())
    for key, value in out.items():
        print(f"{key}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


# ---- wheels ----


def wanted(path: str = WHEEL_LIST) -> list[tuple[str, str]]:
    """(name, version) of each `name==version` line of tools/gpu_wheels.txt."""
    rows = []
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if line:
                name, version = line.split("==")
                rows.append((name.strip(), version.strip()))
    return rows


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def target_tags() -> set:
    from packaging import tags

    major, minor = TARGET_PYTHON
    found = set(tags.cpython_tags((major, minor), platforms=TARGET_PLATFORMS))
    found |= set(tags.compatible_tags((major, minor), f"cp{major}{minor}", platforms=TARGET_PLATFORMS))
    return found


def wheel_plan(folder: str, installed: dict[str, str] | None = None) -> tuple[list[str], list[str]]:
    """(wheels to install, problems) for the packages of tools/gpu_wheels.txt that this Python lacks.

    `installed`: {normalised name: version} (default: this Python's). A package already there, at any version,
    is kept; a missing one needs exactly one wheel of its pinned version in `folder` with a tag the target
    Python (TARGET_PYTHON, manylinux x86-64) accepts."""
    from packaging.utils import parse_wheel_filename

    if installed is None:
        installed = {_normal(d.metadata["Name"]): d.version for d in importlib.metadata.distributions()}
    wheels: dict[str, list[tuple[str, str, bool]]] = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.whl"))):
        name, version, _, wheel_tags = parse_wheel_filename(os.path.basename(path))
        wheels.setdefault(_normal(name), []).append((path, str(version), bool(set(wheel_tags) & target_tags())))
    install, problems = [], []
    for name, version in wanted():
        have = installed.get(_normal(name))
        found = wheels.get(_normal(name), [])
        if len(found) > 1:
            problems.append(f"{name}: {len(found)} wheels in {folder} ({', '.join(p for p, *_ in found)}); keep one")
        elif found and (found[0][1] != version or not found[0][2]):
            problems.append(f"{name}: {found[0][0]} is not {name}=={version} for Python "
                            f"{'.'.join(map(str, TARGET_PYTHON))} on manylinux x86-64")
        if have is not None:
            print(f"  {name:<12} present ({have})", file=sys.stderr)
        elif found:
            print(f"  {name:<12} missing, wheel {os.path.basename(found[0][0])}", file=sys.stderr)
            install.append(found[0][0])
        else:
            print(f"  {name:<12} missing, no wheel in {folder}", file=sys.stderr)
            problems.append(f"{name}=={version}: not installed and no wheel in {folder} (tools/fetch_gpu_wheels.sh)")
    return install, problems


def wheels(args) -> int:
    print(f"wheels: {args.dir} ({'present' if os.path.isdir(args.dir) else 'absent'}), packages of "
          f"{os.path.relpath(WHEEL_LIST, REPO)}:", file=sys.stderr)
    install, problems = wheel_plan(args.dir, {} if args.assume_missing else None)
    for problem in problems:
        print(f"wheels: {problem}", file=sys.stderr)
    if args.install_list:
        print("\n".join(install))
    return 1 if problems and not args.report_only else 0


# ---- argcheck ----


class _Parsed(BaseException):
    """Raised by the patched ArgumentParser.parse_args once the command line parsed (stops the tool there)."""

    def __init__(self, namespace):
        super().__init__()
        self.namespace = namespace


@contextlib.contextmanager
def _stop_after_parse():
    original = argparse.ArgumentParser.parse_args

    def parse_args(self, args=None, namespace=None):
        raise _Parsed(original(self, args, namespace))

    argparse.ArgumentParser.parse_args = parse_args
    try:
        yield
    finally:
        argparse.ArgumentParser.parse_args = original


def _parse_with(main, argv: list[str], script: str):
    """The namespace `main` parses from argv (main(argv), or sys.argv for a main without parameters)."""
    saved = sys.argv
    sys.argv = [script, *argv]
    err = io.StringIO()
    try:
        with _stop_after_parse(), contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            main(argv) if inspect.signature(main).parameters else main()
    except _Parsed as parsed:
        return parsed.namespace
    except SystemExit as exit_:
        raise ValueError(f"{script}: the command line does not parse (exit {exit_.code}): "
                         f"{err.getvalue().strip().splitlines()[-1:] or ''}") from None
    finally:
        sys.argv = saved
    raise ValueError(f"{script}: main() returned without parsing a command line")


def _load_tool(path: str):
    sys.path.insert(0, os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(f"_argcheck_{os.path.basename(path)[:-3]}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_overrides(namespace, script: str) -> str | None:
    """load_config of the tool's --cfg (bench_motion: the demo's config) with its KEY VALUE overrides."""
    opts = getattr(namespace, "opts", None)
    if not opts:
        return None
    from slowfast.config import load_config

    cfg = getattr(namespace, "cfg", None) or os.path.join(REPO, "exp", "motion_emim_tiny", "config.yaml")
    load_config(cfg, list(opts))
    return f"{len(opts) // 2} override(s) load on {os.path.relpath(cfg, REPO)}"


_collected: dict[tuple[str, ...], str] = {}


def _check_pytest(argv: list[str]) -> str:
    """pytest ARGV selects >= 1 test (collected in this process; the same selection is collected once)."""
    import pytest

    keep = tuple(a for a in argv if not a.startswith("--junitxml") and a not in ("-q", "-x", "-rfE", "-rA"))
    if keep not in _collected:

        class Count:
            items = 0

            def pytest_collection_finish(self, session):
                Count.items = len(session.items)

        out = io.StringIO()
        cwd = os.getcwd()
        os.chdir(REPO)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                code = pytest.main(["--collect-only", "-q", "-p", "no:cacheprovider", *keep], plugins=[Count()])
        finally:
            os.chdir(cwd)
        if code != 0 or Count.items == 0:
            raise ValueError(f"pytest {' '.join(keep)}: exit {int(code)}, {Count.items} tests: "
                             f"{out.getvalue().strip().splitlines()[-1:]}")
        _collected[keep] = f"pytest selection collects {Count.items} tests"
    return _collected[keep]


def check_python(argv: list[str]) -> str:
    """What a `python ARGV` command would do parses; the message says what was checked."""
    if argv[:1] == ["-c"]:
        compile(argv[1], "<command>", "exec")
        return "code compiles"
    if argv[:1] == ["-m"]:
        module, rest = argv[1], argv[2:]
        if module == "pytest":
            return _check_pytest(rest)
        if module == "torch.distributed.run":
            from torch.distributed import run as torchrun

            namespace = torchrun.get_args_parser().parse_args(rest)
            inner = check_python([namespace.training_script, *namespace.training_script_args])
            return f"torchrun --nproc_per_node {namespace.nproc_per_node}; {inner}"
        if importlib.util.find_spec(module) is None:
            raise ValueError(f"no module {module}")
        return f"module {module} found"
    script, rest = argv[0], argv[1:]
    path = script if os.path.isabs(script) else os.path.join(REPO, script)
    if not os.path.isfile(path):
        raise ValueError(f"no script {script}")
    if os.path.dirname(os.path.abspath(path)) != os.path.join(REPO, "tools"):  # setup.py: never executed here
        with open(path) as f:
            compile(f.read(), path, "exec")
        return f"{script} compiles"
    namespace = _parse_with(_load_tool(path).main, rest, script)
    checked = _check_overrides(namespace, script)
    return f"{script} parses" + (f"; {checked}" if checked else "")


def _python_at(tokens: list[str]) -> int | None:
    for i, token in enumerate(tokens):
        if re.fullmatch(r"python[\d.]*", os.path.basename(token)) or token == sys.executable:
            return i
    return None


def check_command(line: str) -> str:
    tokens = shlex.split(line)
    for token in tokens:
        path = token.split("::")[0]
        if REPO_PATH.match(path) and not os.path.exists(os.path.join(REPO, path)):
            raise ValueError(f"{path} does not exist")
    at = _python_at(tokens)
    if at is not None:
        return check_python(tokens[at + 1:])
    if tokens[0] == "bash":
        subprocess.run(["bash", "-n", tokens[1]], check=True, cwd=REPO)
        return f"bash -n {tokens[1]}"
    return f"{tokens[0]}: not a Python command, paths checked"


def argcheck(args) -> int:
    failed = 0
    with open(args.file) as f:
        lines = [line.strip() for line in f if line.strip()]
    for line in lines:
        try:
            print(f"argcheck ok: {check_command(line)}  <- {line[:160]}")
        except Exception as err:  # every command is checked; each failure named
            failed += 1
            print(f"argcheck FAILED: {line}\n  {type(err).__name__}: {err}")
    print(f"argcheck: {len(lines) - failed}/{len(lines)} commands parse")
    return 1 if failed else 0


# ---- nccl ----


def nccl(args) -> int:
    """Under torchrun: NCCL collectives, then DDP training steps of a tiny UniFormer (fp16 autocast, loss scaling)."""
    import torch
    import torch.distributed as dist
    import torch.nn as nn

    from slowfast.config.tiny import tiny_cfg
    from slowfast.models import build_model
    from slowfast.utils import distributed as du

    du.init_process_group("nccl", timeout_minutes=2)
    rank, world = dist.get_rank(), dist.get_world_size()
    device = torch.device("cuda", du.get_local_rank())
    torch.cuda.set_device(device)
    out = {"backend": dist.get_backend(), "world": world, "nccl": _nccl_version()}
    x = torch.full((1 << 20,), float(rank + 1), device=device)
    dist.all_reduce(x)
    out["all_reduce_ok"] = bool(torch.all(x == world * (world + 1) / 2))
    gathered = [torch.empty(4, device=device) for _ in range(world)]
    dist.all_gather(gathered, torch.full((4,), float(rank), device=device))
    out["all_gather_ok"] = all(bool(torch.all(g == r)) for r, g in enumerate(gathered))
    dist.barrier()
    # SyncBatchNorm falls back to BatchNorm in a group of one process; DDP still reduces gradients through NCCL.
    model = nn.SyncBatchNorm.convert_sync_batchnorm(build_model(tiny_cfg())).to(device)
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
    optimizer = torch.optim.SGD(ddp.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda")
    clip = torch.randn(2, 3, 16, 64, 64, device=device)
    labels = torch.tensor([0, 1], device=device)
    losses = []
    for _ in range(3):
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.float16):
            loss = nn.functional.cross_entropy(ddp([clip]), labels)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        losses.append(loss.item())
    out["ddp_fp16_losses"] = losses
    out["ddp_ok"] = all(map(lambda v: v == v and abs(v) != float("inf"), losses))
    du.destroy_process_group()
    print(json.dumps(out))
    if rank == 0 and args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0 if out["all_reduce_ok"] and out["all_gather_ok"] and out["ddp_ok"] else 1


# ---- report ----


def _load(path: str):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def junit_summary(path: str) -> dict | None:
    """Counts and the failing tests (name, first line of the message) of a pytest --junitxml file."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    counts = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    failed = []
    for case in root.iter("testcase"):
        for kind in ("failure", "error"):
            for node in case.findall(kind):
                message = (node.get("message") or node.text or "").strip().splitlines()[:1]
                failed.append(f"{case.get('classname')}::{case.get('name')} ({kind}): {''.join(message)[:300]}")
    skipped = sorted({(node.get("message") or "").strip()[:200] for node in root.iter("skipped")})
    return {**counts, "failed": failed, "skip_reasons": skipped}


def _json_lines(path: str) -> list[dict]:
    rows = []
    with contextlib.suppress(OSError), open(path) as f:
        for line in f:
            with contextlib.suppress(ValueError):
                rows.append(json.loads(line))
    return rows


def _finished_seeds(path: str) -> list[int] | None:
    """Seeds 0..n-1 of the motion benchmark's last finished wave (the file holds n)."""
    try:
        with open(path) as f:
            return list(range(int(f.read())))
    except (OSError, ValueError):
        return None


def kernel_goals(kernels: dict | None) -> dict | None:
    if not kernels:
        return None
    goal = KERNEL_GOAL
    rows = [r for r in kernels.get("rows", []) if r["shape"] == goal["shape"] and r["dtype"] == goal["dtype"]
            and r["backend"] == goal["backend"] and r.get("fwd_bwd_s")
            and r.get("cuda_kernel", "tensor_core") == goal["cuda_kernel"]]  # no cuda_kernel: the op's default
    if not rows:
        return {"goal": goal, "measured": None}
    r = rows[0]
    us, pct, ratio = r["fwd_bwd_s"] * 1e6, r.get("pct_peak_fwd_bwd"), r.get("x_torch_fwd_bwd")
    return {"goal": goal, "B,T,H,W,heads,d,K": r["B,T,H,W,heads,d,K"], "fwd_bwd_us": us, "pct_peak_fwd_bwd": pct,
            "x_torch_fwd_bwd": ratio, "met": {"time": us <= goal["max_fwd_bwd_us"],
                                              "bandwidth": pct is not None and pct >= goal["min_pct_peak_fwd_bwd"],
                                              "x_torch": ratio is not None and ratio >= goal["min_x_torch_fwd_bwd"]}}


def model_goals(model: dict | None) -> list[dict] | None:
    """EMIM no slower than global attention: each EMIM row with its x_global (bench_model_extra)."""
    if not model:
        return None
    return [{"precision": r["precision"], "checkpointing": r["checkpointing"], "x_global": r["x_global"],
             "met": r["x_global"] is not None and r["x_global"] <= 1.0}
            for r in model.get("rows", []) if r["variant"] == "emim" and r.get("x_global") is not None]


THROUGHPUT_GOAL = {"min_clips_per_s": 200.0, "min_mixed_x_fp32": 2.0}


def throughput_goals(model: dict | None) -> dict | None:
    """The fastest mixed-precision row or sweep batch (clips/s, MFU, peak GiB, its levers) against 200 clips/s,
    and mixed precision's speed-up over fp32 with the same levers and batch (>= 2)."""
    if not model:
        return None
    timed = [r for r in model.get("rows", []) + model.get("sweep", []) if r.get("clips_per_s")]
    mixed = [r for r in timed if r["precision"] != "fp32"]
    best = max(mixed, key=lambda r: r["clips_per_s"], default=None)
    speedups = []
    for r in mixed:
        fp32 = next((o for o in timed if o["precision"] == "fp32" and o["levers"] == r["levers"]
                     and o["batch"] == r["batch"] and o["variant"] == r["variant"]), None)
        if fp32:
            speedups.append({"precision": r["precision"], "levers": r["levers"], "batch": r["batch"],
                             "x_fp32": fp32["step_s"] / r["step_s"]})
    keys = ("precision", "levers", "batch", "clips_per_s", "mfu_pct", "peak_gib", "step_s")
    return {"goal": THROUGHPUT_GOAL, "best": {k: best[k] for k in keys} if best else None,
            "met": best is not None and best["clips_per_s"] >= THROUGHPUT_GOAL["min_clips_per_s"],
            "mixed_x_fp32": speedups}


def report(args) -> int:
    work = args.work
    steps = _json_lines(os.path.join(work, "steps.jsonl"))
    out = {"dry_run": args.dry_run, "budget_s": args.budget, "elapsed_s": args.elapsed, "steps": steps,
           "facts": _load(os.path.join(work, "facts.json")),
           "tests": {os.path.basename(p)[6:-4]: junit_summary(p) for p in sorted(glob.glob(f"{work}/junit_*.xml"))},
           "bench_kernels": _load(os.path.join(work, "bench_kernels.json")),
           "bench_model": _load(os.path.join(work, "bench_model.json")),
           "bench_model_extra": _load(os.path.join(work, "bench_model_extra.json")),
           "bench_data": _load(os.path.join(work, "bench_data.json")),
           "nccl": _load(os.path.join(work, "nccl.json")),
           "demo": {"json_stats": _json_lines(os.path.join(work, "demo", "json_stats.log"))[-4:]},
           "bench_motion": {"seeds": _finished_seeds(os.path.join(work, "motion_seeds.txt")),
                            "results": _load(os.path.join(work, "bench_motion.json"))}}
    out["goals"] = {"kernel": kernel_goals(out["bench_kernels"]),
                    "model": model_goals(out["bench_model_extra"] or out["bench_model"]),
                    "throughput": throughput_goals(out["bench_model"])}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{'step':<22} {'status':<9} {'rc':>4} {'seconds':>8}  message")
    for s in steps:
        print(f"{s['name']:<22} {s['status']:<9} {s['rc']:>4} {s['seconds']:>8.1f}  {s.get('message', '')}")
    for name, summary in out["tests"].items():
        if summary:
            print(f"tests {name}: {summary['tests']} run, {summary['failures']} failed, {summary['errors']} errors, "
                  f"{summary['skipped']} skipped")
            for line in summary["failed"]:
                print(f"  {line}")
    kernel = out["goals"]["kernel"]
    if kernel and kernel.get("fwd_bwd_us") is not None:
        print(f"goal, EMIM {kernel['goal']['shape']} {kernel['goal']['dtype']} fwd+bwd: {kernel['fwd_bwd_us']:.1f} us "
              f"(<= 100), {kernel['pct_peak_fwd_bwd'] or float('nan'):.1f}% of peak (>= 45), "
              f"{kernel['x_torch_fwd_bwd'] or float('nan'):.2f}x torch (>= 5): {kernel['met']}")
    for row in out["goals"]["model"] or []:
        print(f"goal, EMIM step vs global ({row['precision']}, checkpointing {row['checkpointing']}): "
              f"x{row['x_global'] or float('nan'):.2f} (<= 1): {row['met']}")
    throughput = out["goals"]["throughput"]
    if throughput and throughput["best"]:
        b = throughput["best"]
        print(f"goal, training throughput: {b['clips_per_s']:.1f} clips/s (>= 200) at {b['precision']}, levers "
              f"{b['levers']}, batch {b['batch']}, MFU {b['mfu_pct'] or float('nan'):.1f}%, peak "
              f"{b['peak_gib'] or float('nan'):.1f} GiB: {throughput['met']}")
        for row in throughput["mixed_x_fp32"]:
            print(f"goal, {row['precision']} vs fp32 (levers {row['levers']}, batch {row['batch']}): "
                  f"x{row['x_fp32']:.2f} (>= 2): {row['x_fp32'] >= THROUGHPUT_GOAL['min_mixed_x_fp32']}")
    print(f"report: {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("facts")
    p.add_argument("--json")
    p = sub.add_parser("wheels")
    p.add_argument("--dir", default=os.path.join(REPO, "wheels", "gpu-py312"))
    p.add_argument("--install-list", action="store_true", help="print the wheels to install, one per line")
    p.add_argument("--report-only", action="store_true", help="exit 0 even where a package cannot be installed")
    p.add_argument("--assume-missing", action="store_true",
                   help="plan as on a machine that has none of the packages (what the GPU machine installs)")
    p = sub.add_parser("argcheck")
    p.add_argument("file")
    p = sub.add_parser("nccl")
    p.add_argument("--json")
    p = sub.add_parser("report")
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--budget", type=float)
    p.add_argument("--elapsed", type=float)
    p.add_argument("--dry-run", action="store_true")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    commands = {"facts": facts, "wheels": wheels, "argcheck": argcheck, "nccl": nccl, "report": report}
    result = commands[args.command](args)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    sys.exit(main())
