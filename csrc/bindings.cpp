// The `slowfast._C` extension module: EMIM kernels plus the facts `slowfast/ops/emim_ext.py` checks.
#include <torch/extension.h>

#include "emim/emim.h"

#ifndef SLOWFAST_TORCH_VERSION
#error "setup.py defines SLOWFAST_TORCH_VERSION (torch.__version__ at build time)"
#endif

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "EMIM cost-volume attention kernels (CPU, and CUDA when built with it)";
  m.def("emim_forward", &slowfast::emim::forward, "(q, k, v, rpb, scale, cuda_kernel) -> (cost, context)", py::arg("q"),
        py::arg("k"), py::arg("v"), py::arg("rpb"), py::arg("scale"), py::arg("cuda_kernel") = "tensor_core");
  m.def("emim_backward", &slowfast::emim::backward,
        "(grad_cost, grad_context, q, k, v, rpb, scale, cuda_kernel) -> (dq, dk, dv, drpb)", py::arg("grad_cost"),
        py::arg("grad_context"), py::arg("q"), py::arg("k"), py::arg("v"), py::arg("rpb"), py::arg("scale"),
        py::arg("cuda_kernel") = "tensor_core");
  m.attr("TORCH_VERSION") = SLOWFAST_TORCH_VERSION;
#ifdef WITH_CUDA
  m.attr("WITH_CUDA") = true;
#else
  m.attr("WITH_CUDA") = false;
#endif
}
