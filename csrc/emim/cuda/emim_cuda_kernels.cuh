// Device code of the EMIM CUDA kernels and their host-side sizing (see ../emim.h for layouts and
// semantics, emim_cuda.cu for the launches).
//
// Included by emim_cuda.cu and, with tests/cuda_emulation/cuda_shim.h in front of it, by the CPU
// emulation of the kernels in the test suite (tests/test_ops_emim_cuda_emulation.py): keep it free of
// CUDA runtime calls and of torch beyond ATen/OpMathType.h and kBorderValue.
#pragma once

#include "../emim.h"

#include <ATen/OpMathType.h>

#include <cstddef>
#include <cstdint>
#include <limits>

namespace slowfast::emim::kernels {

#ifndef EMIM_CUDA_EMULATION
// The block's dynamic shared memory, 128-byte aligned (wmma tiles need 32; the emulation supplies its own).
template <typename T>
__device__ __forceinline__ T* shared_memory() {
  extern __shared__ __align__(128) unsigned char shared_mem[];
  return reinterpret_cast<T*>(shared_mem);
}
#endif

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxChunk = 64;  // channels staged per pass, at most
constexpr int kMaxTile = 8;

// Element strides of a [B, T, H, W, heads, channels] tensor.
struct Strides {
  int64_t b, t, h, w, n, c;
  __device__ int64_t at(int bb, int tt, int i, int j, int hh) const { return bb * b + tt * t + i * h + j * w + hh * n; }
};

// Frame t of a [B, T, H, W, heads, channels] tensor, plus frame t2 of the same tensor when `twice`.
template <typename scalar_t>
struct Frames {
  const scalar_t* data;
  Strides s;
  int t, t2;
  bool twice;
};

struct Geometry {
  int B, T, H, W, heads, dim, K, r, kk;
  int tile, tiles_w, tiles, halo;  // tile x tile positions per block; halo = tile + K - 1
  int chunk, row;                  // channels staged per pass; shared-memory elements per position
  __device__ bool inside(int y, int x) const { return y >= 0 && y < H && x >= 0 && x < W; }
  // Flat token index in a contiguous [B, T, H, W, heads] (or, with T - 1 frames, pair) layout.
  __device__ int64_t token(int b, int t, int frames, int i, int j, int h) const {
    return ((((int64_t)b * frames + t) * H + i) * W + j) * heads + h;
  }
};

// The block's frame pair (b, p), head h and first position (i0, j0) of its tile.
struct Block {
  int b, p, h, i0, j0;
};

__device__ __forceinline__ Block this_block(const Geometry g) {
  return {(int)blockIdx.z / (g.T - 1), (int)blockIdx.z % (g.T - 1), (int)blockIdx.y,
          (int)(blockIdx.x / g.tiles_w) * g.tile, (int)(blockIdx.x % g.tiles_w) * g.tile};
}

__device__ __forceinline__ float exp_acc(float x) { return expf(x); }
__device__ __forceinline__ double exp_acc(double x) { return exp(x); }

// Butterfly sums and maxima over a warp: every lane gets the same bits, whatever the scheduling.
template <typename acc_t>
__device__ __forceinline__ acc_t warp_sum(acc_t x) {
  for (int m = 16; m > 0; m >>= 1) x += __shfl_xor_sync(0xffffffff, x, m);
  return x;
}

template <typename acc_t>
__device__ __forceinline__ acc_t warp_max(acc_t x) {
  for (int m = 16; m > 0; m >>= 1) x = max(x, __shfl_xor_sync(0xffffffff, x, m));
  return x;
}

// dst[pos * g.row + c] = f[(b, f.t, oy + pos / cols, ox + pos % cols, h), c0 + c] (+ the same from frame
// f.t2 when f.twice) for c < cn; `fill` where the position is outside the frame.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ void stage(acc_t* dst, int rows, int cols, int oy, int ox, const Geometry g,
                                      const Frames<scalar_t> f, int b, int h, int c0, int cn, acc_t fill) {
  for (int idx = threadIdx.x; idx < rows * cols * cn; idx += blockDim.x) {
    const int c = idx % cn, pos = idx / cn;
    const int y = oy + pos / cols, x = ox + pos % cols;
    acc_t val = fill;
    if (g.inside(y, x)) {
      const int64_t ch = (int64_t)(c0 + c) * f.s.c;
      val = static_cast<acc_t>(f.data[f.s.at(b, f.t, y, x, h) + ch]);
      if (f.twice) val += static_cast<acc_t>(f.data[f.s.at(b, f.t2, y, x, h) + ch]);
    }
    dst[pos * g.row + c] = val;
  }
}

// acc[qi * kk + o] = <a(qi), b(window position (qi, o))> over all channels, for the positions qi of the
// block's query tile: a is staged from `a` over the tile (zero outside the frame), b from `b` over the
// tile's halo (the border value outside the frame), g.chunk channels per pass into `tile` and `halo`.
// Starts and ends with a barrier: earlier readers of tile and halo are done, acc is complete.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ void window_dots(const Geometry g, const Block blk, const Frames<scalar_t> a,
                                            const Frames<scalar_t> b, acc_t border, acc_t* tile, acc_t* halo,
                                            acc_t* acc) {
  const int nq = g.tile * g.tile;
  for (int idx = threadIdx.x; idx < nq * g.kk; idx += blockDim.x) acc[idx] = 0;
  for (int c0 = 0; c0 < g.dim; c0 += g.chunk) {
    const int cn = min(g.chunk, g.dim - c0);
    __syncthreads();
    stage(halo, g.halo, g.halo, blk.i0 - g.r, blk.j0 - g.r, g, b, blk.b, blk.h, c0, cn, border);
    stage(tile, g.tile, g.tile, blk.i0, blk.j0, g, a, blk.b, blk.h, c0, cn, acc_t(0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < nq * g.kk; idx += blockDim.x) {
      const int qi = idx / g.kk, o = idx % g.kk;
      const int pos = (qi / g.tile + o / g.K) * g.halo + qi % g.tile + o % g.K;
      const acc_t* x = tile + qi * g.row;
      const acc_t* y = halo + pos * g.row;
      acc_t s = 0;
      for (int c = 0; c < cn; ++c) s += x[c] * y[c];
      acc[idx] += s;
    }
  }
  __syncthreads();
}

// Warp `warp` turns the logits of its queries into softmax weights (in place), writing the raw
// logits (scale * dot + rpb) to `cost` (frames p and, for the last pair, T-1) when cost is given.
template <typename scalar_t, typename acc_t>
__device__ __forceinline__ void window_softmax(const Geometry g, const Block blk, acc_t* logits, const scalar_t* rpb,
                                               acc_t scale, scalar_t* cost) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int qi = warp; qi < g.tile * g.tile; qi += kWarps) {
    const int i = blk.i0 + qi / g.tile, j = blk.j0 + qi % g.tile;
    if (!g.inside(i, j)) continue;  // uniform across the warp
    acc_t* l = logits + qi * g.kk;
    acc_t m = -std::numeric_limits<acc_t>::infinity();
    for (int o = lane; o < g.kk; o += 32) {
      l[o] = scale * l[o] + static_cast<acc_t>(rpb[blk.h * g.kk + o]);
      m = max(m, l[o]);
      if (cost != nullptr) {
        cost[g.token(blk.b, blk.p, g.T, i, j, blk.h) * g.kk + o] = static_cast<scalar_t>(l[o]);
        if (blk.p == g.T - 2) cost[g.token(blk.b, g.T - 1, g.T, i, j, blk.h) * g.kk + o] = static_cast<scalar_t>(l[o]);
      }
    }
    m = warp_max(m);
    acc_t s = 0;
    for (int o = lane; o < g.kk; o += 32) {
      l[o] = exp_acc(l[o] - m);
      s += l[o];
    }
    const acc_t inv = acc_t(1) / warp_sum(s);
    for (int o = lane; o < g.kk; o += 32) l[o] *= inv;
  }
}

// out(qi, c) = sum_o weight[qi, o] * halo[window position (qi, o), c] for the staged chunk; calls
// write(qi, c, value) for the positions inside the frame.
template <typename acc_t, typename Write>
__device__ __forceinline__ void window_combine(const Geometry g, const Block blk, const acc_t* weight,
                                               const acc_t* halo, int cn, const Write& write) {
  const int nq = g.tile * g.tile;
  for (int idx = threadIdx.x; idx < nq * cn; idx += blockDim.x) {
    const int qi = idx / cn, c = idx % cn;
    const int qy = qi / g.tile, qx = qi % g.tile;
    if (!g.inside(blk.i0 + qy, blk.j0 + qx)) continue;
    const acc_t* w = weight + qi * g.kk;
    acc_t s = 0;
    for (int u = 0; u < g.K; ++u) {
      const acc_t* row = halo + ((qy + u) * g.halo + qx) * g.row + c;
      for (int v = 0; v < g.K; ++v) s += w[u * g.K + v] * row[v * g.row];
    }
    write(qi, c, s);
  }
}

template <typename scalar_t>
struct Operands {
  const scalar_t *q, *k, *v, *rpb;  // rpb contiguous [heads, K*K]
  Strides qs, ks, vs;
};

template <typename scalar_t>
struct GradOperands {
  const scalar_t *cost, *context;
  Strides cs, xs;
};

template <typename scalar_t>
__device__ __forceinline__ at::opmath_type<scalar_t> border_value() {
  return static_cast<at::opmath_type<scalar_t>>(static_cast<scalar_t>(kBorderValue));
}

template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) forward_kernel(
    Geometry g, Operands<scalar_t> in, at::opmath_type<scalar_t> scale, scalar_t* cost, scalar_t* context) {
  using acc_t = at::opmath_type<scalar_t>;
  const int nq = g.tile * g.tile;
  acc_t* halo = shared_memory<acc_t>();
  acc_t* qtile = halo + g.halo * g.halo * g.row;
  acc_t* logits = qtile + nq * g.row;
  const Block blk = this_block(g);
  const acc_t border = border_value<scalar_t>();
  const Frames<scalar_t> keys{in.k, in.ks, blk.p + 1, 0, false}, values{in.v, in.vs, blk.p + 1, 0, false};
  window_dots(g, blk, Frames<scalar_t>{in.q, in.qs, blk.p, 0, false}, keys, border, qtile, halo, logits);
  window_softmax(g, blk, logits, in.rpb, scale, cost);
  for (int c0 = 0; c0 < g.dim; c0 += g.chunk) {
    const int cn = min(g.chunk, g.dim - c0);
    __syncthreads();
    stage(halo, g.halo, g.halo, blk.i0 - g.r, blk.j0 - g.r, g, values, blk.b, blk.h, c0, cn, border);
    __syncthreads();
    window_combine(g, blk, logits, halo, cn, [&](int qi, int c, acc_t value) {
      const int i = blk.i0 + qi / g.tile, j = blk.j0 + qi % g.tile;
      context[g.token(blk.b, blk.p, g.T, i, j, blk.h) * g.dim + c0 + c] = static_cast<scalar_t>(value);
      if (blk.p == g.T - 2) {
        context[g.token(blk.b, g.T - 1, g.T, i, j, blk.h) * g.dim + c0 + c] = static_cast<scalar_t>(value);
      }
    });
  }
}

// Pass 1 (query tiles): dq, the P and dS buffers [B, T-1, H, W, heads, K*K] and the tile's drpb partial.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    backward_query_kernel(Geometry g, Operands<scalar_t> in, GradOperands<scalar_t> gr, at::opmath_type<scalar_t> scale,
                          scalar_t* dq, at::opmath_type<scalar_t>* probs, at::opmath_type<scalar_t>* dlogits,
                          at::opmath_type<scalar_t>* drpb_partial) {
  using acc_t = at::opmath_type<scalar_t>;
  const int nq = g.tile * g.tile;
  acc_t* halo = shared_memory<acc_t>();
  acc_t* qtile = halo + g.halo * g.halo * g.row;
  acc_t* prob = qtile + nq * g.row;
  acc_t* dprob = prob + nq * g.kk;
  const Block blk = this_block(g);
  const bool last = blk.p == g.T - 2;
  const acc_t border = border_value<scalar_t>();
  const Frames<scalar_t> keys{in.k, in.ks, blk.p + 1, 0, false}, values{in.v, in.vs, blk.p + 1, 0, false};
  window_dots(g, blk, Frames<scalar_t>{in.q, in.qs, blk.p, 0, false}, keys, border, qtile, halo, prob);
  window_softmax(g, blk, prob, in.rpb, scale, (scalar_t*)nullptr);
  // dP = <grad_context, v>; output frames p and T-1 (last pair) are one function, so their grads add.
  window_dots(g, blk, Frames<scalar_t>{gr.context, gr.xs, blk.p, g.T - 1, last}, values, border, qtile, halo, dprob);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  for (int qi = warp; qi < nq; qi += kWarps) {
    const int i = blk.i0 + qi / g.tile, j = blk.j0 + qi % g.tile;
    acc_t* pr = prob + qi * g.kk;
    acc_t* dp = dprob + qi * g.kk;
    if (!g.inside(i, j)) {
      for (int o = lane; o < g.kk; o += 32) dp[o] = 0;
      continue;
    }
    acc_t s = 0;
    for (int o = lane; o < g.kk; o += 32) s += pr[o] * dp[o];
    s = warp_sum(s);
    const int64_t gc = gr.cs.at(blk.b, blk.p, i, j, blk.h), gc_last = gr.cs.at(blk.b, g.T - 1, i, j, blk.h);
    const int64_t buf = g.token(blk.b, blk.p, g.T - 1, i, j, blk.h) * g.kk;
    for (int o = lane; o < g.kk; o += 32) {
      acc_t grad = static_cast<acc_t>(gr.cost[gc + o * gr.cs.c]);
      if (last) grad += static_cast<acc_t>(gr.cost[gc_last + o * gr.cs.c]);
      dp[o] = grad + pr[o] * (dp[o] - s);
      probs[buf + o] = pr[o];
      dlogits[buf + o] = dp[o];
    }
  }
  __syncthreads();
  const int64_t block = ((int64_t)blockIdx.z * g.heads + blk.h) * g.tiles + blockIdx.x;
  for (int o = threadIdx.x; o < g.kk; o += blockDim.x) {
    acc_t s = 0;
    for (int qi = 0; qi < nq; ++qi) s += dprob[qi * g.kk + o];
    drpb_partial[block * g.kk + o] = s;
  }
  for (int c0 = 0; c0 < g.dim; c0 += g.chunk) {
    const int cn = min(g.chunk, g.dim - c0);
    __syncthreads();
    stage(halo, g.halo, g.halo, blk.i0 - g.r, blk.j0 - g.r, g, keys, blk.b, blk.h, c0, cn, border);
    __syncthreads();
    window_combine(g, blk, dprob, halo, cn, [&](int qi, int c, acc_t value) {
      const int i = blk.i0 + qi / g.tile, j = blk.j0 + qi % g.tile;
      dq[g.token(blk.b, blk.p, g.T, i, j, blk.h) * g.dim + c0 + c] = static_cast<scalar_t>(scale * value);
    });
  }
}

// Pass 2 (key tiles of frame p + 1): dk = scale * sum dS * q and dv = sum P * grad_context over the
// queries (i, j) = (y - u + r, x - v + r) of frame p, in (u, v) order.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads)
    backward_key_kernel(Geometry g, Operands<scalar_t> in, GradOperands<scalar_t> gr, at::opmath_type<scalar_t> scale,
                        const at::opmath_type<scalar_t>* probs, const at::opmath_type<scalar_t>* dlogits, scalar_t* dk,
                        scalar_t* dv) {
  using acc_t = at::opmath_type<scalar_t>;
  const int nk = g.tile * g.tile;
  acc_t* qhalo = shared_memory<acc_t>();
  acc_t* ghalo = qhalo + g.halo * g.halo * g.row;
  acc_t* coef_s = ghalo + g.halo * g.halo * g.row;
  acc_t* coef_p = coef_s + nk * g.kk;
  const Block blk = this_block(g);  // (i0, j0): the first key of the tile
  const int b = blk.b, p = blk.p, h = blk.h, y0 = blk.i0, x0 = blk.j0;
  const Frames<scalar_t> queries{in.q, in.qs, p, 0, false}, grads{gr.context, gr.xs, p, g.T - 1, p == g.T - 2};
  for (int idx = threadIdx.x; idx < nk * g.kk; idx += blockDim.x) {
    const int key = idx / g.kk, o = idx % g.kk;
    const int y = y0 + key / g.tile, x = x0 + key % g.tile;
    const int i = y - o / g.K + g.r, j = x - o % g.K + g.r;
    const bool valid = g.inside(y, x) && g.inside(i, j);
    const int64_t at = valid ? g.token(b, p, g.T - 1, i, j, h) * g.kk + o : 0;
    coef_s[idx] = valid ? dlogits[at] : acc_t(0);
    coef_p[idx] = valid ? probs[at] : acc_t(0);
  }
  for (int c0 = 0; c0 < g.dim; c0 += g.chunk) {
    const int cn = min(g.chunk, g.dim - c0);
    __syncthreads();
    stage(qhalo, g.halo, g.halo, y0 - g.r, x0 - g.r, g, queries, b, h, c0, cn, acc_t(0));
    stage(ghalo, g.halo, g.halo, y0 - g.r, x0 - g.r, g, grads, b, h, c0, cn, acc_t(0));
    __syncthreads();
    for (int idx = threadIdx.x; idx < nk * cn; idx += blockDim.x) {
      const int key = idx / cn, c = idx % cn;
      const int ky = key / g.tile, kx = key % g.tile;
      if (!g.inside(y0 + ky, x0 + kx)) continue;
      acc_t sk = 0, sv = 0;
      for (int u = 0; u < g.K; ++u) {
        for (int v = 0; v < g.K; ++v) {
          const int o = u * g.K + v;
          const int pos = ((ky + g.K - 1 - u) * g.halo + kx + g.K - 1 - v) * g.row + c;
          sk += coef_s[key * g.kk + o] * qhalo[pos];
          sv += coef_p[key * g.kk + o] * ghalo[pos];
        }
      }
      const int64_t out = g.token(b, p + 1, g.T, y0 + ky, x0 + kx, h) * g.dim + c0 + c;
      dk[out] = static_cast<scalar_t>(scale * sk);
      dv[out] = static_cast<scalar_t>(sv);
    }
  }
}

// drpb[h, o] = sum over the blocks of pass 1 of their partials, in double, one warp per (h, o): lane l
// adds blocks l, l + 32, ... in order, then a butterfly tree adds the lanes. Fixed order throughout.
template <typename scalar_t>
__global__ void __launch_bounds__(kThreads) drpb_kernel(int blocks_per_head_pair, int pairs, int heads, int kk,
                                                        const at::opmath_type<scalar_t>* partial, scalar_t* drpb) {
  const int col = blockIdx.x * kWarps + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (col >= heads * kk) return;  // uniform across the warp
  const int h = col / kk, o = col % kk;
  double s = 0;
  for (int n = lane; n < pairs * blocks_per_head_pair; n += 32) {
    const int z = n / blocks_per_head_pair, t = n % blocks_per_head_pair;
    s += partial[(((int64_t)z * heads + h) * blocks_per_head_pair + t) * kk + o];
  }
  s = warp_sum(s);
  if (lane == 0) drpb[col] = static_cast<scalar_t>(s);
}

// The kernels that stage tiles in shared memory.
enum class Kernel { kForward, kBackwardQuery, kBackwardKey };

// Elements per staged position for `chunk` channels: odd, so that the lanes of a warp reading one
// channel of different positions hit different banks.
inline int row_length(int chunk) { return chunk | 1; }

// Shared-memory bytes of a kernel for a tile size and `chunk` channels per pass.
inline size_t smem_bytes(Kernel kernel, int tile, int K, int chunk, size_t acc_size) {
  const size_t row = row_length(chunk);
  const size_t halo = (size_t)(tile + K - 1) * (tile + K - 1) * row;
  const size_t n = (size_t)tile * tile;
  switch (kernel) {
    case Kernel::kForward:
      return (halo + n * row + n * K * K) * acc_size;
    case Kernel::kBackwardQuery:
      return (halo + n * row + 2 * n * K * K) * acc_size;
    case Kernel::kBackwardKey:
      return (2 * halo + 2 * n * K * K) * acc_size;
  }
  return 0;
}

// Geometry of a launch with tile x tile positions per block, staging `chunk` channels per pass.
inline Geometry make_geometry(int B, int T, int H, int W, int heads, int dim, int K, int tile, int chunk) {
  Geometry g{};
  g.B = B, g.T = T, g.H = H, g.W = W, g.heads = heads, g.dim = dim;
  g.K = K, g.r = K / 2, g.kk = K * K;
  g.tile = tile;
  g.tiles_w = (W + tile - 1) / tile;
  g.tiles = g.tiles_w * ((H + tile - 1) / tile);
  g.halo = tile + K - 1;
  g.chunk = chunk;
  g.row = row_length(chunk);
  return g;
}

// Tile size and channels per pass of a kernel.
struct Tiling {
  int tile, chunk;
};

// The widest chunk (min(d, kMaxChunk), halved while nothing fits) with which some tile fits in
// smem_limit bytes, and with it the tile that stages the fewest elements (tile positions plus halo) over
// the frame, ties to the larger tile; tile 0 if nothing fits even one channel at a time.
inline Tiling pick_tiling(Kernel kernel, int H, int W, int K, int dim, size_t acc_size, size_t smem_limit) {
  for (int chunk = dim < kMaxChunk ? dim : kMaxChunk; chunk >= 1; chunk /= 2) {
    Tiling best{0, chunk};
    int64_t best_cost = -1;
    for (int t = kMaxTile; t >= 1; --t) {
      if (smem_bytes(kernel, t, K, chunk, acc_size) > smem_limit) continue;
      const int64_t tiles = (int64_t)((H + t - 1) / t) * ((W + t - 1) / t);
      const int64_t cost = tiles * ((int64_t)(t + K - 1) * (t + K - 1) + t * t);
      if (best_cost < 0 || cost < best_cost) best_cost = cost, best.tile = t;
    }
    if (best.tile > 0) return best;
  }
  return {0, 1};
}

// Grid of the tile kernels: (tiles, heads, B * (T - 1)).
inline dim3 tile_grid(const Geometry& g) { return dim3(g.tiles, g.heads, g.B * (g.T - 1)); }

// Grid of drpb_kernel: one warp per (head, window offset).
inline dim3 drpb_grid(int heads, int kk) { return dim3((heads * kk + kWarps - 1) / kWarps); }

}  // namespace slowfast::emim::kernels
