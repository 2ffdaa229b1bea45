"""Benchmark of the EMIM op backends at EMIM-S shapes: time and peak extra memory, forward and forward+backward.

    python tools/bench_kernels.py [--device cpu|cuda] [--threads 2] [--reps 7]

Shapes (B*T clips*frames, H x W, heads x d, window K): stage 3 (2*16 on CPU, 8*16 on GPU, 14x14, 5x64,
K=7), stage 4 (7x7, 8x64, K=7) and stage 3 with K = 3, 5, 9, 11. Inputs are the strided q, k, v views
of one qkv tensor [B, T, H, W, 3, heads, d] as in the model; gradients flow into it and rpb.

Each (shape, backend) runs in fresh subprocesses. Time: the fastest of --reps runs after one warm-up
(the fastest, since the CPU machines are shared). Peak extra memory, in a separate subprocess: on CPU,
the growth of the process's peak resident set (VmHWM, reset through /proc/self/clear_refs after a
warm-up) over its resident set just before the measured run, with glibc told to mmap every block
>= 64 KiB so that freed memory really leaves the process (this slows allocation, hence not timed); on GPU,
torch.cuda.max_memory_allocated over the allocated bytes before the run. Both count the outputs and
gradients, which every backend produces.
On GPU the table adds the forward's achieved memory bandwidth (minimal bytes: read q, k, v, rpb once,
write cost and context) against the device's peak, and the released design (1e-6-padded copies, K*K
shifted key/value copies, separate QK and AV products) re-implemented with PyTorch ops as a baseline.
Ratios are to the torch backend measured in the same run.
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

logger = logging.getLogger("bench_kernels")

HEAD_DIM = 64


def shapes(device: str) -> list[tuple[str, tuple[int, ...]]]:
    """(label, (B, T, H, W, heads, d, K)) for the device."""
    batch = 8 if device == "cuda" else 2
    rows = [("stage3 K=7", (batch, 16, 14, 14, 5, HEAD_DIM, 7)), ("stage4 K=7", (batch, 16, 7, 7, 8, HEAD_DIM, 7))]
    rows += [(f"stage3 K={k}", (batch, 16, 14, 14, 5, HEAD_DIM, k)) for k in (3, 5, 9, 11)]
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


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        return int(re.search(rf"{key}:\s+(\d+)", f.read()).group(1))


def run_worker(backend: str, shape: tuple[int, ...], device: str, reps: int, what: str) -> dict:
    """Time (what="time") or peak extra memory (what="memory") of one backend at one shape, in this process."""
    from slowfast.ops import emim_attention

    batch, frames, height, width, heads, dim, window = shape
    qkv = torch.randn(batch, frames, height, width, 3, heads, dim, device=device, requires_grad=True)
    rpb = torch.randn(heads, window, window, device=device, requires_grad=True)
    scale = dim**-0.5

    def forward():
        q, k, v = qkv.unbind(4)
        if backend == "released":
            return released_design(q, k, v, rpb, scale)
        return emim_attention(q, k, v, rpb, scale, backend=backend)

    def forward_backward():
        cost, context = forward()
        torch.autograd.backward((cost, context), (torch.ones_like(cost), torch.ones_like(context)))
        qkv.grad = rpb.grad = None

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def timed(fn):
        fn()
        sync()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            sync()
            times.append(time.perf_counter() - start)
        return min(times)

    if what == "time":
        return {"fwd_s": timed(forward), "fwd_bwd_s": timed(forward_backward)}
    forward_backward()
    result = {}
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        forward_backward()
        result["peak_extra_mib"] = (torch.cuda.max_memory_allocated() - base) / 2**20
        props = torch.cuda.get_device_properties(0)
        element = qkv.element_size()
        outputs = batch * frames * height * width * heads * (window**2 + dim)  # cost and context
        result["fwd_bytes"] = (qkv.numel() + rpb.numel() + outputs) * element
        clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
        result["peak_gbps"] = 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9 if clock_khz and bus_bits else None
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current resident set
        base = _status_kib("VmRSS")
        forward_backward()
        result["peak_extra_mib"] = (_status_kib("VmHWM") - base) / 1024
    return result


def measure(backend: str, shape: tuple[int, ...], args) -> dict:
    """Time, then peak extra memory, each from run_worker in a fresh subprocess."""
    result = {}
    for what in ("time", "memory"):
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        if what == "memory":
            env["MALLOC_MMAP_THRESHOLD_"] = "65536"
        cmd = [sys.executable, __file__, "--worker", backend, "--what", what, "--shape", ",".join(map(str, shape)),
               "--device", args.device, "--threads", str(args.threads), "--reps", str(args.reps)]
        out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
        result.update(json.loads(out.strip().splitlines()[-1]))
    if "fwd_bytes" in result:
        result["fwd_gbps"] = result["fwd_bytes"] / result["fwd_s"] / 1e9
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch intra-op)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--shape", help=argparse.SUPPRESS)
    parser.add_argument("--what", choices=("time", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.worker:
        shape = tuple(int(s) for s in args.shape.split(","))
        sys.stdout.write(json.dumps(run_worker(args.worker, shape, args.device, args.reps, args.what)) + "\n")
        return

    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from slowfast.ops import emim_ext

    backends = ["torch"]
    error = emim_ext.load_error(args.device)
    if error is None:
        backends.append(args.device)
    else:
        logger.info("backend %s unavailable: %s", args.device, error)
    if args.device == "cuda":
        backends.append("released")
    device_name = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {args.threads} threads"
    logger.info("EMIM op benchmark on %s, torch %s, float32; fastest of %d runs", device_name, torch.__version__,
                args.reps)
    header = f"{'shape':<12} {'B,T,H,W,n,d':<18} {'backend':<9} {'fwd ms':>8} {'fwd+bwd ms':>10} {'peak MiB':>9}" \
             f" {'x fwd':>6} {'x f+b':>6} {'mem/torch':>9}"
    if args.device == "cuda":
        header += f" {'fwd GB/s':>9} {'% peak':>7}"
    logger.info(header)
    logger.info("-" * len(header))
    for label, shape in shapes(args.device):
        results = {backend: measure(backend, shape, args) for backend in backends}
        ref = results["torch"]
        for backend, r in results.items():
            line = (f"{label:<12} {','.join(map(str, shape[:6])):<18} {backend:<9} {r['fwd_s'] * 1e3:>8.2f}"
                    f" {r['fwd_bwd_s'] * 1e3:>10.2f} {r['peak_extra_mib']:>9.1f} {ref['fwd_s'] / r['fwd_s']:>6.2f}"
                    f" {ref['fwd_bwd_s'] / r['fwd_bwd_s']:>6.2f} {r['peak_extra_mib'] / ref['peak_extra_mib']:>9.2f}")
            if args.device == "cuda":
                peak = r["peak_gbps"]
                line += f" {r['fwd_gbps']:>9.0f} {100 * r['fwd_gbps'] / peak if peak else float('nan'):>6.1f}%"
            logger.info(line)


if __name__ == "__main__":
    main()
