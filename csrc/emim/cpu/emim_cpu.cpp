// CPU kernels of the EMIM op (see ../emim.h for layouts and semantics).
//
// Forward: one task per query row (b, pair p, row i); each query computes its K*K logits against
// key frame p+1, a softmax in float32 (double for double inputs) and its context, and writes cost and
// context (twice for the last pair: output frame T-1 repeats frame T-2).
// Backward, pass 1 (per query row): logits and softmax again, dP = <grad_ctx, v>, the softmax backward
// dS = grad_cost + P * (dP - sum(P * dP)), dq = scale * sum dS * k; P and dS go to float buffers and
// each row's sum of dS to a drpb partial. Pass 2 (per key row): dk and dv gathered from the queries
// whose window holds the key, in a fixed order. drpb sums the row partials in row order. No atomics:
// results do not depend on the thread count.
#include "../emim.h"

#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

// On x86-64 GCC the row kernels are compiled for AVX-512, AVX2+FMA and the baseline; the loader picks one.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define EMIM_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EMIM_CLONES
#endif

namespace slowfast::emim {
namespace {

template <typename scalar_t>
using acc_type = at::opmath_type<scalar_t>;

// Element strides of a [B, T, H, W, heads, channels] tensor.
struct Strides {
  int64_t b, t, h, w, n, c;
  explicit Strides(const at::Tensor& x)
      : b(x.stride(0)), t(x.stride(1)), h(x.stride(2)), w(x.stride(3)), n(x.stride(4)), c(x.stride(5)) {}
  int64_t at(int64_t bb, int64_t tt, int64_t i, int64_t j, int64_t hh) const {
    return bb * b + tt * t + i * h + j * w + hh * n;
  }
};

struct Geometry {
  int64_t B, T, H, W, heads, dim, K, r, kk;
  Geometry(const at::Tensor& q, const at::Tensor& rpb)
      : B(q.size(0)), T(q.size(1)), H(q.size(2)), W(q.size(3)), heads(q.size(4)), dim(q.size(5)), K(rpb.size(1)),
        r(rpb.size(1) / 2), kk(rpb.size(1) * rpb.size(1)) {}
  // Flat index of token (b, t, i, j, head) in a contiguous [B, T, H, W, heads] layout.
  int64_t token(int64_t b, int64_t t, int64_t i, int64_t j, int64_t h) const {
    return (((b * T + t) * H + i) * W + j) * heads + h;
  }
  // Same for the (T - 1)-pair buffers [B, T-1, H, W, heads].
  int64_t pair_token(int64_t b, int64_t p, int64_t i, int64_t j, int64_t h) const {
    return (((b * (T - 1) + p) * H + i) * W + j) * heads + h;
  }
  bool inside(int64_t y, int64_t x) const { return y >= 0 && y < H && x >= 0 && x < W; }
};

template <typename scalar_t>
struct Inputs {
  const scalar_t *q, *k, *v, *rpb;  // rpb contiguous [heads, K*K]
  Strides qs, ks, vs;
  acc_type<scalar_t> scale, border;
};

// ---- channel loops (vectorised for unit stride) ----
template <typename scalar_t, typename acc_t>
inline acc_t dot(const acc_t* a, const scalar_t* x, int64_t stride, int64_t n) {
  acc_t s = 0;
  if (stride == 1) {
#pragma omp simd reduction(+ : s)
    for (int64_t c = 0; c < n; ++c) s += a[c] * static_cast<acc_t>(x[c]);
  } else {
    for (int64_t c = 0; c < n; ++c) s += a[c] * static_cast<acc_t>(x[c * stride]);
  }
  return s;
}

template <typename scalar_t, typename acc_t>
inline void axpy(acc_t alpha, const scalar_t* x, int64_t stride, acc_t* y, int64_t n) {
  if (stride == 1) {
#pragma omp simd
    for (int64_t c = 0; c < n; ++c) y[c] += alpha * static_cast<acc_t>(x[c]);
  } else {
    for (int64_t c = 0; c < n; ++c) y[c] += alpha * static_cast<acc_t>(x[c * stride]);
  }
}

// y = x (overwrite=true) or y += x, converting to acc_t; returns the sum of the loaded values.
template <typename scalar_t, typename acc_t>
inline acc_t load(const scalar_t* x, int64_t stride, acc_t* y, int64_t n, bool overwrite) {
  acc_t s = 0;
  for (int64_t c = 0; c < n; ++c) {
    y[c] = (overwrite ? acc_t(0) : y[c]) + static_cast<acc_t>(x[c * stride]);
    s += y[c];
  }
  return s;
}

template <typename scalar_t, typename acc_t>
inline void store(const acc_t* y, acc_t mult, acc_t add, scalar_t* out, int64_t n) {
#pragma omp simd
  for (int64_t c = 0; c < n; ++c) out[c] = static_cast<scalar_t>(mult * (y[c] + add));
}

// logits[o] = scale * <q, k(i+u-r, j+v-r)> + rpb[o] for o = u*K+v; q given as qbuf (qsum = its sum).
template <typename scalar_t, typename acc_t>
inline void window_logits(const Geometry& g, const Inputs<scalar_t>& in, const scalar_t* kframe, int64_t h, int64_t i,
                          int64_t j, const acc_t* qbuf, acc_t qsum, int64_t dim, acc_t* logits) {
  const scalar_t* rpb = in.rpb + h * g.kk;
  const acc_t border_logit = in.scale * in.border * qsum;
  for (int64_t u = 0; u < g.K; ++u) {
    const int64_t y = i + u - g.r;
    for (int64_t w = 0; w < g.K; ++w) {
      const int64_t x = j + w - g.r;
      const int64_t o = u * g.K + w;
      const acc_t qk =
          g.inside(y, x) ? in.scale * dot(qbuf, kframe + y * in.ks.h + x * in.ks.w, in.ks.c, dim) : border_logit;
      logits[o] = qk + static_cast<acc_t>(rpb[o]);
    }
  }
}

template <typename acc_t>
inline void softmax_inplace(acc_t* x, int64_t n) {
  acc_t m = x[0];
  for (int64_t o = 1; o < n; ++o) m = std::max(m, x[o]);
  acc_t s = 0;
  for (int64_t o = 0; o < n; ++o) {
    x[o] = std::exp(x[o] - m);
    s += x[o];
  }
  const acc_t inv = acc_t(1) / s;
  for (int64_t o = 0; o < n; ++o) x[o] *= inv;
}

// out = sum_o weight[o] * x(window o) with outside positions = border; x_frame is at (b, t', 0, 0, h).
template <typename scalar_t, typename acc_t>
inline void window_combine(const Geometry& g, const scalar_t* x_frame, const Strides& xs, acc_t border, int64_t i,
                           int64_t j, const acc_t* weight, int64_t dim, acc_t* out) {
  std::fill(out, out + dim, acc_t(0));
  acc_t outside = 0;
  for (int64_t u = 0; u < g.K; ++u) {
    const int64_t y = i + u - g.r;
    for (int64_t w = 0; w < g.K; ++w) {
      const int64_t x = j + w - g.r;
      const acc_t a = weight[u * g.K + w];
      if (g.inside(y, x)) {
        axpy(a, x_frame + y * xs.h + x * xs.w, xs.c, out, dim);
      } else {
        outside += a;
      }
    }
  }
  const acc_t extra = border * outside;
  for (int64_t c = 0; c < dim; ++c) out[c] += extra;
}

// ---- row kernels ----
// kDim > 0 fixes the head width at compile time (the per-query vectors then live in registers);
// kDim = 0 takes it from the geometry and keeps the vectors in `scratch`.

// A [count x dim] work area: on the stack for a fixed width, else in scratch.
template <typename acc_t, int kDim, int kCount>
struct Work {
  acc_t local[kDim > 0 ? kCount* kDim : 1];
  acc_t* base;
  int64_t dim;
  Work(acc_t* scratch, int64_t dynamic_dim) : base(kDim > 0 ? local : scratch), dim(kDim > 0 ? kDim : dynamic_dim) {}
  acc_t* operator[](int n) { return base + n * dim; }
};

// Query row i of pair (b, p): cost and context of every (j, head). scratch: 2*dim + kk.
template <typename scalar_t, int kDim>
EMIM_CLONES void forward_row(const Geometry& g, const Inputs<scalar_t>& in, int64_t b, int64_t p, int64_t i,
                             acc_type<scalar_t>* scratch, scalar_t* cost, scalar_t* context) {
  using acc_t = acc_type<scalar_t>;
  Work<acc_t, kDim, 2> work(scratch, g.dim);
  const int64_t dim = work.dim;
  acc_t* qbuf = work[0];
  acc_t* out = work[1];
  acc_t* logits = scratch + 2 * g.dim;
  const bool last = p == g.T - 2;
  for (int64_t j = 0; j < g.W; ++j) {
    for (int64_t h = 0; h < g.heads; ++h) {
      const acc_t qsum = load(in.q + in.qs.at(b, p, i, j, h), in.qs.c, qbuf, dim, true);
      window_logits(g, in, in.k + in.ks.at(b, p + 1, 0, 0, h), h, i, j, qbuf, qsum, dim, logits);
      for (int64_t t : {p, g.T - 1}) {
        scalar_t* dst = cost + g.token(b, t, i, j, h) * g.kk;
        for (int64_t o = 0; o < g.kk; ++o) dst[o] = static_cast<scalar_t>(logits[o]);
        if (!last) break;
      }
      softmax_inplace(logits, g.kk);
      window_combine(g, in.v + in.vs.at(b, p + 1, 0, 0, h), in.vs, in.border, i, j, logits, dim, out);
      for (int64_t t : {p, g.T - 1}) {
        store(out, acc_t(1), acc_t(0), context + g.token(b, t, i, j, h) * dim, dim);
        if (!last) break;
      }
    }
  }
}

template <typename scalar_t>
struct Grads {
  const scalar_t *cost, *context;
  Strides cs, xs;
};

// Pass 1 for query row i of pair (b, p): dq, the P and dS buffers, and this row's drpb partial
// [heads * kk] (double). scratch: 3*dim + 2*kk.
template <typename scalar_t, int kDim>
EMIM_CLONES void backward_query_row(const Geometry& g, const Inputs<scalar_t>& in, const Grads<scalar_t>& gr, int64_t b,
                                    int64_t p, int64_t i, acc_type<scalar_t>* scratch, scalar_t* dq,
                                    acc_type<scalar_t>* probs, acc_type<scalar_t>* dlogits, double* drpb_row) {
  using acc_t = acc_type<scalar_t>;
  Work<acc_t, kDim, 3> work(scratch, g.dim);
  const int64_t dim = work.dim;
  acc_t* qbuf = work[0];
  acc_t* gbuf = work[1];
  acc_t* out = work[2];
  acc_t* prob = scratch + 3 * g.dim;
  acc_t* dprob = prob + g.kk;
  const bool last = p == g.T - 2;
  std::fill(drpb_row, drpb_row + g.heads * g.kk, 0.0);
  for (int64_t j = 0; j < g.W; ++j) {
    for (int64_t h = 0; h < g.heads; ++h) {
      const acc_t qsum = load(in.q + in.qs.at(b, p, i, j, h), in.qs.c, qbuf, dim, true);
      window_logits(g, in, in.k + in.ks.at(b, p + 1, 0, 0, h), h, i, j, qbuf, qsum, dim, prob);
      softmax_inplace(prob, g.kk);
      // Both output frames p and T-1 (when p = T-2) are this same function of the inputs.
      acc_t gsum = load(gr.context + gr.xs.at(b, p, i, j, h), gr.xs.c, gbuf, dim, true);
      if (last) gsum = load(gr.context + gr.xs.at(b, g.T - 1, i, j, h), gr.xs.c, gbuf, dim, false);
      const scalar_t* vframe = in.v + in.vs.at(b, p + 1, 0, 0, h);
      acc_t pdp = 0;
      for (int64_t u = 0; u < g.K; ++u) {
        const int64_t y = i + u - g.r;
        for (int64_t w = 0; w < g.K; ++w) {
          const int64_t x = j + w - g.r;
          const int64_t o = u * g.K + w;
          dprob[o] = g.inside(y, x) ? dot(gbuf, vframe + y * in.vs.h + x * in.vs.w, in.vs.c, dim) : in.border * gsum;
          pdp += prob[o] * dprob[o];
        }
      }
      const scalar_t* gc = gr.cost + gr.cs.at(b, p, i, j, h);
      const scalar_t* gc_last = gr.cost + gr.cs.at(b, g.T - 1, i, j, h);
      const int64_t buf = g.pair_token(b, p, i, j, h) * g.kk;
      for (int64_t o = 0; o < g.kk; ++o) {
        acc_t grad = static_cast<acc_t>(gc[o * gr.cs.c]);
        if (last) grad += static_cast<acc_t>(gc_last[o * gr.cs.c]);
        dprob[o] = grad + prob[o] * (dprob[o] - pdp);
        probs[buf + o] = prob[o];
        dlogits[buf + o] = dprob[o];
        drpb_row[h * g.kk + o] += static_cast<double>(dprob[o]);
      }
      window_combine(g, in.k + in.ks.at(b, p + 1, 0, 0, h), in.ks, in.border, i, j, dprob, dim, out);
      store(out, in.scale, acc_t(0), dq + g.token(b, p, i, j, h) * dim, dim);
    }
  }
}

// Pass 2 for key row y of frame p + 1: dk and dv gathered over the queries of frame p whose window
// holds the key, in (u, v) order. scratch: 2*dim.
template <typename scalar_t, int kDim>
EMIM_CLONES void backward_key_row(const Geometry& g, const Inputs<scalar_t>& in, const Grads<scalar_t>& gr, int64_t b,
                                  int64_t p, int64_t y, acc_type<scalar_t>* scratch, const acc_type<scalar_t>* probs,
                                  const acc_type<scalar_t>* dlogits, scalar_t* dk, scalar_t* dv) {
  using acc_t = acc_type<scalar_t>;
  Work<acc_t, kDim, 2> work(scratch, g.dim);
  const int64_t dim = work.dim;
  acc_t* kacc = work[0];
  acc_t* vacc = work[1];
  const bool last = p == g.T - 2;
  for (int64_t x = 0; x < g.W; ++x) {
    for (int64_t h = 0; h < g.heads; ++h) {
      std::fill(kacc, kacc + dim, acc_t(0));
      std::fill(vacc, vacc + dim, acc_t(0));
      for (int64_t u = 0; u < g.K; ++u) {
        const int64_t i = y - u + g.r;
        if (i < 0 || i >= g.H) continue;
        for (int64_t w = 0; w < g.K; ++w) {
          const int64_t j = x - w + g.r;
          if (j < 0 || j >= g.W) continue;
          const int64_t idx = g.pair_token(b, p, i, j, h) * g.kk + u * g.K + w;
          axpy(dlogits[idx], in.q + in.qs.at(b, p, i, j, h), in.qs.c, kacc, dim);
          axpy(probs[idx], gr.context + gr.xs.at(b, p, i, j, h), gr.xs.c, vacc, dim);
          if (last) axpy(probs[idx], gr.context + gr.xs.at(b, g.T - 1, i, j, h), gr.xs.c, vacc, dim);
        }
      }
      const int64_t out = g.token(b, p + 1, y, x, h) * dim;
      store(kacc, in.scale, acc_t(0), dk + out, dim);
      store(vacc, acc_t(1), acc_t(0), dv + out, dim);
    }
  }
}

// Calls body.template operator()<kDim>() with the head width fixed for float32 at d = 32 and 64.
template <typename scalar_t, typename Body>
void with_dim(int64_t dim, const Body& body) {
  if constexpr (std::is_same_v<scalar_t, float>) {
    if (dim == 64) return body.template operator()<64>();
    if (dim == 32) return body.template operator()<32>();
  }
  body.template operator()<0>();
}

template <typename scalar_t>
Inputs<scalar_t> make_inputs(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& rpb,
                             double scale) {
  using acc_t = acc_type<scalar_t>;
  return Inputs<scalar_t>{q.const_data_ptr<scalar_t>(),
                          k.const_data_ptr<scalar_t>(),
                          v.const_data_ptr<scalar_t>(),
                          rpb.const_data_ptr<scalar_t>(),
                          Strides(q),
                          Strides(k),
                          Strides(v),
                          static_cast<acc_t>(scale),
                          static_cast<acc_t>(static_cast<scalar_t>(kBorderValue))};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> forward_cpu(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                               const at::Tensor& rpb_in, double scale) {
  const at::Tensor rpb = rpb_in.contiguous();
  const Geometry g(q, rpb);
  at::Tensor cost = at::empty({g.B, g.T, g.H, g.W, g.heads, g.kk}, q.options());
  at::Tensor context = at::empty(q.sizes(), q.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_forward_cpu", [&] {
    using acc_t = acc_type<scalar_t>;
    const auto in = make_inputs<scalar_t>(q, k, v, rpb, scale);
    scalar_t* cost_ptr = cost.data_ptr<scalar_t>();
    scalar_t* context_ptr = context.data_ptr<scalar_t>();
    with_dim<scalar_t>(g.dim, [&]<int kDim>() {
      at::parallel_for(0, g.B * (g.T - 1) * g.H, 1, [&](int64_t begin, int64_t end) {
        std::vector<acc_t> scratch(2 * g.dim + g.kk);
        for (int64_t row = begin; row < end; ++row) {
          const int64_t i = row % g.H, p = (row / g.H) % (g.T - 1), b = row / (g.H * (g.T - 1));
          forward_row<scalar_t, kDim>(g, in, b, p, i, scratch.data(), cost_ptr, context_ptr);
        }
      });
    });
  });
  return {cost, context};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_cpu(
    const at::Tensor& grad_cost, const at::Tensor& grad_context, const at::Tensor& q, const at::Tensor& k,
    const at::Tensor& v, const at::Tensor& rpb_in, double scale) {
  const at::Tensor rpb = rpb_in.contiguous();
  const Geometry g(q, rpb);
  const int64_t rows = g.B * (g.T - 1) * g.H;
  const auto acc_dtype = at::toOpMathType(q.scalar_type());
  at::Tensor dq = at::empty(q.sizes(), q.options());
  at::Tensor dk = at::empty(q.sizes(), q.options());
  at::Tensor dv = at::empty(q.sizes(), q.options());
  at::Tensor drpb = at::empty(rpb.sizes(), rpb.options());
  // Query frame T-1 and key frame 0 take part in no pair.
  dq.select(1, g.T - 1).zero_();
  dk.select(1, 0).zero_();
  dv.select(1, 0).zero_();
  at::Tensor probs = at::empty({g.B, g.T - 1, g.H, g.W, g.heads, g.kk}, q.options().dtype(acc_dtype));
  at::Tensor dlogits = at::empty_like(probs);
  at::Tensor drpb_rows = at::empty({rows, g.heads * g.kk}, q.options().dtype(at::kDouble));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, q.scalar_type(), "emim_backward_cpu", [&] {
    using acc_t = acc_type<scalar_t>;
    const auto in = make_inputs<scalar_t>(q, k, v, rpb, scale);
    const Grads<scalar_t> gr{grad_cost.const_data_ptr<scalar_t>(), grad_context.const_data_ptr<scalar_t>(),
                             Strides(grad_cost), Strides(grad_context)};
    acc_t* probs_ptr = probs.data_ptr<acc_t>();
    acc_t* dlogits_ptr = dlogits.data_ptr<acc_t>();
    double* drpb_rows_ptr = drpb_rows.data_ptr<double>();
    scalar_t* dq_ptr = dq.data_ptr<scalar_t>();
    scalar_t* dk_ptr = dk.data_ptr<scalar_t>();
    scalar_t* dv_ptr = dv.data_ptr<scalar_t>();
    with_dim<scalar_t>(g.dim, [&]<int kDim>() {
      at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        std::vector<acc_t> scratch(3 * g.dim + 2 * g.kk);
        for (int64_t row = begin; row < end; ++row) {
          const int64_t i = row % g.H, p = (row / g.H) % (g.T - 1), b = row / (g.H * (g.T - 1));
          backward_query_row<scalar_t, kDim>(g, in, gr, b, p, i, scratch.data(), dq_ptr, probs_ptr, dlogits_ptr,
                                             drpb_rows_ptr + row * g.heads * g.kk);
        }
      });
      at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
        std::vector<acc_t> scratch(2 * g.dim);
        for (int64_t row = begin; row < end; ++row) {
          const int64_t y = row % g.H, p = (row / g.H) % (g.T - 1), b = row / (g.H * (g.T - 1));
          backward_key_row<scalar_t, kDim>(g, in, gr, b, p, y, scratch.data(), probs_ptr, dlogits_ptr, dk_ptr, dv_ptr);
        }
      });
    });
    // drpb: the row partials summed in row order (independent of the thread split).
    scalar_t* drpb_ptr = drpb.data_ptr<scalar_t>();
    const int64_t cols = g.heads * g.kk;
    at::parallel_for(0, cols, 1, [&](int64_t begin, int64_t end) {
      for (int64_t col = begin; col < end; ++col) {
        double s = 0;
        for (int64_t row = 0; row < rows; ++row) s += drpb_rows_ptr[row * cols + col];
        drpb_ptr[col] = static_cast<scalar_t>(s);
      }
    });
  });
  return {dq, dk, dv, drpb};
}

}  // namespace slowfast::emim
