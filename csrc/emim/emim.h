// EMIM cost volume + windowed attention over the next frame (docs/model_and_kernels.md, 'The EMIM op').
//
// Layouts (any strides): q, k, v [B, T, H, W, heads, d]; rpb [heads, K, K] (K odd, same dtype as q).
// Forward returns cost [B, T, H, W, heads, K*K] = scale * <q_t(i,j), k_t'(i+u-r, j+v-r)> + rpb[h,u,v]
// and context [B, T, H, W, heads, d] = softmax(cost) @ v over the window, both contiguous in q's dtype.
// Pairing: output frame t < T-1 uses query frame t and key/value frame t+1; output frame T-1 repeats
// output frame T-2. Keys and values outside the frame are kBorderValue in every channel.
// Backward returns (dq, dk, dv, drpb), deterministic (fixed-order sums, no atomics).
// cuda_kernel picks the CUDA kernels: "tensor_core" (float16/bfloat16 shapes they take, else "simt") or
// "simt" (the general kernels); the CPU kernels ignore it.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <tuple>

namespace slowfast::emim {

// The released code pads keys and values with this constant (rounded to the input dtype).
constexpr double kBorderValue = 1e-6;

std::tuple<at::Tensor, at::Tensor> forward_cpu(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               const at::Tensor& rpb, double scale);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_cpu(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb, double scale);

#ifdef WITH_CUDA
std::tuple<at::Tensor, at::Tensor> forward_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                const at::Tensor& rpb, double scale, const std::string& cuda_kernel);
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_cuda(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb, double scale, const std::string& cuda_kernel);
#endif

inline void check_cuda_kernel(const std::string& cuda_kernel) {
  TORCH_CHECK(cuda_kernel == "tensor_core" || cuda_kernel == "simt",
              "emim: cuda_kernel must be 'tensor_core' or 'simt', got '", cuda_kernel, "'");
}

inline void check_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb) {
  TORCH_CHECK(q.dim() == 6, "emim: q must be [B, T, H, W, heads, d], got shape ", q.sizes());
  TORCH_CHECK(k.sizes() == q.sizes() && v.sizes() == q.sizes(), "emim: q, k, v must have one shape, got ", q.sizes(),
              ", ", k.sizes(), ", ", v.sizes());
  TORCH_CHECK(q.size(1) >= 2, "emim: needs T >= 2 frames, got q shape ", q.sizes());
  TORCH_CHECK(q.numel() > 0, "emim: empty dimension in q shape ", q.sizes());
  TORCH_CHECK(rpb.dim() == 3 && rpb.size(0) == q.size(4) && rpb.size(1) == rpb.size(2) && rpb.size(1) % 2 == 1,
              "emim: rpb must be [heads=", q.size(4), ", K, K] with K odd, got shape ", rpb.sizes());
  TORCH_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type() &&
                  rpb.scalar_type() == q.scalar_type(),
              "emim: q, k, v, rpb must share one dtype, got ", q.scalar_type(), ", ", k.scalar_type(), ", ",
              v.scalar_type(), ", ", rpb.scalar_type());
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device() && rpb.device() == q.device(),
              "emim: q, k, v, rpb must be on one device, got ", q.device(), ", ", k.device(), ", ", v.device(), ", ",
              rpb.device());
}

inline void check_grads(const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q,
                        const at::Tensor& rpb) {
  const auto kk = rpb.size(1) * rpb.size(2);
  TORCH_CHECK(grad_cost.dim() == 6 && grad_cost.sizes().slice(0, 5) == q.sizes().slice(0, 5) && grad_cost.size(5) == kk,
              "emim: grad_cost must be [B, T, H, W, heads, K*K=", kk, "] for q shape ", q.sizes(), ", got ",
              grad_cost.sizes());
  TORCH_CHECK(grad_context.sizes() == q.sizes(), "emim: grad_context must have q's shape ", q.sizes(), ", got ",
              grad_context.sizes());
  TORCH_CHECK(grad_cost.scalar_type() == q.scalar_type() && grad_context.scalar_type() == q.scalar_type(),
              "emim: gradients must have q's dtype ", q.scalar_type(), ", got ", grad_cost.scalar_type(), ", ",
              grad_context.scalar_type());
  TORCH_CHECK(grad_cost.device() == q.device() && grad_context.device() == q.device(),
              "emim: gradients must be on q's device ", q.device(), ", got ", grad_cost.device(), ", ",
              grad_context.device());
}

// (cost, context) from q, k, v, rpb; dispatches on q's device.
inline std::tuple<at::Tensor, at::Tensor> forward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                  const at::Tensor& rpb, double scale, const std::string& cuda_kernel) {
  check_inputs(q, k, v, rpb);
  check_cuda_kernel(cuda_kernel);
  if (q.is_cuda()) {
#ifdef WITH_CUDA
    return forward_cuda(q, k, v, rpb, scale, cuda_kernel);
#else
    TORCH_CHECK(false, "emim: slowfast._C was built without CUDA support; rebuild with nvcc and a CUDA torch");
#endif
  }
  TORCH_CHECK(q.is_cpu(), "emim: no kernel for device ", q.device());
  return forward_cpu(q, k, v, rpb, scale);
}

// (dq, dk, dv, drpb) from the gradients of cost and context; dispatches on q's device.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb, double scale, const std::string& cuda_kernel) {
  check_inputs(q, k, v, rpb);
  check_grads(grad_cost, grad_context, q, rpb);
  check_cuda_kernel(cuda_kernel);
  if (q.is_cuda()) {
#ifdef WITH_CUDA
    return backward_cuda(grad_cost, grad_context, q, k, v, rpb, scale, cuda_kernel);
#else
    TORCH_CHECK(false, "emim: slowfast._C was built without CUDA support; rebuild with nvcc and a CUDA torch");
#endif
  }
  TORCH_CHECK(q.is_cpu(), "emim: no kernel for device ", q.device());
  return backward_cpu(grad_cost, grad_context, q, k, v, rpb, scale);
}

}  // namespace slowfast::emim
