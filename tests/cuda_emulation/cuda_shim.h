// Host C++20 stand-ins for the CUDA built-ins that the EMIM kernels use, so that their device code
// (csrc/emim/cuda/emim_cuda_kernels.cuh) compiles unchanged as host code and runs on a CPU.
//
// emulation::launch runs a grid's blocks one after another on blockDim.x std::threads, one per CUDA
// thread, which stay alive for the whole launch. __syncthreads waits on the block's std::barrier;
// __shfl_xor_sync writes the lane's value to a per-warp slot array, waits on the warp's std::barrier and
// reads the partner's slot (two slot arrays used in turn, so one wait per shuffle suffices); __syncwarp
// waits on the warp's barrier. Dynamic shared memory (128-byte aligned, as the device gives it) is filled
// with NaN (all bits set) before every block and followed by a guard zone that is checked after every
// block. Math follows CUDA where the host differs: max/min of floats are fmax/fmin (a NaN operand loses).
// EMIM_EMULATION_SKEW_US=N makes odd warps wait N microseconds after every __syncthreads.
//
// nvcuda::wmma (the subset the kernels use: 16-bit matrix_a/matrix_b, float accumulators, the shapes
// sm_80+ allow for them) follows the CUDA C++ Programming Guide's warp matrix functions: a fragment holds
// its whole tile in every lane; load_matrix_sync and store_matrix_sync abort unless the pointer is 256-bit
// aligned and ldm a multiple of 16 bytes; mma_sync waits for all 32 lanes (a diverged warp deadlocks, as
// it may on the device) and accumulates in float in k order. Fragments have no `x[]` or `num_elements`:
// the device's element-to-lane map is unspecified, so kernel code that touches fragment elements does not
// compile here. store_matrix_sync writes each element from one lane only (element e from lane e % 32,
// not the device's map), without a barrier: a lane that reads another lane's stored elements without a
// __syncwarp first may see the NaN poison.
#pragma once

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>
#include <array>
#include <barrier>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#define EMIM_CUDA_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx;
inline thread_local dim3 blockIdx;
inline dim3 blockDim;
inline dim3 gridDim;

inline float max(float a, float b) { return std::fmax(a, b); }
inline double max(double a, double b) { return std::fmax(a, b); }
inline float min(float a, float b) { return std::fmin(a, b); }
inline double min(double a, double b) { return std::fmin(a, b); }
inline int max(int a, int b) { return a > b ? a : b; }
inline int min(int a, int b) { return a < b ? a : b; }

namespace emulation {

constexpr int kWarpSize = 32;
constexpr size_t kGuardBytes = 4096;
constexpr unsigned char kPoison = 0xff;  // every byte 0xff: a NaN as float and as double

// State of the running launch, shared by its threads (one launch at a time).
struct Launch {
  struct alignas(128) Chunk {
    unsigned char bytes[128];
  };
  struct Warp {
    std::barrier<> barrier{kWarpSize};
    std::array<std::array<std::array<unsigned char, 8>, kWarpSize>, 2> slots{};
  };

  Launch(int threads, size_t smem_bytes)
      : block(threads), warps(threads / kWarpSize), smem(smem_bytes),
        memory((smem_bytes + kGuardBytes + sizeof(Chunk) - 1) / sizeof(Chunk)) {
    poison();
  }

  // Fills shared memory and its guard zone with the poison.
  void poison() { std::memset(memory.data(), kPoison, memory.size() * sizeof(Chunk)); }

  // Aborts when a block wrote past its dynamic shared memory.
  void check_guard() const {
    const auto* bytes = reinterpret_cast<const unsigned char*>(memory.data());
    for (size_t i = smem; i < memory.size() * sizeof(Chunk); ++i) {
      if (bytes[i] != kPoison) {
        std::fprintf(stderr, "emulation: shared memory written at byte %zu of a %zu-byte allocation\n", i, smem);
        std::abort();
      }
    }
  }

  std::barrier<> block;
  std::vector<Warp> warps;
  size_t smem;
  std::vector<Chunk> memory;
};

inline Launch* current = nullptr;
inline thread_local int shuffle_turn = 0;

// Runs kernel<<<grid, block, smem>>>(args...) to completion. Blocks run in x, then y, then z order.
template <typename... Params, typename... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem, Args... args) {
  if (block.y != 1 || block.z != 1 || block.x % kWarpSize != 0) {
    std::fprintf(stderr, "emulation: blocks must be 1-D and whole warps, got %u x %u x %u\n", block.x, block.y,
                 block.z);
    std::abort();
  }
  Launch state(block.x, smem);
  current = &state;
  gridDim = grid;
  blockDim = block;
  std::vector<std::thread> threads;
  threads.reserve(block.x);
  for (unsigned t = 0; t < block.x; ++t) {
    threads.emplace_back([&, t] {
      threadIdx = dim3(t);
      shuffle_turn = 0;
      for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
          for (unsigned x = 0; x < grid.x; ++x) {
            state.block.arrive_and_wait();  // the previous block has finished in every thread
            if (t == 0) {
              state.check_guard();
              state.poison();
            }
            state.block.arrive_and_wait();
            blockIdx = dim3(x, y, z);
            kernel(args...);
          }
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  state.check_guard();
  current = nullptr;
}

}  // namespace emulation

// The block's dynamic shared memory.
template <typename T>
T* shared_memory() {
  return reinterpret_cast<T*>(emulation::current->memory.data());
}

namespace emulation {
// Microseconds that odd warps wait after each __syncthreads (EMIM_EMULATION_SKEW_US, default 0): they then
// lag the even warps until the next barrier, so that a barrier missing between a write and a read of
// another warp's data shows as a read of the NaN poison instead of depending on the OS's scheduling.
inline const long skew_us = [] {
  const char* value = std::getenv("EMIM_EMULATION_SKEW_US");
  return value != nullptr ? std::atol(value) : 0L;
}();
}  // namespace emulation

inline void __syncthreads() {
  emulation::current->block.arrive_and_wait();
  if (emulation::skew_us > 0 && threadIdx.x / emulation::kWarpSize % 2 == 1) {
    std::this_thread::sleep_for(std::chrono::microseconds(emulation::skew_us));
  }
}

// Full-warp butterfly shuffle: the value of lane (lane ^ lane_mask).
template <typename T>
T __shfl_xor_sync(unsigned mask, T value, int lane_mask) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "emulation: shuffles of at most 8 bytes");
  if (mask != 0xffffffffu) {
    std::fprintf(stderr, "emulation: only full-warp shuffles are emulated, got mask %#x\n", mask);
    std::abort();
  }
  const int lane = threadIdx.x % emulation::kWarpSize;
  auto& warp = emulation::current->warps[threadIdx.x / emulation::kWarpSize];
  auto& slots = warp.slots[emulation::shuffle_turn];
  emulation::shuffle_turn ^= 1;
  std::memcpy(slots[lane].data(), &value, sizeof(T));
  warp.barrier.arrive_and_wait();
  T out;
  std::memcpy(&out, slots[lane ^ lane_mask].data(), sizeof(T));
  return out;
}

inline void __syncwarp(unsigned mask = 0xffffffffu) {
  if (mask != 0xffffffffu) {
    std::fprintf(stderr, "emulation: only full-warp __syncwarp is emulated, got mask %#x\n", mask);
    std::abort();
  }
  emulation::current->warps[threadIdx.x / emulation::kWarpSize].barrier.arrive_and_wait();
}

// CUDA's 16-byte vector type.
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

// The CUDA 16-bit types (same bits as ATen's).
using __half = c10::Half;
using __nv_bfloat16 = c10::BFloat16;

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment;

namespace detail {

template <typename T>
constexpr bool is_16bit = std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16>;

// The shapes sm_80+ allow for 16-bit inputs: m16n16k16, m32n8k16, m8n32k16.
template <int M, int N, int K>
constexpr bool allowed_shape = K == 16 && ((M == 16 && N == 16) || (M == 32 && N == 8) || (M == 8 && N == 32));

template <typename Use, int M, int N, int K>
constexpr int rows = std::is_same_v<Use, matrix_b> ? K : M;
template <typename Use, int M, int N, int K>
constexpr int cols = std::is_same_v<Use, matrix_a> ? K : N;

// Aborts unless p is 256-bit aligned and ldm a multiple of 16 bytes (8 16-bit or 4 float elements).
template <typename T>
void check_pointer(const char* what, const T* p, unsigned ldm, int cols) {
  if (reinterpret_cast<std::uintptr_t>(p) % 32 != 0) {
    std::fprintf(stderr, "emulation: wmma::%s: pointer %p is not 256-bit aligned\n", what, (const void*)p);
    std::abort();
  }
  if ((ldm * sizeof(T)) % 16 != 0) {
    std::fprintf(stderr, "emulation: wmma::%s: ldm %u is not a multiple of %zu elements\n", what, ldm, 16 / sizeof(T));
    std::abort();
  }
  if ((int)ldm < cols) {
    std::fprintf(stderr, "emulation: wmma::%s: ldm %u is shorter than a row of %d elements\n", what, ldm, cols);
    std::abort();
  }
}

template <typename F>
struct Access;  // element access for the functions below only

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
class fragment {
  static_assert(detail::allowed_shape<M, N, K>, "wmma: shape not allowed for 16-bit inputs");
  static_assert(std::is_same_v<Use, accumulator>
                    ? std::is_same_v<T, float> && std::is_void_v<Layout>
                    : detail::is_16bit<T> && (std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>),
                "wmma: matrix_a/matrix_b take __half or __nv_bfloat16 with row_major or col_major, accumulators "
                "float with no layout");

 public:
  static constexpr int kRows = detail::rows<Use, M, N, K>, kCols = detail::cols<Use, M, N, K>;

 private:
  template <typename F>
  friend struct detail::Access;
  std::array<T, kRows * kCols> tile_;  // row-major
};

namespace detail {

template <typename F>
struct Access {
  static auto& tile(F& f) { return f.tile_; }
  static const auto& tile(const F& f) { return f.tile_; }
};

template <typename F>
auto& tile(F& f) {
  return Access<std::remove_const_t<F>>::tile(f);
}

template <typename Layout>
constexpr bool column_major = std::is_same_v<Layout, col_major>;

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, T value) {
  detail::tile(f).fill(value);
}

// matrix_a / matrix_b from memory in the fragment's layout.
template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* p, unsigned ldm) {
  using F = fragment<Use, M, N, K, T, Layout>;
  constexpr bool cm = detail::column_major<Layout>;
  detail::check_pointer("load_matrix_sync", p, ldm, cm ? F::kRows : F::kCols);
  auto& t = detail::tile(f);
  for (int i = 0; i < F::kRows; ++i) {
    for (int j = 0; j < F::kCols; ++j) t[i * F::kCols + j] = cm ? p[i + (size_t)j * ldm] : p[(size_t)i * ldm + j];
  }
}

template <int M, int N, int K>
void store_matrix_sync(float* p, const fragment<accumulator, M, N, K, float>& f, unsigned ldm, layout_t layout) {
  const bool cm = layout == mem_col_major;
  detail::check_pointer("store_matrix_sync", p, ldm, cm ? M : N);
  const auto& t = detail::tile(f);
  for (int e = threadIdx.x % emulation::kWarpSize; e < M * N; e += emulation::kWarpSize) {
    const int i = e / N, j = e % N;
    (cm ? p[i + (size_t)j * ldm] : p[(size_t)i * ldm + j]) = t[e];
  }
}

// d = a b + c, float accumulation over k in order; every lane of the warp must call it.
template <int M, int N, int K, typename T, typename LA, typename LB>
void mma_sync(fragment<accumulator, M, N, K, float>& d, const fragment<matrix_a, M, N, K, T, LA>& a,
              const fragment<matrix_b, M, N, K, T, LB>& b, const fragment<accumulator, M, N, K, float>& c) {
  emulation::current->warps[threadIdx.x / emulation::kWarpSize].barrier.arrive_and_wait();
  const auto &ta = detail::tile(a), &tb = detail::tile(b), &tc = detail::tile(c);
  std::array<float, M * N> out;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float s = tc[i * N + j];
      for (int k = 0; k < K; ++k) s += static_cast<float>(ta[i * K + k]) * static_cast<float>(tb[k * N + j]);
      out[i * N + j] = s;
    }
  }
  detail::tile(d) = out;
}

}  // namespace nvcuda::wmma
