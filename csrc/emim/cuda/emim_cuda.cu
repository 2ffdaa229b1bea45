// CUDA kernels of the EMIM op (see ../emim.h for layouts and semantics).
//
// The device code is in emim_cuda_kernels.cuh (also run on the CPU by tests/cuda_emulation/).
// One thread block per square tile of query positions, one head and one frame pair (b, p). The block
// stages the tile's queries and the key/value halo of frame p+1 in shared memory, up to 64 channels at
// a time (any head width; one pass for d <= 64, two for d <= 128; fewer channels per pass where the
// device's shared memory needs it), filling positions outside the frame with the 1e-6 border constant
// while staging. Logits and softmax weights stay in shared memory in float32 (double for double inputs).
// Backward: a query-tile kernel recomputes P, forms dS = grad_cost + P * (dP - sum(P * dP)) and dq,
// writes P and dS to float buffers and the tile's sum of dS (drpb partial); a key-tile kernel gathers
// dk and dv from the queries whose window holds each key, in a fixed order; a last kernel sums the drpb
// partials in a fixed order (a warp per entry). No atomics: results are bit-identical from run to run.
#include "emim_cuda_kernels.cuh"

#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>

namespace slowfast::emim {
namespace {

using namespace kernels;

Strides strides_of(const at::Tensor& x) {
  return {x.stride(0), x.stride(1), x.stride(2), x.stride(3), x.stride(4), x.stride(5)};
}

// Geometry with the tiling pick_tiling chooses for the device's shared memory.
Geometry make_geometry(const at::Tensor& q, const at::Tensor& rpb, Kernel kernel, size_t acc_size, size_t* smem) {
  const int K = rpb.size(1), dim = q.size(5);
  int device_smem = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&device_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, q.get_device()));
  const Tiling tiling = pick_tiling(kernel, q.size(2), q.size(3), K, dim, acc_size, device_smem);
  TORCH_CHECK(tiling.tile > 0, "emim: window K=", K, " needs ", smem_bytes(kernel, 1, K, 1, acc_size),
              " bytes of shared memory per block; the device has ", device_smem);
  *smem = smem_bytes(kernel, tiling.tile, K, tiling.chunk, acc_size);
  const Geometry g =
      kernels::make_geometry(q.size(0), q.size(1), q.size(2), q.size(3), q.size(4), dim, K, tiling.tile, tiling.chunk);
  TORCH_CHECK((int64_t)g.B * (g.T - 1) <= 65535 && g.heads <= 65535, "emim: B*(T-1)=", (int64_t)g.B * (g.T - 1),
              " and heads=", g.heads, " must be at most 65535 for the CUDA grid");
  return g;
}

template <typename KernelFn, typename... Args>
void launch(KernelFn kernel, const Geometry& g, size_t smem, Args... args) {
  C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  kernel<<<tile_grid(g), kThreads, smem, at::cuda::getCurrentCUDAStream()>>>(g, args...);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename scalar_t>
Operands<scalar_t> operands(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb) {
  return {q.const_data_ptr<scalar_t>(),
          k.const_data_ptr<scalar_t>(),
          v.const_data_ptr<scalar_t>(),
          rpb.const_data_ptr<scalar_t>(),
          strides_of(q),
          strides_of(k),
          strides_of(v)};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> forward_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                const at::Tensor& rpb_in, double scale) {
  const c10::cuda::CUDAGuard guard(q.device());
  const at::Tensor rpb = rpb_in.contiguous();
  const int64_t window = rpb.size(1);
  at::Tensor cost = at::empty({q.size(0), q.size(1), q.size(2), q.size(3), q.size(4), window * window}, q.options());
  at::Tensor context = at::empty(q.sizes(), q.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    size_t smem = 0;
    const Geometry g = make_geometry(q, rpb, Kernel::kForward, sizeof(acc_t), &smem);
    launch(forward_kernel<scalar_t>, g, smem, operands<scalar_t>(q, k, v, rpb), static_cast<acc_t>(scale),
           cost.data_ptr<scalar_t>(), context.data_ptr<scalar_t>());
  });
  return {cost, context};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_cuda(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb_in, double scale) {
  const c10::cuda::CUDAGuard guard(q.device());
  const at::Tensor rpb = rpb_in.contiguous();
  const int64_t frames = q.size(1), window = rpb.size(1);
  const auto acc_dtype = at::toOpMathType(q.scalar_type());
  at::Tensor dq = at::empty(q.sizes(), q.options());
  at::Tensor dk = at::empty(q.sizes(), q.options());
  at::Tensor dv = at::empty(q.sizes(), q.options());
  at::Tensor drpb = at::empty(rpb.sizes(), rpb.options());
  // Query frame T-1 and key frame 0 take part in no pair.
  dq.select(1, frames - 1).zero_();
  dk.select(1, 0).zero_();
  dv.select(1, 0).zero_();
  at::Tensor probs = at::empty({q.size(0), frames - 1, q.size(2), q.size(3), q.size(4), window * window},
                               q.options().dtype(acc_dtype));
  at::Tensor dlogits = at::empty_like(probs);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto in = operands<scalar_t>(q, k, v, rpb);
    const GradOperands<scalar_t> gr{grad_cost.const_data_ptr<scalar_t>(), grad_context.const_data_ptr<scalar_t>(),
                                    strides_of(grad_cost), strides_of(grad_context)};
    size_t smem = 0;
    const Geometry gq = make_geometry(q, rpb, Kernel::kBackwardQuery, sizeof(acc_t), &smem);
    at::Tensor partial =
        at::empty({(int64_t)gq.B * (gq.T - 1) * gq.heads * gq.tiles, gq.kk}, q.options().dtype(acc_dtype));
    launch(backward_query_kernel<scalar_t>, gq, smem, in, gr, static_cast<acc_t>(scale), dq.data_ptr<scalar_t>(),
           probs.data_ptr<acc_t>(), dlogits.data_ptr<acc_t>(), partial.data_ptr<acc_t>());
    const Geometry gk = make_geometry(q, rpb, Kernel::kBackwardKey, sizeof(acc_t), &smem);
    launch(backward_key_kernel<scalar_t>, gk, smem, in, gr, static_cast<acc_t>(scale),
           (const acc_t*)probs.data_ptr<acc_t>(), (const acc_t*)dlogits.data_ptr<acc_t>(), dk.data_ptr<scalar_t>(),
           dv.data_ptr<scalar_t>());
    drpb_kernel<scalar_t><<<drpb_grid(gq), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        gq.tiles, gq.B * (gq.T - 1), gq.heads, gq.kk, partial.data_ptr<acc_t>(), drpb.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {dq, dk, dv, drpb};
}

}  // namespace slowfast::emim
