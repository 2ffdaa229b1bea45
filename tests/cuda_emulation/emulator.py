"""Build and run the CPU emulation of the EMIM CUDA kernels (emim_emulation.cpp, cuda_shim.h).

`build()` compiles the emulation with the system C++ compiler ($CXX, else g++; C++20) into
build/cuda_emulation/, named by a hash of its sources and flags so that it is rebuilt only when they
change (older builds are then removed). `run_case()` runs it on one set of inputs in a subprocess (a
deadlock or a crash of an emulated kernel fails the case, not the caller) and returns the CUDA path's
outputs and gradients.

    python tests/cuda_emulation/emulator.py smem   # markdown tables of the kernels' shared memory
"""

import hashlib
import logging
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

logger = logging.getLogger(__name__)

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
SOURCES = (
    HERE / "emim_emulation.cpp",
    HERE / "cuda_shim.h",
    REPO / "csrc" / "emim" / "cuda" / "emim_cuda_kernels.cuh",
    REPO / "csrc" / "emim" / "cuda" / "emim_cuda_tc_kernels.cuh",
    REPO / "csrc" / "emim" / "emim.h",
)
BUILD_DIR = REPO / "build" / "cuda_emulation"
H100_SMEM = 232_448  # cudaDevAttrMaxSharedMemoryPerBlockOptin of an H100 (sm_90)
_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}
OUTPUTS = ("cost", "context", "dq", "dk", "dv", "drpb")


def compiler() -> str | None:
    """The C++ compiler the emulation is built with, None when there is none."""
    return shutil.which(os.environ.get("CXX", "g++"))


def build() -> pathlib.Path:
    """Path of the emulation executable, compiled first if its sources or flags changed."""
    cxx = compiler()
    torch_include = pathlib.Path(torch.__file__).parent / "include"
    command = [cxx, "-std=c++20", "-O2", "-pthread", f"-I{HERE}", f"-I{REPO / 'csrc'}", "-isystem", str(torch_include)]
    digest = hashlib.sha256(" ".join(command).encode())
    for source in SOURCES:
        digest.update(source.read_bytes())
    exe = BUILD_DIR / f"emim_emulation-{digest.hexdigest()[:16]}"
    if not exe.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        partial = exe.with_suffix(f".tmp{os.getpid()}")
        logger.info("compiling the CUDA kernel emulation: %s", exe.name)
        subprocess.run([*command, str(SOURCES[0]), "-o", str(partial)], check=True)
        partial.replace(exe)  # atomic: concurrent test runs never see a half-written executable
        for old in BUILD_DIR.glob("emim_emulation-*"):
            if old != exe and old.suffix == "":
                old.unlink(missing_ok=True)
    return exe


def _span(x: torch.Tensor) -> torch.Tensor:
    """The elements of x's storage from its first element to its last one, as a 1-D tensor."""
    extent = 1 + sum((size - 1) * stride for size, stride in zip(x.shape, x.stride()))
    return x.as_strided((extent,), (1,))


def run_case(exe, q, k, v, rpb, grad_cost, grad_context, scale, tile=0, smem_limit=H100_SMEM, timeout=600,
             kernel="tensor_core", warps=0, skew_us=0):
    """Outputs of the emulated CUDA path: {cost, context, dq, dk, dv, drpb}, contiguous, in q's dtype, and
    "kernels": {"forward": ..., "backward": ...}, the kernels that ran ("tensor_core" or "simt").

    q, k, v, grad_cost, grad_context may have any non-negative strides (stride 0 included); tile = 0
    picks the SIMT kernels' tile as the device code would with smem_limit bytes, else forces it; kernel
    is emim_cuda.cu's cuda_kernel (on a device of compute capability 8.0+); warps = 0 picks the
    tensor-core kernels' warps per block as the device code would, else forces it; skew_us > 0 makes odd
    warps wait that long after every __syncthreads (cuda_shim.h), so a missing barrier between warps shows.
    """
    batch, frames, height, width, heads, dim = q.shape
    window = rpb.shape[-1]
    lines = [
        f"dtype {_DTYPES[q.dtype]}",
        f"sizes {batch} {frames} {height} {width} {heads} {dim} {window}",
        f"tile {tile}",
        f"smem_limit {smem_limit}",
        f"scale {scale!r}",
        f"kernel {kernel}",
        f"warps {warps}",
    ]
    tensors = {"q": q, "k": k, "v": v, "rpb": rpb.contiguous(), "grad_cost": grad_cost, "grad_context": grad_context}
    shapes = {"cost": (*q.shape[:5], window * window), "drpb": rpb.shape}
    with tempfile.TemporaryDirectory(prefix="emim_emulation_") as tmp:
        tmp = pathlib.Path(tmp)
        for name, x in tensors.items():
            if x.dim() == 6:
                lines.append(f"{name} " + " ".join(map(str, x.stride())))
            # Through a 16-bit integer view: numpy has no bfloat16.
            raw = _span(x).view(torch.int16) if x.element_size() == 2 else _span(x)
            raw.numpy().tofile(tmp / f"{name}.bin")
        (tmp / "case.txt").write_text("\n".join(lines) + "\n")
        env = dict(os.environ, EMIM_EMULATION_SKEW_US=str(skew_us))
        result = subprocess.run([str(exe), "run", str(tmp)], capture_output=True, text=True, timeout=timeout, env=env)
        if result.returncode != 0:
            raise RuntimeError(f"emulation failed ({result.returncode}): {result.stderr.strip()}")
        outputs = {}
        for name in OUTPUTS:
            raw = np.fromfile(tmp / f"{name}.bin", dtype=np.int16 if q.element_size() == 2 else q.numpy().dtype)
            outputs[name] = torch.from_numpy(raw).view(q.dtype).reshape(shapes.get(name, q.shape))
        outputs["kernels"] = dict(line.split() for line in (tmp / "kernels.txt").read_text().splitlines())
    return outputs


def smem_table(exe, height=14, width=14, dim=64, smem_limit=H100_SMEM) -> str:
    """Markdown table: per odd K, each SIMT kernel's tiling as the device code picks it for an height x width
    frame, head width dim and smem_limit bytes per block (tile, channels per pass: bytes) in float and double,
    and the tensor-core kernels' plan for 16-bit inputs (warps per block: bytes)."""
    out = subprocess.run([str(exe), "smem", str(height), str(width), str(dim), str(smem_limit)],
                         capture_output=True, text=True, check=True).stdout.split()
    picked = {}
    for kernel, window, acc, tile, chunk, size in zip(*[iter(out)] * 6):
        picked[kernel, int(window), int(acc)] = (int(tile), int(chunk), int(size))
    kernels = ("forward", "backward_query", "backward_key")
    lines = [f"{height}x{width} frame, d = {dim}, {smem_limit:,} B per block: SIMT tile, channels per pass: bytes; "
             "tensor cores (16-bit) warps: bytes", "",
             "| K | dtype | " + " | ".join(kernels) + " | tensor-core forward | tensor-core backward |",
             "|---" * 7 + "|"]
    for window in range(3, 14, 2):
        for acc, dtype in ((4, "float"), (8, "double")):
            cells = []
            for kernel in kernels:
                tile, chunk, size = picked[kernel, window, acc]
                cells.append(f"{tile}, {chunk}: {size:,}" if tile else "does not fit")
            for kernel in ("tensor_core_forward", "tensor_core_backward"):
                warps, _, size = picked[kernel, window, 2]
                cells.append("" if acc == 8 else f"{warps}: {size:,}" if warps else "SIMT")
            lines.append(f"| {window} | {dtype} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    if sys.argv[1:] != ["smem"]:
        sys.exit(__doc__)
    exe = build()
    for dim, limit in ((64, H100_SMEM), (32, H100_SMEM), (64, 166_912), (64, 101_376)):
        print(smem_table(exe, dim=dim, smem_limit=limit), end="\n\n")
