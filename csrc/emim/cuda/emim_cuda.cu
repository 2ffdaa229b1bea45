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
//
// float16/bfloat16 take the tensor-core kernels of emim_cuda_tc_kernels.cuh instead (one block per frame
// pair and head, wmma; sm_80+, head width a multiple of 16 up to 128, the whole frame in shared memory)
// unless cuda_kernel is "simt"; any shape or dtype they do not take runs on the kernels above.
#include "emim_cuda_kernels.cuh"
#include "emim_cuda_tc_kernels.cuh"

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

// Shared memory a block of a kernel on q's device may opt in to.
int device_smem_limit(const at::Tensor& q) {
  int smem = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, q.get_device()));
  return smem;
}

// Geometry with the tiling pick_tiling chooses for the device's shared memory.
Geometry make_geometry(const at::Tensor& q, const at::Tensor& rpb, Kernel kernel, size_t acc_size, size_t* smem) {
  const int K = rpb.size(1), dim = q.size(5);
  const int device_smem = device_smem_limit(q);
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
constexpr bool is_16bit = std::is_same_v<scalar_t, at::Half> || std::is_same_v<scalar_t, at::BFloat16>;

// The tensor-core plan of `pass` for q's shape, or one with warps = 0 when that path does not run it.
tc::Plan tensor_core_plan(tc::Pass pass, const at::Tensor& q, int64_t window, const std::string& cuda_kernel) {
  if (cuda_kernel != "tensor_core" || at::cuda::getDeviceProperties(q.get_device())->major < 8) return tc::Plan{};
  const tc::Plan g = tc::make_plan(pass, q.size(0), q.size(1), q.size(2), q.size(3), q.size(4), q.size(5), window,
                                   device_smem_limit(q));
  TORCH_CHECK(g.warps == 0 || ((int64_t)g.B * (g.T - 1) <= 65535 && g.heads <= 65535),
              "emim: B*(T-1)=", (int64_t)g.B * (g.T - 1), " and heads=", g.heads,
              " must be at most 65535 for the CUDA grid");
  return g;
}

template <typename KernelFn, typename... Args>
void launch_tc(KernelFn kernel, const tc::Plan& g, tc::Pass pass, Args... args) {
  const size_t smem = tc::plan_bytes(g, pass);
  C10_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
  kernel<<<tc::grid(g), g.warps * 32, smem, at::cuda::getCurrentCUDAStream()>>>(g, args...);
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

// The tensor-core forward when it takes q's dtype and shape (true), else nothing (false).
template <typename scalar_t>
bool forward_tensor_core(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb,
                         double scale, const std::string& cuda_kernel, at::Tensor& cost, at::Tensor& context) {
  if constexpr (!is_16bit<scalar_t>) {
    return false;
  } else {
    const tc::Plan plan = tensor_core_plan(tc::Pass::kForward, q, rpb.size(1), cuda_kernel);
    if (plan.warps == 0) return false;
    launch_tc(tc::forward_kernel<scalar_t>, plan, tc::Pass::kForward, operands<scalar_t>(q, k, v, rpb),
              static_cast<float>(scale), cost.data_ptr<scalar_t>(), context.data_ptr<scalar_t>());
    return true;
  }
}

// The tensor-core backward (and the drpb reduction) when it takes q's dtype and shape (true), else false.
template <typename scalar_t>
bool backward_tensor_core(const Operands<scalar_t>& in, const GradOperands<scalar_t>& gr, const at::Tensor& q,
                          int64_t window, double scale, const std::string& cuda_kernel, at::Tensor& dq, at::Tensor& dk,
                          at::Tensor& dv, at::Tensor& drpb) {
  if constexpr (!is_16bit<scalar_t>) {
    return false;
  } else {
    const tc::Plan plan = tensor_core_plan(tc::Pass::kBackward, q, window, cuda_kernel);
    if (plan.warps == 0) return false;
    at::Tensor partial =
        at::empty({(int64_t)plan.B * (plan.T - 1) * plan.heads, plan.kk}, q.options().dtype(at::kFloat));
    launch_tc(tc::backward_kernel<scalar_t>, plan, tc::Pass::kBackward, in, gr, static_cast<float>(scale),
              dq.data_ptr<scalar_t>(), dk.data_ptr<scalar_t>(), dv.data_ptr<scalar_t>(), partial.data_ptr<float>());
    drpb_kernel<scalar_t><<<drpb_grid(plan.heads, plan.kk), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        1, plan.B * (plan.T - 1), plan.heads, plan.kk, partial.const_data_ptr<float>(), drpb.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return true;
  }
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> forward_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                const at::Tensor& rpb_in, double scale,
                                                const std::string& cuda_kernel) {
  const c10::cuda::CUDAGuard guard(q.device());
  const at::Tensor rpb = rpb_in.contiguous();
  const int64_t window = rpb.size(1);
  at::Tensor cost = at::empty({q.size(0), q.size(1), q.size(2), q.size(3), q.size(4), window * window}, q.options());
  at::Tensor context = at::empty(q.sizes(), q.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_forward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    if (forward_tensor_core<scalar_t>(q, k, v, rpb, scale, cuda_kernel, cost, context)) return;
    size_t smem = 0;
    const Geometry g = make_geometry(q, rpb, Kernel::kForward, sizeof(acc_t), &smem);
    launch(forward_kernel<scalar_t>, g, smem, operands<scalar_t>(q, k, v, rpb), static_cast<acc_t>(scale),
           cost.data_ptr<scalar_t>(), context.data_ptr<scalar_t>());
  });
  return {cost, context};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_cuda(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb_in, double scale, const std::string& cuda_kernel) {
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
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto in = operands<scalar_t>(q, k, v, rpb);
    const GradOperands<scalar_t> gr{grad_cost.const_data_ptr<scalar_t>(), grad_context.const_data_ptr<scalar_t>(),
                                    strides_of(grad_cost), strides_of(grad_context)};
    if (backward_tensor_core<scalar_t>(in, gr, q, window, scale, cuda_kernel, dq, dk, dv, drpb)) return;
    at::Tensor probs = at::empty({q.size(0), frames - 1, q.size(2), q.size(3), q.size(4), window * window},
                                 q.options().dtype(acc_dtype));
    at::Tensor dlogits = at::empty_like(probs);
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
    drpb_kernel<scalar_t><<<drpb_grid(gq.heads, gq.kk), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        gq.tiles, gq.B * (gq.T - 1), gq.heads, gq.kk, partial.data_ptr<acc_t>(), drpb.data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {dq, dk, dv, drpb};
}

}  // namespace slowfast::emim
