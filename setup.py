"""Installs the `slowfast` package and its C++/CUDA extension `slowfast._C` (csrc/).

The CPU kernels are always built. The CUDA kernels are added when torch is a CUDA build and nvcc is
found (CUDA_HOME, else /usr/local/cuda, else torch's search from nvcc on PATH); SLOWFAST_WITH_CUDA=0
skips them.
TORCH_CUDA_ARCH_LIST defaults to "9.0" (H100/H200); MAX_JOBS bounds the parallel compile jobs.
"""

import glob
import os

# Prefer the toolkit folder to torch's guess from `which nvcc`: a /usr/local/bin/nvcc wrapper makes that
# guess /usr/local, which has no lib64/libcudart. Must be set before cpp_extension is imported.
if "CUDA_HOME" not in os.environ and "CUDA_PATH" not in os.environ and os.path.isdir("/usr/local/cuda"):
    os.environ["CUDA_HOME"] = "/usr/local/cuda"

import torch  # noqa: E402
from setuptools import find_packages, setup  # noqa: E402
from torch.utils.cpp_extension import CUDA_HOME, BuildExtension, CppExtension, CUDAExtension  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))


def _with_cuda() -> bool:
    if os.environ.get("SLOWFAST_WITH_CUDA", "auto") == "0":
        return False
    return torch.version.cuda is not None and CUDA_HOME is not None and os.path.exists(
        os.path.join(CUDA_HOME, "bin", "nvcc")
    )


def _extension():
    sources = [os.path.join("csrc", "bindings.cpp"), *sorted(glob.glob(os.path.join("csrc", "*", "cpu", "*.cpp")))]
    # torch.__version__ is compiled in so that slowfast.ops can refuse a module built for another torch.
    macros = [("SLOWFAST_TORCH_VERSION", f'"{torch.__version__}"')]
    cxx = ["-O3", "-fopenmp"]  # at::parallel_for is OpenMP in torch's CPU build; libgomp is torch's own.
    args = {"cxx": cxx}
    if not _with_cuda():
        return CppExtension("slowfast._C", sources, define_macros=macros, extra_compile_args=args,
                            extra_link_args=["-fopenmp"])
    os.environ.setdefault("TORCH_CUDA_ARCH_LIST", "9.0")
    sources += sorted(glob.glob(os.path.join("csrc", "*", "cuda", "*.cu")))
    macros.append(("WITH_CUDA", None))
    args["nvcc"] = ["-O3", "--expt-relaxed-constexpr"]
    # The CUDA headers that torch's ATen/cuda includes come from the nvidia pip wheels; searched after the
    # toolkit's own so nvcc's headers win where both exist.
    wheel_include = os.path.join(
        os.path.dirname(os.path.dirname(torch.__file__)), "nvidia", f"cu{torch.version.cuda.split('.')[0]}", "include"
    )
    if os.path.isdir(wheel_include):
        args["cxx"] = cxx + ["-idirafter", wheel_include]
        args["nvcc"] += ["-Xcompiler", "-idirafter" + wheel_include]
    return CUDAExtension("slowfast._C", sources, define_macros=macros, extra_compile_args=args,
                         extra_link_args=["-fopenmp"])


setup(
    name="emim-slowfast",
    version="0.1.0",
    description="UniFormer video transformers with EMIM (Explicit Motion Information Mining)",
    packages=find_packages(include=["slowfast", "slowfast.*"]),
    python_requires=">=3.10",
    ext_modules=[_extension()],
    cmdclass={"build_ext": BuildExtension},
    include_dirs=[os.path.join(ROOT, "csrc")],
)
