"""Benchmark of the EMIM op backends at EMIM-S shapes: time and peak extra memory, forward and forward+backward.

    python tools/bench_kernels.py [--device cpu|cuda] [--threads 2] [--reps 7] [--dtypes float32 bfloat16]
                                  [--modes fwd fwd_bwd] [--shapes s3k7 s4k7 ...]
                                  [--backends torch cuda released flex] [--kernel tensor_core simt]
                                  [--batch B] [--json FILE]

Shapes (B*T clips*frames, H x W, heads x d, window K): stage 3 `s3k7` (2*16 on CPU, 8*16 on GPU, 14x14,
5x64, K=7), stage 4 `s4k7` (7x7, 8x64, K=7) and stage 3 with K = 3, 5, 9, 11 (`s3k3` ... `s3k11`); --batch
sets B. Inputs are the strided q, k, v views of one qkv tensor [B, T, H, W, 3, heads, d] as in the model, in
each of --dtypes (rpb too); gradients flow into qkv and rpb.

Each (shape, backend) runs in fresh subprocesses. Time: the fastest of --reps runs after one warm-up
(the fastest, since the CPU machines are shared); on GPU each run is --inner back-to-back calls between
two CUDA events, divided by --inner, so the launch latency of one call does not dominate a 100 us kernel.
Peak extra memory, on CPU in a separate subprocess: the growth of the process's peak resident set (VmHWM,
reset through /proc/self/clear_refs after a warm-up) over its resident set just before the measured run,
with glibc told to mmap every block >= 64 KiB so that freed memory really leaves the process (this slows
allocation, hence not timed); on GPU, torch.cuda.max_memory_allocated over the allocated bytes before one
forward+backward. Both count the outputs and gradients, which every backend produces.
On GPU the table adds the achieved memory bandwidth against the device's peak (the memory clock and bus
width torch reports, else a datasheet figure by device name; the measured device-to-device copy rate is
logged beside it). Minimal bytes: forward, read q, k, v, rpb once and write cost and context; backward,
read q, k, v, rpb and the gradients of cost and context, write the gradients of qkv and rpb; fwd+bwd is
the sum. The released design (1e-6-padded copies, K*K shifted key/value copies, separate QK and AV
products) is re-implemented with PyTorch ops as a baseline, and `flex` is the op as a user would write it
today (slowfast/ops/emim_flex.py: FlexAttention under torch.compile for the context, plus a separate logits
op for the cost, which FlexAttention cannot return; GPU only: on CPU FlexAttention has no backward).
--kernel picks the CUDA kernels of the cuda backend (rows `cuda:tensor_core`, `cuda:simt`; both side by side
when both are given).
Ratios are to the torch backend at the same dtype, measured in the same run. --json writes every number
(one row per shape, dtype and backend).
"""

import argparse
import json
import logging
import os
import re
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from slowfast.ops import CUDA_KERNELS

logger = logging.getLogger("bench_kernels")

HEAD_DIM = 64
DTYPES = ("float32", "bfloat16", "float16", "float64")
MODES = ("fwd", "fwd_bwd")
SHAPE_KEYS = ("s3k7", "s4k7", "s3k3", "s3k5", "s3k9", "s3k11")
# Datasheet memory bandwidth (GB/s) by a part of torch.cuda.get_device_name(); the longest match wins.
PEAK_GBPS = {
    "H200": 4800, "H100 NVL": 3900, "H100 PCIe": 2000, "H100": 3350, "GH200": 4000, "B200": 8000,
    "A100-SXM4-80GB": 2039, "A100 80GB PCIe": 1935, "A100": 1555, "L40S": 864, "L40": 864, "L4": 300,
    "A10G": 600, "A10": 600, "V100": 900, "T4": 320, "RTX 4090": 1008, "RTX 3090": 936,
}


def shapes(device: str, batch: int | None = None) -> list[tuple[str, str, tuple[int, ...]]]:
    """(key, label, (B, T, H, W, heads, d, K)) for the device."""
    batch = batch or (8 if device == "cuda" else 2)
    rows = [("s3k7", "stage3 K=7", (batch, 16, 14, 14, 5, HEAD_DIM, 7)),
            ("s4k7", "stage4 K=7", (batch, 16, 7, 7, 8, HEAD_DIM, 7))]
    rows += [(f"s3k{k}", f"stage3 K={k}", (batch, 16, 14, 14, 5, HEAD_DIM, k)) for k in (3, 5, 9, 11)]
    return rows


def released_design(q, k, v, rpb, scale):
    """The released layout in PyTorch ops: padded copies, K*K shifted copies of keys and values, separate QK, AV."""
    batch, frames, height, width, heads, dim = q.shape
    window = rpb.shape[-1]
    r = window // 2

    def shifted(x):  # [B, T-1, H, W, n, d] -> [B, T-1, H, W, n, K*K, d]
        x = F.pad(x.permute(0, 1, 4, 5, 2, 3), (r, r, r, r), value=1e-6)
        x = torch.stack([x[..., u:u + height, w:w + width] for u in range(window) for w in range(window)], -1)
        return x.permute(0, 1, 4, 5, 2, 6, 3)

    keys, values = shifted(k[:, 1:]), shifted(v[:, 1:])
    cost = torch.einsum("bthwnd,bthwnkd->bthwnk", q[:, :-1] * scale, keys) + rpb.reshape(heads, -1).to(q.dtype)
    weights = cost.softmax(-1, dtype=torch.float32).to(q.dtype)
    context = torch.einsum("bthwnk,bthwnkd->bthwnd", weights, values)
    return torch.cat([cost, cost[:, -1:]], 1), torch.cat([context, context[:, -1:]], 1)


def minimal_bytes(shape: tuple[int, ...], element: int) -> dict:
    """Bytes the op must move at least: forward, backward (see the module docstring) and their sum."""
    batch, frames, height, width, heads, dim, window = shape
    qkv = batch * frames * height * width * 3 * heads * dim
    rpb = heads * window * window
    outputs = batch * frames * height * width * heads * (window**2 + dim)  # cost and context
    fwd = (qkv + rpb + outputs) * element
    bwd = (2 * (qkv + rpb) + outputs) * element  # read q, k, v, rpb, the output gradients; write dqkv, drpb
    return {"fwd_bytes": fwd, "bwd_bytes": bwd, "fwd_bwd_bytes": fwd + bwd}


def peak_bandwidth_gbps(index: int = 0) -> tuple[float | None, str]:
    """The device's peak memory bandwidth (GB/s) and where the figure came from."""
    props = torch.cuda.get_device_properties(index)
    clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    if clock_khz and bus_bits:  # double data rate: two transfers per memory clock
        return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9, f"memory clock {clock_khz / 1e3:.0f} MHz x {bus_bits} bits"
    return peak_from_name(props.name)


def peak_from_name(name: str) -> tuple[float | None, str]:
    matches = [key for key in PEAK_GBPS if key.lower() in name.lower()]
    if not matches:
        return None, f"unknown device {name!r}"
    key = max(matches, key=len)
    return float(PEAK_GBPS[key]), f"datasheet ({key})"


def copy_bandwidth_gbps(mib: int = 1024, reps: int = 5) -> float:
    """Device-to-device copy rate (bytes read + written per second), the fastest of `reps` copies."""
    src = torch.empty(mib * 2**20 // 4, device="cuda")
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = float("inf")
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3)
    return 2 * src.numel() * 4 / best / 1e9


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def run_worker(backend: str, shape: tuple[int, ...], device: str, reps: int, what: str, dtype: str = "float32",
               modes: tuple[str, ...] = MODES, inner: int = 20) -> dict:
    """Time (what="time"), peak extra memory (what="memory") or both (GPU) of one backend at one shape.

    backend: torch, cpu, cuda[:tensor_core|:simt], released or flex."""
    from slowfast.ops import emim_attention
    from slowfast.ops.emim_flex import emim_attention_flex

    backend, _, cuda_kernel = backend.partition(":")

    batch, frames, height, width, heads, dim, window = shape
    dt = getattr(torch, dtype)
    qkv = torch.randn(batch, frames, height, width, 3, heads, dim, device=device, dtype=dt, requires_grad=True)
    rpb = torch.randn(heads, window, window, device=device, dtype=dt, requires_grad=True)
    scale = dim**-0.5

    def forward():
        q, k, v = qkv.unbind(4)
        if backend == "released":
            return released_design(q, k, v, rpb, scale)
        if backend == "flex":
            return emim_attention_flex(q, k, v, rpb, scale, compiled=device == "cuda")
        return emim_attention(q, k, v, rpb, scale, backend=backend, cuda_kernel=cuda_kernel or "tensor_core")

    def forward_backward():
        cost, context = forward()
        torch.autograd.backward((cost, context), (torch.ones_like(cost), torch.ones_like(context)))
        qkv.grad = rpb.grad = None

    def timed(fn):
        fn()
        if device != "cuda":
            times = []
            for _ in range(reps):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            return min(times)
        torch.cuda.synchronize()
        times = []
        for _ in range(reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(inner):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3 / inner)
        return min(times)

    result = {}
    if what in ("time", "both"):
        if "fwd" in modes:  # as in training: autograd records the graph (the torch backend saves its tensors)
            result["fwd_s"] = timed(forward)
        if "fwd_bwd" in modes:
            result["fwd_bwd_s"] = timed(forward_backward)
    if what == "time":
        return result
    forward_backward()
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_backward()
        torch.cuda.synchronize()
        result["peak_extra_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        result.update(minimal_bytes(shape, qkv.element_size()))
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
        base = _status_kib("VmRSS")
        forward_backward()
        result["peak_extra_mib"] = (_status_kib("VmHWM") - base) / 1024
    return result


def measure(backend: str, shape: tuple[int, ...], args) -> dict[str, dict]:
    """{dtype: time and peak extra memory} from run_worker in fresh subprocesses (one for both on GPU).

    A worker that fails (an unsupported dtype, out of memory) gives {"error": its last line} for each dtype."""
    results = {dtype: {} for dtype in args.dtypes}
    for what in ("both",) if args.device == "cuda" else ("time", "memory"):
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        if what == "memory":
            env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        cmd = [sys.executable, __file__, "--worker", backend, "--what", what, "--shape", ",".join(map(str, shape)),
               "--device", args.device, "--threads", str(args.threads), "--reps", str(args.reps),
               "--inner", str(args.inner), "--dtypes", *args.dtypes, "--modes", *args.modes]
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = ((proc.stderr or proc.stdout).strip().splitlines() or ["(no output)"])[-1]
            logger.info("%s at %s failed (exit %d): %s", backend, shape, proc.returncode, tail)
            return {dtype: {"error": tail} for dtype in args.dtypes}
        for dtype, r in json.loads(proc.stdout.strip().splitlines()[-1]).items():
            results[dtype].update(r)
    for r in results.values():
        for mode in MODES:
            if f"{mode}_bytes" in r and f"{mode}_s" in r:
                r[f"{mode}_gbps"] = r[f"{mode}_bytes"] / r[f"{mode}_s"] / 1e9
    return results


def expand_backends(backends: list[str] | None, device: str, kernels: list[str]) -> list[str]:
    """The rows to measure: --backends (default: torch, the compiled kernel of the device, and on GPU the
    released design and flex), with cuda split into cuda:<kernel> for each of --kernel."""
    if backends is None:
        backends = ["torch", device] + (["released", "flex"] if device == "cuda" else [])
    rows = []
    for backend in backends:
        rows += [f"cuda:{kernel}" for kernel in kernels] if backend == "cuda" else [backend]
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch intra-op)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--inner", type=int, default=20, help="GPU: back-to-back calls per timed run")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=["float32"])
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES),
                        help="fwd: forward (autograd recording, as in training); fwd_bwd: forward and backward")
    parser.add_argument("--shapes", nargs="+", choices=SHAPE_KEYS, default=list(SHAPE_KEYS))
    parser.add_argument("--backends", nargs="+", choices=("torch", "cpu", "cuda", "released", "flex"),
                        help="default: torch, the compiled kernel of --device, and released and flex on GPU")
    parser.add_argument("--kernel", nargs="+", choices=CUDA_KERNELS, default=list(CUDA_KERNELS),
                        help="CUDA kernels of the cuda backend, each its own row (cuda:<kernel>)")
    parser.add_argument("--batch", type=int, help="clips B (T = 16); default 2 on CPU, 8 on GPU")
    parser.add_argument("--json", help="write every number to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--what", choices=("time", "memory", "both"), help=argparse.SUPPRESS)
    return parser


def _ratio(a, b) -> float:
    return a / b if a is not None and b else float("nan")


def _fmt(value, width: int, digits: int) -> str:
    return f"{value:>{width}.{digits}f}" if value is not None else f"{'-':>{width}}"


def main(argv: list[str] | None = None) -> list[dict]:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.worker:
        shape = tuple(int(s) for s in args.shape.split(","))
        result = {dtype: run_worker(args.worker, shape, args.device, args.reps, args.what, dtype, tuple(args.modes),
                                    args.inner) for dtype in args.dtypes}
        sys.stdout.write(json.dumps(result) + "\n")
        return [result]

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from slowfast.ops import emim_ext

    backends = expand_backends(args.backends, args.device, args.kernel)
    for backend in [b for b in backends if b.split(":")[0] in ("cpu", "cuda")]:
        error = emim_ext.load_error(backend.split(":")[0])
        if error is not None:
            logger.info("backend %s unavailable: %s", backend, error)
            backends.remove(backend)
    peak, peak_source, copy_gbps = None, "", None
    if args.device == "cuda":
        device_name = torch.cuda.get_device_name()
        peak, peak_source = peak_bandwidth_gbps()
        copy_gbps = copy_bandwidth_gbps()
    else:
        device_name = f"CPU, {args.threads} threads"
    logger.info("EMIM op benchmark on %s, torch %s, %s; fastest of %d runs%s", device_name, torch.__version__,
                "/".join(args.dtypes), args.reps, f" of {args.inner} calls" if args.device == "cuda" else "")
    if args.device == "cuda":
        logger.info("peak memory bandwidth %s GB/s (%s); device-to-device copy %.0f GB/s (read + write)",
                    f"{peak:.0f}" if peak else "unknown", peak_source, copy_gbps)
    header = f"{'shape':<12} {'B,T,H,W,n,d':<18} {'dtype':<8} {'backend':<16} {'fwd ms':>8} {'fwd+bwd ms':>10}" \
             f" {'peak MiB':>9} {'x fwd':>6} {'x f+b':>6} {'mem/torch':>9}"
    if args.device == "cuda":
        header += f" {'fwd GB/s':>9} {'% peak':>7} {'f+b GB/s':>9} {'% peak':>7}"
    logger.info(header)
    logger.info("-" * len(header))
    rows = []
    for key, label, shape in shapes(args.device, args.batch):
        if key not in args.shapes:
            continue
        by_backend = {backend: measure(backend, shape, args) for backend in backends}
        for dtype in args.dtypes:
            results = {backend: by_backend[backend][dtype] for backend in backends}
            ref = results.get("torch", {})
            for backend, r in results.items():
                name, _, cuda_kernel = backend.partition(":")  # JSON: backend "cuda" and its cuda_kernel
                row = {"shape": key, "label": label, "B,T,H,W,heads,d,K": list(shape), "dtype": dtype,
                       "backend": name, **({"cuda_kernel": cuda_kernel} if cuda_kernel else {}), **r}
                for mode in MODES:
                    row[f"x_torch_{mode}"] = _ratio(ref.get(f"{mode}_s"), r.get(f"{mode}_s"))
                    if peak and r.get(f"{mode}_gbps"):
                        row[f"pct_peak_{mode}"] = 100 * r[f"{mode}_gbps"] / peak
                rows.append(row)
                fwd, fwd_bwd = r.get("fwd_s"), r.get("fwd_bwd_s")
                line = (f"{label:<12} {','.join(map(str, shape[:6])):<18} {dtype:<8} {backend:<16}"
                        f" {_fmt(fwd and fwd * 1e3, 8, 3)} {_fmt(fwd_bwd and fwd_bwd * 1e3, 10, 3)}"
                        f" {_fmt(r.get('peak_extra_mib'), 9, 1)} {row['x_torch_fwd']:>6.2f}"
                        f" {row['x_torch_fwd_bwd']:>6.2f}"
                        f" {_ratio(r.get('peak_extra_mib'), ref.get('peak_extra_mib')):>9.2f}")
                if args.device == "cuda":
                    line += (f" {_fmt(r.get('fwd_gbps'), 9, 0)} {_fmt(row.get('pct_peak_fwd'), 6, 1)}%"
                             f" {_fmt(r.get('fwd_bwd_gbps'), 9, 0)} {_fmt(row.get('pct_peak_fwd_bwd'), 6, 1)}%")
                if "error" in r:
                    line += f"  error: {r['error']}"
                logger.info(line)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"device": device_name, "torch": torch.__version__, "reps": args.reps,
                       "inner": args.inner if args.device == "cuda" else None, "peak_gbps": peak,
                       "peak_source": peak_source, "copy_gbps": copy_gbps, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
