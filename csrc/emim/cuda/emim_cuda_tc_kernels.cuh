// Tensor-core device code of the EMIM CUDA kernels (float16/bfloat16 inputs, float32 accumulation) and
// its host-side sizing; emim_cuda_kernels.cuh holds the general (SIMT) path and the shared pieces.
//
// One block per (frame pair, head) holds the whole query frame p and key/value frame p + 1 in shared
// memory (16-bit, rows padded to 16). Each warp takes 16-query tiles in turn: S = Q Kᵀ against the
// contiguous run of key rows that the tile's windows reach (its haloed key tile, widened to 16 columns)
// on tensor cores (nvcuda::wmma m16n16k16), stored to shared memory; the warp's lanes then mask S to
// each query's K x K window (a key outside the frame is the border vector, whose dot with q is
// border * sum(q), formed in float32), add scale and rpb, write the raw logits (cost), take the
// float32 softmax and scatter the weights into a dense 16-bit tile for P V on tensor cores (plus the
// weight outside the frame times the border value). Fragments are touched only through
// load/store/mma/fill: the element-to-lane map of a fragment is unspecified, so every mask and softmax
// goes through shared memory. Backward recomputes S and P, forms dP = dO Vᵀ and
// dS = grad_cost + P (dP - sum P dP), dq = scale dS K (tensor cores); then per 16-key tile of frame p+1
// dk = scale dSᵀ Q and dv = Pᵀ dO from P and dS kept (16-bit) in shared memory. The keys of frame p+1
// serve only the queries of frame p, so dq, dk and dv are whole in one block: no atomics, and every sum
// runs in a fixed order (drpb: per warp over its tiles, then over the warps, then drpb_kernel over the
// blocks), so results are bit-identical run to run.
//
// Included by emim_cuda.cu and by the CPU emulation (tests/cuda_emulation/), whose cuda_shim.h gives
// wmma's semantics and checks its preconditions.
#pragma once

#include "emim_cuda_kernels.cuh"

#ifndef EMIM_CUDA_EMULATION
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <mma.h>
#endif

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace slowfast::emim::kernels::tc {

namespace wmma = nvcuda::wmma;

constexpr int kTile = 16;     // wmma m16n16k16: 16 queries (or keys) per warp tile, 16 channels per step
constexpr int kMaxDim = 128;  // head widths taken: multiples of 16 up to this (fragments held per warp)
constexpr int kMaxWarps = 8;
constexpr int kAlign = 128;  // bytes; wmma needs 32-byte aligned tile pointers

// The CUDA type that wmma takes for an ATen 16-bit type (same bits).
template <typename scalar_t>
struct Fragment;
template <>
struct Fragment<c10::Half> {
  using type = __half;
};
template <>
struct Fragment<c10::BFloat16> {
  using type = __nv_bfloat16;
};

// Sizes and shared-memory layout of one launch.
struct Plan {
  int B, T, H, W, heads, dim, K, r, kk;
  int n, np;  // tokens per frame; n rounded up to kTile (rows staged, zero past n)
  int warps;  // warps per block, 0: the path does not take the shape
  int span;   // the most key (or query) columns a tile of kTile tokens meets, a multiple of kTile
  int ld;     // row stride (elements) of the staged frames: dim + 8
  int lds;    // row stride (floats) of a warp's S / dP tile: span + 4
  int ldp;    // row stride (elements) of a warp's dense 16-bit tile: span + 8
  int ldo;    // row stride (floats) of a warp's output tile: dim + 4
  size_t frame_bytes, compact_bytes;               // one staged frame; one [n, K*K] 16-bit buffer
  size_t main_bytes, out_offset, warp_bytes;       // a warp's region: S tile, or dense tile then output tile
  size_t logits_offset, rows_offset, part_offset;  // within a warp's region
};

// Token range [begin, end) of the other frame that the windows of tokens [kTile t, kTile (t + 1)) of a
// frame reach: whole frame rows, widened to multiples of kTile. The window is symmetric, so the same range
// holds the queries whose windows reach keys [kTile t, kTile (t + 1)).
struct Span {
  int begin, end;
};

__host__ __device__ inline Span window_span(const Plan& g, int t) {
  const int first = t * kTile, last = (first + kTile < g.n ? first + kTile : g.n) - 1;
  const int row0 = first / g.W - g.r > 0 ? first / g.W - g.r : 0;
  const int row1 = last / g.W + g.r < g.H - 1 ? last / g.W + g.r : g.H - 1;
  return {row0 * g.W / kTile * kTile, ((row1 + 1) * g.W + kTile - 1) / kTile * kTile};
}

inline size_t align_up(size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

// The passes that stage whole frames.
enum class Pass { kForward, kBackward };

inline size_t plan_bytes(const Plan& g, Pass pass) {
  const size_t block = pass == Pass::kForward ? 3 * g.frame_bytes : 4 * g.frame_bytes + 2 * g.compact_bytes;
  return block + (size_t)g.warps * g.warp_bytes;
}

// Plan of `pass` with `warps` warps (0: the most, kMaxWarps halved, that fit smem_limit bytes per block,
// and no more than a power of two above the 16-token tiles of a frame);
// warps = 0 in the result when the head width is not a multiple of kTile up to kMaxDim or nothing fits.
inline Plan make_plan(Pass pass, int B, int T, int H, int W, int heads, int dim, int K, size_t smem_limit,
                      int warps = 0) {
  Plan g{};
  g.B = B, g.T = T, g.H = H, g.W = W, g.heads = heads, g.dim = dim, g.K = K, g.r = K / 2, g.kk = K * K;
  g.n = H * W;
  g.np = (g.n + kTile - 1) / kTile * kTile;
  for (int t = 0; t < g.np / kTile; ++t) {
    const Span s = window_span(g, t);
    g.span = s.end - s.begin > g.span ? s.end - s.begin : g.span;
  }
  g.ld = dim + 8, g.lds = g.span + 4, g.ldp = g.span + 8, g.ldo = dim + 4;
  g.frame_bytes = align_up((size_t)g.np * g.ld * 2);
  g.compact_bytes = align_up((size_t)g.n * g.kk * 2);
  const size_t s_tile = (size_t)kTile * g.lds * 4;
  g.out_offset = align_up((size_t)kTile * g.ldp * 2);
  const size_t dense_out = g.out_offset + (size_t)kTile * g.ldo * 4;
  g.main_bytes = align_up(s_tile > dense_out ? s_tile : dense_out);
  g.logits_offset = g.main_bytes;
  g.rows_offset = g.logits_offset + align_up((size_t)kTile * g.kk * 4);
  g.part_offset = g.rows_offset + align_up(3 * kTile * 4);
  g.warp_bytes = g.part_offset + align_up((size_t)g.kk * 4);
  if (dim % kTile != 0 || dim > kMaxDim) return g;
  int most = kMaxWarps;  // no more warps than tiles: an idle warp would only hold shared memory
  while (most > 1 && most / 2 >= g.np / kTile) most /= 2;
  for (int w = warps > 0 ? warps : most; w >= 1; w /= 2) {
    g.warps = w;
    if (plan_bytes(g, pass) <= smem_limit) return g;
    if (warps > 0) break;
  }
  g.warps = 0;
  return g;
}

// A warp's slice of the block's shared memory (see Plan).
template <typename scalar_t>
struct WarpScratch {
  float* s;         // [kTile, lds]: S, then dP
  scalar_t* dense;  // [kTile, ldp]: P, dS or their transposes over the tile's span (overlays s)
  float* out;       // [kTile, ldo]: a product with a frame (overlays s)
  float* logits;    // [kTile, K*K]: logits, then P, then dS (float32)
  float* rows;      // [3, kTile]: per-row border terms
  float* part;      // [K*K]: the warp's drpb partial
};

template <typename scalar_t>
__device__ __forceinline__ WarpScratch<scalar_t> warp_scratch(const Plan& g, unsigned char* base, int warp) {
  unsigned char* w = base + (size_t)warp * g.warp_bytes;
  return {reinterpret_cast<float*>(w),
          reinterpret_cast<scalar_t*>(w),
          reinterpret_cast<float*>(w + g.out_offset),
          reinterpret_cast<float*>(w + g.logits_offset),
          reinterpret_cast<float*>(w + g.rows_offset),
          reinterpret_cast<float*>(w + g.part_offset)};
}

// Whether frame rows of f can be read 8 channels (16 bytes) at a time: channel stride 1, every other
// stride and dim multiples of 8, data 16-byte aligned (the q, k, v views of a qkv Linear output are).
template <typename scalar_t>
__device__ __forceinline__ bool loads_16_bytes(const Plan& g, const Frames<scalar_t>& f) {
  const Strides& s = f.s;
  return s.c == 1 && g.dim % 8 == 0 && s.b % 8 == 0 && s.t % 8 == 0 && s.h % 8 == 0 && s.w % 8 == 0 && s.n % 8 == 0 &&
         reinterpret_cast<std::uintptr_t>(f.data) % 16 == 0;
}

// dst[tok * g.ld + c] = f at token tok of frame f.t (plus frame f.t2 when f.twice), channel c; rows
// n..np-1 zero. Channels dim..ld-1 are never read. 16 bytes per load where the layout allows it.
template <typename scalar_t>
__device__ __forceinline__ void stage_frame(scalar_t* dst, const Plan& g, const Frames<scalar_t> f, int b, int h) {
  if (loads_16_bytes(g, f)) {
    const int groups = g.dim / 8;
#pragma unroll 4
    for (int idx = threadIdx.x; idx < g.np * groups; idx += blockDim.x) {
      const int tok = idx / groups, c = idx % groups * 8;
      uint4 raw = make_uint4(0, 0, 0, 0);  // all bits zero: +0 in float16 and bfloat16
      if (tok < g.n) {
        raw = *reinterpret_cast<const uint4*>(f.data + f.s.at(b, f.t, tok / g.W, tok % g.W, h) + c);
        if (f.twice) {
          const uint4 other = *reinterpret_cast<const uint4*>(f.data + f.s.at(b, f.t2, tok / g.W, tok % g.W, h) + c);
          scalar_t x[8], y[8];
          memcpy(x, &raw, 16);
          memcpy(y, &other, 16);
          for (int e = 0; e < 8; ++e) x[e] = static_cast<scalar_t>(static_cast<float>(x[e]) + static_cast<float>(y[e]));
          memcpy(&raw, x, 16);
        }
      }
      *reinterpret_cast<uint4*>(dst + (size_t)tok * g.ld + c) = raw;
    }
    return;
  }
  for (int idx = threadIdx.x; idx < g.np * g.dim; idx += blockDim.x) {
    const int tok = idx / g.dim, c = idx % g.dim;
    float val = 0.0f;
    if (tok < g.n) {
      const int64_t ch = (int64_t)c * f.s.c;
      val = static_cast<float>(f.data[f.s.at(b, f.t, tok / g.W, tok % g.W, h) + ch]);
      if (f.twice) val += static_cast<float>(f.data[f.s.at(b, f.t2, tok / g.W, tok % g.W, h) + ch]);
    }
    dst[tok * g.ld + c] = static_cast<scalar_t>(val);
  }
}

// out[kTile, cols] (row stride ldo) = a[kTile, inner] b[cols, inner]ᵀ on tensor cores; a and b are rows of
// stride lda / ldb (b read as a column-major matrix_b), inner <= kMaxDim, both multiples of kTile.
template <typename scalar_t>
__device__ __forceinline__ void times_transposed(const scalar_t* a, int lda, const scalar_t* b, int ldb, int inner,
                                                 int cols, float* out, int ldo) {
  using T = typename Fragment<scalar_t>::type;
  wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, T, wmma::row_major> fa[kMaxDim / kTile];
#pragma unroll
  for (int s = 0; s < kMaxDim / kTile; ++s) {
    if (s * kTile < inner) wmma::load_matrix_sync(fa[s], reinterpret_cast<const T*>(a + s * kTile), lda);
  }
  for (int j = 0; j < cols; j += kTile) {
    wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc;
    wmma::fill_fragment(acc, 0.0f);
#pragma unroll
    for (int s = 0; s < kMaxDim / kTile; ++s) {
      if (s * kTile < inner) {
        wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, T, wmma::col_major> fb;
        wmma::load_matrix_sync(fb, reinterpret_cast<const T*>(b + (size_t)j * ldb + s * kTile), ldb);
        wmma::mma_sync(acc, fa[s], fb, acc);
      }
    }
    wmma::store_matrix_sync(out + j, acc, ldo, wmma::mem_row_major);
  }
}

// out[kTile, cols] (row stride ldo) = a[kTile, inner] b[inner, cols] on tensor cores; a of row stride lda,
// b rows of stride ldb, cols <= kMaxDim, both multiples of kTile. Accumulates over inner in order.
template <typename scalar_t>
__device__ __forceinline__ void times(const scalar_t* a, int lda, const scalar_t* b, int ldb, int inner, int cols,
                                      float* out, int ldo) {
  using T = typename Fragment<scalar_t>::type;
  wmma::fragment<wmma::accumulator, kTile, kTile, kTile, float> acc[kMaxDim / kTile];
#pragma unroll
  for (int c = 0; c < kMaxDim / kTile; ++c) {
    if (c * kTile < cols) wmma::fill_fragment(acc[c], 0.0f);
  }
  for (int s = 0; s < inner; s += kTile) {
    wmma::fragment<wmma::matrix_a, kTile, kTile, kTile, T, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, reinterpret_cast<const T*>(a + s), lda);
#pragma unroll
    for (int c = 0; c < kMaxDim / kTile; ++c) {
      if (c * kTile < cols) {
        wmma::fragment<wmma::matrix_b, kTile, kTile, kTile, T, wmma::row_major> fb;
        wmma::load_matrix_sync(fb, reinterpret_cast<const T*>(b + (size_t)s * ldb + c * kTile), ldb);
        wmma::mma_sync(acc[c], fa, fb, acc[c]);
      }
    }
  }
#pragma unroll
  for (int c = 0; c < kMaxDim / kTile; ++c) {
    if (c * kTile < cols) wmma::store_matrix_sync(out + c * kTile, acc[c], ldo, wmma::mem_row_major);
  }
}

// rows[row] = border * (sum over channels of frame row first + row), for the kTile rows of a tile (lanes
// 0..kTile-1): the dot of a staged row with the border vector.
template <typename scalar_t>
__device__ __forceinline__ void border_dots(const Plan& g, const scalar_t* frame, int first, float border,
                                            float* rows) {
  const int lane = threadIdx.x % 32;
  if (lane < kTile) {
    const scalar_t* x = frame + (size_t)(first + lane) * g.ld;
    float s = 0.0f;
    for (int c = 0; c < g.dim; ++c) s += static_cast<float>(x[c]);
    rows[lane] = border * s;
  }
}

// The key token of window offset o of query token tok, or -1 outside the frame.
__device__ __forceinline__ int window_key(const Plan& g, int tok, int o) {
  const int y = tok / g.W + o / g.K - g.r, x = tok % g.W + o % g.K - g.r;
  return y >= 0 && y < g.H && x >= 0 && x < g.W ? y * g.W + x : -1;
}

// The query token whose window offset o holds key token key, or -1 outside the frame.
__device__ __forceinline__ int window_query(const Plan& g, int key, int o) {
  const int i = key / g.W - o / g.K + g.r, j = key % g.W - o % g.K + g.r;
  return i >= 0 && i < g.H && j >= 0 && j < g.W ? i * g.W + j : -1;
}

// From the S tile of query tile `first` (keys from `begin`): logits[row, o] = scale * dot + rpb for the
// rows inside the frame, written to `cost` (frames p and, for the last pair, T-1) when given; then each
// row's softmax in place (lane pairs: two lanes per row, fixed-order shuffles); rows[kTile + row] = the
// row's weight outside the frame.
template <typename scalar_t>
__device__ __forceinline__ void tile_softmax(const Plan& g, const WarpScratch<scalar_t>& ws, int first, int begin,
                                             int b, int p, int h, const scalar_t* rpb, float scale, scalar_t* cost) {
  const int lane = threadIdx.x % 32;
  for (int e = lane; e < kTile * g.kk; e += 32) {
    const int row = e / g.kk, o = e % g.kk, tok = first + row;
    if (tok >= g.n) continue;
    const int key = window_key(g, tok, o);
    const float dot = key >= 0 ? ws.s[row * g.lds + key - begin] : ws.rows[row];
    const float logit = scale * dot + static_cast<float>(rpb[h * g.kk + o]);
    ws.logits[e] = logit;
    if (cost != nullptr) {
      cost[(((int64_t)b * g.T + p) * g.n + tok) * g.heads * g.kk + h * g.kk + o] = static_cast<scalar_t>(logit);
      if (p == g.T - 2) {
        cost[(((int64_t)b * g.T + g.T - 1) * g.n + tok) * g.heads * g.kk + h * g.kk + o] = static_cast<scalar_t>(logit);
      }
    }
  }
  __syncwarp();
  const int row = lane / 2, part = lane % 2, tok = first + row;
  const bool valid = tok < g.n;
  float* l = ws.logits + row * g.kk;
  float m = -std::numeric_limits<float>::infinity();
  if (valid) {
    for (int o = part; o < g.kk; o += 2) m = max(m, l[o]);
  }
  m = max(m, __shfl_xor_sync(0xffffffff, m, 1));
  float s = 0.0f;
  if (valid) {
    for (int o = part; o < g.kk; o += 2) s += exp_acc(l[o] - m);
  }
  s += __shfl_xor_sync(0xffffffff, s, 1);
  float outside = 0.0f;
  if (valid) {
    const float inv = 1.0f / s;
    for (int o = part; o < g.kk; o += 2) {
      l[o] = exp_acc(l[o] - m) * inv;
      if (window_key(g, tok, o) < 0) outside += l[o];
    }
  }
  outside += __shfl_xor_sync(0xffffffff, outside, 1);
  if (part == 0) ws.rows[kTile + row] = outside;
  __syncwarp();
}

// dense[row, other - begin] = value(row * K*K + o, other, o) for each window offset o of token first + row
// (of the tile) whose partner other = pair(g, first + row, o) in the other frame is inside it, zero elsewhere
// over cols columns. Partners are distinct per row, so the lanes' writes never collide.
template <typename scalar_t, typename Pair, typename Value>
__device__ __forceinline__ void fill_dense(const Plan& g, const WarpScratch<scalar_t>& ws, int first, int begin,
                                           int cols, Pair pair, Value value) {
  const int lane = threadIdx.x % 32;
  for (int e = lane; e < kTile * cols; e += 32) ws.dense[(e / cols) * g.ldp + e % cols] = static_cast<scalar_t>(0.0f);
  __syncwarp();
  for (int e = lane; e < kTile * g.kk; e += 32) {
    const int row = e / g.kk, o = e % g.kk, tok = first + row;
    const int other = tok < g.n ? pair(g, tok, o) : -1;
    if (other >= 0) ws.dense[row * g.ldp + other - begin] = value(e, other, o);
  }
  __syncwarp();
}

// The tile's query rows' weights (float32 [kTile, K*K]) scattered to their keys, 16-bit.
template <typename scalar_t>
__device__ __forceinline__ void scatter_rows(const Plan& g, const WarpScratch<scalar_t>& ws, const float* weight,
                                             int first, int begin, int cols) {
  fill_dense(g, ws, first, begin, cols, window_key, [&](int e, int, int) { return static_cast<scalar_t>(weight[e]); });
}

// A tile of the transpose of compact [n, K*K]: for the tile's key rows, the entries of the queries that see them.
template <typename scalar_t>
__device__ __forceinline__ void gather_columns(const Plan& g, const WarpScratch<scalar_t>& ws, const scalar_t* compact,
                                               int first, int begin, int cols) {
  fill_dense(g, ws, first, begin, cols, window_query, [&](int, int query, int o) { return compact[query * g.kk + o]; });
}

// The block's query frame p and key/value frame p + 1 into qs, ks, vs.
template <typename scalar_t>
__device__ __forceinline__ void stage_pair(const Plan& g, const Operands<scalar_t>& in, int b, int p, int h,
                                           scalar_t* qs, scalar_t* ks, scalar_t* vs) {
  stage_frame(qs, g, Frames<scalar_t>{in.q, in.qs, p, 0, false}, b, h);
  stage_frame(ks, g, Frames<scalar_t>{in.k, in.ks, p + 1, 0, false}, b, h);
  stage_frame(vs, g, Frames<scalar_t>{in.v, in.vs, p + 1, 0, false}, b, h);
}

// The softmax weights of query tile `first` over its key span into ws.logits (see tile_softmax), from
// S = Q Kᵀ on tensor cores and the border dots; the raw logits to cost when given.
template <typename scalar_t>
__device__ __forceinline__ void tile_weights(const Plan& g, const WarpScratch<scalar_t>& ws, const scalar_t* qs,
                                             const scalar_t* ks, int first, Span keys, float border, int b, int p,
                                             int h, const scalar_t* rpb, float scale, scalar_t* cost) {
  times_transposed(qs + (size_t)first * g.ld, g.ld, ks + (size_t)keys.begin * g.ld, g.ld, g.dim, keys.end - keys.begin,
                   ws.s, g.lds);
  border_dots(g, qs, first, border, ws.rows);
  __syncwarp();
  tile_softmax(g, ws, first, keys.begin, b, p, h, rpb, scale, cost);
}

__device__ __forceinline__ int64_t token_index(const Plan& g, int b, int t, int tok, int h) {
  return (((int64_t)b * g.T + t) * g.n + tok) * g.heads + h;
}

template <typename scalar_t>
__global__ void __launch_bounds__(kMaxWarps * 32)
    forward_kernel(Plan g, Operands<scalar_t> in, float scale, scalar_t* cost, scalar_t* context) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();  // 16-bit wmma needs sm_80; the host never launches this below it
#else
  const int b = blockIdx.z / (g.T - 1), p = blockIdx.z % (g.T - 1), h = blockIdx.y;
  const bool last = p == g.T - 2;
  unsigned char* smem = shared_memory<unsigned char>();
  scalar_t* qs = reinterpret_cast<scalar_t*>(smem);
  scalar_t* ks = reinterpret_cast<scalar_t*>(smem + g.frame_bytes);
  scalar_t* vs = reinterpret_cast<scalar_t*>(smem + 2 * g.frame_bytes);
  stage_pair(g, in, b, p, h, qs, ks, vs);
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const WarpScratch<scalar_t> ws = warp_scratch<scalar_t>(g, smem + 3 * g.frame_bytes, warp);
  const float border = border_value<scalar_t>();
  for (int t = warp; t < g.np / kTile; t += g.warps) {
    const int first = t * kTile;
    const Span keys = window_span(g, t);
    const int cols = keys.end - keys.begin;
    tile_weights(g, ws, qs, ks, first, keys, border, b, p, h, in.rpb, scale, cost);
    scatter_rows(g, ws, ws.logits, first, keys.begin, cols);
    times(ws.dense, g.ldp, vs + (size_t)keys.begin * g.ld, g.ld, cols, g.dim, ws.out, g.ldo);
    __syncwarp();
    for (int e = lane; e < kTile * g.dim; e += 32) {
      const int row = e / g.dim, c = e % g.dim, tok = first + row;
      if (tok >= g.n) continue;
      const scalar_t value = static_cast<scalar_t>(ws.out[row * g.ldo + c] + ws.rows[kTile + row] * border);
      context[token_index(g, b, p, tok, h) * g.dim + c] = value;
      if (last) context[token_index(g, b, g.T - 1, tok, h) * g.dim + c] = value;
    }
    __syncwarp();
  }
#endif
}

// dq of query frame p, dk and dv of key frame p + 1, and the block's drpb partial
// drpb_partial[blockIdx.z * heads + h, o] (summed over the blocks by drpb_kernel).
template <typename scalar_t>
__global__ void __launch_bounds__(kMaxWarps * 32)
    backward_kernel(Plan g, Operands<scalar_t> in, GradOperands<scalar_t> gr, float scale, scalar_t* dq, scalar_t* dk,
                    scalar_t* dv, float* drpb_partial) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
  __trap();
#else
  const int b = blockIdx.z / (g.T - 1), p = blockIdx.z % (g.T - 1), h = blockIdx.y;
  const bool last = p == g.T - 2;
  unsigned char* smem = shared_memory<unsigned char>();
  scalar_t* qs = reinterpret_cast<scalar_t*>(smem);
  scalar_t* ks = reinterpret_cast<scalar_t*>(smem + g.frame_bytes);
  scalar_t* vs = reinterpret_cast<scalar_t*>(smem + 2 * g.frame_bytes);
  scalar_t* gs = reinterpret_cast<scalar_t*>(smem + 3 * g.frame_bytes);     // grad of context (p, + T-1 if last)
  scalar_t* probs = reinterpret_cast<scalar_t*>(smem + 4 * g.frame_bytes);  // [n, K*K]
  scalar_t* dlogits = reinterpret_cast<scalar_t*>(smem + 4 * g.frame_bytes + g.compact_bytes);  // [n, K*K]
  stage_pair(g, in, b, p, h, qs, ks, vs);
  stage_frame(gs, g, Frames<scalar_t>{gr.context, gr.xs, p, g.T - 1, last}, b, h);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const WarpScratch<scalar_t> ws = warp_scratch<scalar_t>(g, smem + 4 * g.frame_bytes + 2 * g.compact_bytes, warp);
  for (int o = lane; o < g.kk; o += 32) ws.part[o] = 0.0f;
  __syncthreads();
  const float border = border_value<scalar_t>();
  // Query tiles of frame p: P, dS (kept), dq, the warp's drpb partial.
  for (int t = warp; t < g.np / kTile; t += g.warps) {
    const int first = t * kTile;
    const Span keys = window_span(g, t);
    const int cols = keys.end - keys.begin;
    tile_weights(g, ws, qs, ks, first, keys, border, b, p, h, in.rpb, scale, (scalar_t*)nullptr);
    // dP = dO Vᵀ over the span; dP at a key outside the frame = border * sum(dO).
    times_transposed(gs + (size_t)first * g.ld, g.ld, vs + (size_t)keys.begin * g.ld, g.ld, g.dim, cols, ws.s, g.lds);
    border_dots(g, gs, first, border, ws.rows);
    __syncwarp();
    {
      const int row = lane / 2, part = lane % 2, tok = first + row;
      const bool valid = tok < g.n;
      float* l = ws.logits + row * g.kk;
      float s = 0.0f;
      if (valid) {
        for (int o = part; o < g.kk; o += 2) {
          const int key = window_key(g, tok, o);
          s += l[o] * (key >= 0 ? ws.s[row * g.lds + key - keys.begin] : ws.rows[row]);
        }
      }
      s += __shfl_xor_sync(0xffffffff, s, 1);
      float outside = 0.0f;
      if (valid) {
        const int64_t gc = gr.cs.at(b, p, tok / g.W, tok % g.W, h),
                      gc_last = gr.cs.at(b, g.T - 1, tok / g.W, tok % g.W, h);
        for (int o = part; o < g.kk; o += 2) {
          const int key = window_key(g, tok, o);
          const float dp = key >= 0 ? ws.s[row * g.lds + key - keys.begin] : ws.rows[row];
          float grad = static_cast<float>(gr.cost[gc + o * gr.cs.c]);
          if (last) grad += static_cast<float>(gr.cost[gc_last + o * gr.cs.c]);
          const float ds = grad + l[o] * (dp - s);
          probs[tok * g.kk + o] = static_cast<scalar_t>(l[o]);
          dlogits[tok * g.kk + o] = static_cast<scalar_t>(ds);
          l[o] = ds;
          if (key < 0) outside += ds;
        }
      }
      outside += __shfl_xor_sync(0xffffffff, outside, 1);
      if (part == 0) ws.rows[2 * kTile + row] = outside;
    }
    __syncwarp();
    for (int o = lane; o < g.kk; o += 32) {
      float s = 0.0f;
      for (int row = 0; row < kTile && first + row < g.n; ++row) s += ws.logits[row * g.kk + o];
      ws.part[o] += s;
    }
    scatter_rows(g, ws, ws.logits, first, keys.begin, cols);
    times(ws.dense, g.ldp, ks + (size_t)keys.begin * g.ld, g.ld, cols, g.dim, ws.out, g.ldo);
    __syncwarp();
    for (int e = lane; e < kTile * g.dim; e += 32) {
      const int row = e / g.dim, c = e % g.dim, tok = first + row;
      if (tok >= g.n) continue;
      const float value = scale * (ws.out[row * g.ldo + c] + ws.rows[2 * kTile + row] * border);
      dq[token_index(g, b, p, tok, h) * g.dim + c] = static_cast<scalar_t>(value);
    }
    __syncwarp();
  }
  __syncthreads();
  // Key tiles of frame p + 1: dk = scale dSᵀ Q and dv = Pᵀ dO over the queries that see them.
  for (int t = warp; t < g.np / kTile; t += g.warps) {
    const int first = t * kTile;
    const Span queries = window_span(g, t);
    const int cols = queries.end - queries.begin;
    for (int pass = 0; pass < 2; ++pass) {
      gather_columns(g, ws, pass == 0 ? dlogits : probs, first, queries.begin, cols);
      times(ws.dense, g.ldp, (pass == 0 ? qs : gs) + (size_t)queries.begin * g.ld, g.ld, cols, g.dim, ws.out, g.ldo);
      __syncwarp();
      scalar_t* grad = pass == 0 ? dk : dv;
      const float factor = pass == 0 ? scale : 1.0f;
      for (int e = lane; e < kTile * g.dim; e += 32) {
        const int row = e / g.dim, c = e % g.dim, tok = first + row;
        if (tok < g.n)
          grad[token_index(g, b, p + 1, tok, h) * g.dim + c] = static_cast<scalar_t>(factor * ws.out[row * g.ldo + c]);
      }
      __syncwarp();
    }
  }
  __syncthreads();
  // The block's drpb partial: the warps' partials added in warp order.
  for (int o = threadIdx.x; o < g.kk; o += blockDim.x) {
    float s = 0.0f;
    for (int w = 0; w < g.warps; ++w) {
      s += warp_scratch<scalar_t>(g, smem + 4 * g.frame_bytes + 2 * g.compact_bytes, w).part[o];
    }
    drpb_partial[((int64_t)blockIdx.z * g.heads + h) * g.kk + o] = s;
  }
#endif
}

// Grid of both kernels: (1, heads, B * (T - 1)), blocks of g.warps warps.
inline dim3 grid(const Plan& g) { return dim3(1, g.heads, g.B * (g.T - 1)); }

}  // namespace slowfast::emim::kernels::tc
