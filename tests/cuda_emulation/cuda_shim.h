// Host C++20 stand-ins for the CUDA built-ins that the EMIM kernels use, so that their device code
// (csrc/emim/cuda/emim_cuda_kernels.cuh) compiles unchanged as host code and runs on a CPU.
//
// emulation::launch runs a grid's blocks one after another on blockDim.x std::threads, one per CUDA
// thread, which stay alive for the whole launch. __syncthreads waits on the block's std::barrier;
// __shfl_xor_sync writes the lane's value to a per-warp slot array, waits on the warp's std::barrier and
// reads the partner's slot (two slot arrays used in turn, so one wait per shuffle suffices). Dynamic
// shared memory is filled with NaN (all bits set) before every block and followed by a guard zone
// that is checked after every block. Math follows CUDA where the host differs: max/min of floats are
// fmax/fmin (a NaN operand loses).
#pragma once

#include <array>
#include <barrier>
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
  struct alignas(16) Chunk {
    unsigned char bytes[16];
  };
  struct Warp {
    std::barrier<> barrier{kWarpSize};
    std::array<std::array<std::array<unsigned char, 8>, kWarpSize>, 2> slots{};
  };

  Launch(int threads, size_t smem_bytes)
      : block(threads), warps(threads / kWarpSize), smem(smem_bytes), memory((smem_bytes + kGuardBytes + 15) / 16) {
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

inline void __syncthreads() { emulation::current->block.arrive_and_wait(); }

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
