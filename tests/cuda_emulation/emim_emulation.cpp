// CPU emulation of the EMIM CUDA kernels: the device code of csrc/emim/cuda/emim_cuda_kernels.cuh and
// emim_cuda_tc_kernels.cuh, compiled as host code through cuda_shim.h, launched in the order and with the
// buffers of emim_cuda.cu (forward_cuda, backward_cuda). Driven by emulator.py.
//
//   emim_emulation run DIR   reads DIR/case.txt and the raw inputs, writes the raw outputs to DIR
//   emim_emulation wmma MISUSE
//                            runs one warp of wmma loads, a product and a store in shared memory, breaking
//                            one precondition (misaligned: a tile pointer 16 bytes off; ldm: a 16-bit
//                            ldm of 12; store_ldm: a float ldm of 18; none: nothing), which must abort
//   emim_emulation smem H W D LIMIT
//                            prints "kernel K acc_bytes tile chunk bytes" for every kernel, odd K 1..13 and
//                            float and double: the tiling the device code picks for an H x W frame, head
//                            width D and LIMIT bytes of shared memory per block, and its shared memory;
//                            then "tensor_core_forward|backward K 2 warps 16 bytes" for the tensor-core
//                            kernels (warps 0: they do not take the shape)
//
// case.txt holds one "key values..." line each: dtype (float32, float64, float16, bfloat16),
// sizes (B T H W heads d K), tile (0: picked as on the device, else forced for every kernel),
// smem_limit (bytes per block the picker may use), scale, kernel (tensor_core or simt: emim_cuda.cu's
// cuda_kernel, on a device of compute capability 8.0 or more), warps (0: picked as on the device, else
// forced for the tensor-core kernels), and the six element strides of q, k, v, grad_cost and
// grad_context. DIR/kernels.txt gets the kernels that ran: "forward tensor_core|simt" and "backward ...". Each input X
// is DIR/X.bin, the elements from X's first one to its last one in memory; outputs (cost, context, dq, dk, dv, drpb)
// are contiguous. Buffers that the CUDA code leaves uninitialised (at::empty) start as NaN here.
#include "cuda_shim.h"
#include "emim/cuda/emim_cuda_kernels.cuh"
#include "emim/cuda/emim_cuda_tc_kernels.cuh"

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace {

using namespace slowfast::emim::kernels;

struct Case {
  std::string dtype;
  std::map<std::string, std::vector<double>> values;

  std::vector<double> get(const std::string& key, size_t n) const {
    const auto it = values.find(key);
    if (it == values.end() || it->second.size() != n) {
      std::cerr << "emim_emulation: case.txt needs " << n << " values for '" << key << "'\n";
      std::exit(2);
    }
    return it->second;
  }
  int integer(const std::string& key) const { return static_cast<int>(get(key, 1)[0]); }
  std::string kernel;
  Strides strides(const std::string& key) const {
    const auto s = get(key, 6);
    return {(int64_t)s[0], (int64_t)s[1], (int64_t)s[2], (int64_t)s[3], (int64_t)s[4], (int64_t)s[5]};
  }
};

Case read_case(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "emim_emulation: cannot read " << path << "\n";
    std::exit(2);
  }
  Case c;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    if (!(words >> key)) continue;
    if (key == "dtype") {
      words >> c.dtype;
      continue;
    }
    if (key == "kernel") {
      words >> c.kernel;
      continue;
    }
    auto& values = c.values[key];
    for (double x; words >> x;) values.push_back(x);
  }
  return c;
}

template <typename T>
std::vector<T> read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "emim_emulation: cannot read " << path << "\n";
    std::exit(2);
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<T> out(bytes.size() / sizeof(T));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
  return out;
}

template <typename T>
void write_raw(const std::string& path, const std::vector<T>& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), data.size() * sizeof(T));
  if (!out) {
    std::cerr << "emim_emulation: cannot write " << path << "\n";
    std::exit(2);
  }
}

// n elements that read as NaN (every byte 0xff), like memory at::empty leaves unset.
template <typename T>
std::vector<T> nan_buffer(size_t n) {
  std::vector<T> out(n);
  std::memset(static_cast<void*>(out.data()), 0xff, n * sizeof(T));
  return out;
}

// Geometry of the case (tile forced with full-width chunks, or picked as make_geometry in emim_cuda.cu
// does) and its shared memory.
Geometry geometry(const Case& c, Kernel kernel, size_t acc_size, size_t* smem) {
  const auto s = c.get("sizes", 7);
  const int H = (int)s[2], W = (int)s[3], dim = (int)s[5], K = (int)s[6];
  Tiling tiling{c.integer("tile"), dim < kMaxChunk ? dim : kMaxChunk};
  if (tiling.tile == 0) tiling = pick_tiling(kernel, H, W, K, dim, acc_size, (size_t)c.integer("smem_limit"));
  if (tiling.tile == 0) {
    std::cerr << "emim_emulation: no tile fits smem_limit " << c.integer("smem_limit") << "\n";
    std::exit(3);
  }
  *smem = smem_bytes(kernel, tiling.tile, K, tiling.chunk, acc_size);
  return make_geometry((int)s[0], (int)s[1], H, W, (int)s[4], dim, K, tiling.tile, tiling.chunk);
}

// The tensor-core plan of `pass` as tensor_core_plan in emim_cuda.cu makes it (warps = 0: the SIMT kernels run).
template <typename scalar_t>
tc::Plan tensor_core_plan(const Case& c, tc::Pass pass) {
  constexpr bool is_16bit = std::is_same_v<scalar_t, c10::Half> || std::is_same_v<scalar_t, c10::BFloat16>;
  if (c.kernel != "tensor_core" && c.kernel != "simt") {
    std::cerr << "emim_emulation: case.txt needs 'kernel tensor_core' or 'kernel simt'\n";
    std::exit(2);
  }
  if (!is_16bit || c.kernel != "tensor_core") return tc::Plan{};
  const auto s = c.get("sizes", 7);
  return tc::make_plan(pass, (int)s[0], (int)s[1], (int)s[2], (int)s[3], (int)s[4], (int)s[5], (int)s[6],
                       (size_t)c.integer("smem_limit"), c.integer("warps"));
}

template <typename scalar_t>
void run(const Case& c, const std::string& dir) {
  using acc_t = at::opmath_type<scalar_t>;
  const auto s = c.get("sizes", 7);
  const int64_t B = s[0], T = s[1], H = s[2], W = s[3], heads = s[4], dim = s[5], K = s[6];
  const int64_t frame = H * W * heads * dim, kk = K * K;
  const acc_t scale = static_cast<acc_t>(c.get("scale", 1)[0]);
  const auto q = read_raw<scalar_t>(dir + "/q.bin"), k = read_raw<scalar_t>(dir + "/k.bin"),
             v = read_raw<scalar_t>(dir + "/v.bin"), rpb = read_raw<scalar_t>(dir + "/rpb.bin");
  const auto grad_cost = read_raw<scalar_t>(dir + "/grad_cost.bin");
  const auto grad_context = read_raw<scalar_t>(dir + "/grad_context.bin");
  const Operands<scalar_t> in{q.data(), k.data(), v.data(), rpb.data(), c.strides("q"), c.strides("k"), c.strides("v")};
  const GradOperands<scalar_t> gr{grad_cost.data(), grad_context.data(), c.strides("grad_cost"),
                                  c.strides("grad_context")};
  std::ofstream ran(dir + "/kernels.txt");
  size_t smem = 0;

  // forward_cuda
  auto cost = nan_buffer<scalar_t>(B * T * H * W * heads * kk);
  auto context = nan_buffer<scalar_t>(B * T * frame);
  const tc::Plan pf = tensor_core_plan<scalar_t>(c, tc::Pass::kForward);
  if constexpr (std::is_same_v<scalar_t, c10::Half> || std::is_same_v<scalar_t, c10::BFloat16>) {
    if (pf.warps > 0) {
      emulation::launch(tc::forward_kernel<scalar_t>, tc::grid(pf), dim3(pf.warps * 32),
                        tc::plan_bytes(pf, tc::Pass::kForward), pf, in, (float)scale, cost.data(), context.data());
    }
  }
  if (pf.warps == 0) {
    const Geometry gf = geometry(c, Kernel::kForward, sizeof(acc_t), &smem);
    emulation::launch(forward_kernel<scalar_t>, tile_grid(gf), dim3(kThreads), smem, gf, in, scale, cost.data(),
                      context.data());
  }
  ran << "forward " << (pf.warps > 0 ? "tensor_core" : "simt") << "\n";

  // backward_cuda
  auto dq = nan_buffer<scalar_t>(B * T * frame), dk = nan_buffer<scalar_t>(B * T * frame),
       dv = nan_buffer<scalar_t>(B * T * frame), drpb = nan_buffer<scalar_t>(heads * kk);
  for (int64_t b = 0; b < B; ++b) {
    std::fill_n(dq.begin() + (b * T + T - 1) * frame, frame, scalar_t(0));
    std::fill_n(dk.begin() + b * T * frame, frame, scalar_t(0));
    std::fill_n(dv.begin() + b * T * frame, frame, scalar_t(0));
  }
  const tc::Plan pb = tensor_core_plan<scalar_t>(c, tc::Pass::kBackward);
  if constexpr (std::is_same_v<scalar_t, c10::Half> || std::is_same_v<scalar_t, c10::BFloat16>) {
    if (pb.warps > 0) {
      auto partial = nan_buffer<float>((int64_t)pb.B * (pb.T - 1) * pb.heads * pb.kk);
      emulation::launch(tc::backward_kernel<scalar_t>, tc::grid(pb), dim3(pb.warps * 32),
                        tc::plan_bytes(pb, tc::Pass::kBackward), pb, in, gr, (float)scale, dq.data(), dk.data(),
                        dv.data(), partial.data());
      emulation::launch(drpb_kernel<scalar_t>, drpb_grid(pb.heads, pb.kk), dim3(kThreads), 0, 1, pb.B * (pb.T - 1),
                        pb.heads, pb.kk, (const float*)partial.data(), drpb.data());
    }
  }
  if (pb.warps == 0) {
    auto probs = nan_buffer<acc_t>(B * (T - 1) * H * W * heads * kk), dlogits = probs;
    const Geometry gq = geometry(c, Kernel::kBackwardQuery, sizeof(acc_t), &smem);
    auto partial = nan_buffer<acc_t>((int64_t)gq.B * (gq.T - 1) * gq.heads * gq.tiles * gq.kk);
    emulation::launch(backward_query_kernel<scalar_t>, tile_grid(gq), dim3(kThreads), smem, gq, in, gr, scale,
                      dq.data(), probs.data(), dlogits.data(), partial.data());
    const Geometry gk = geometry(c, Kernel::kBackwardKey, sizeof(acc_t), &smem);
    emulation::launch(backward_key_kernel<scalar_t>, tile_grid(gk), dim3(kThreads), smem, gk, in, gr, scale,
                      (const acc_t*)probs.data(), (const acc_t*)dlogits.data(), dk.data(), dv.data());
    emulation::launch(drpb_kernel<scalar_t>, drpb_grid(gq.heads, gq.kk), dim3(kThreads), 0, gq.tiles, gq.B * (gq.T - 1),
                      gq.heads, gq.kk, (const acc_t*)partial.data(), drpb.data());
  }
  ran << "backward " << (pb.warps > 0 ? "tensor_core" : "simt") << "\n";

  write_raw(dir + "/cost.bin", cost);
  write_raw(dir + "/context.bin", context);
  write_raw(dir + "/dq.bin", dq);
  write_raw(dir + "/dk.bin", dk);
  write_raw(dir + "/dv.bin", dv);
  write_raw(dir + "/drpb.bin", drpb);
}

// One warp: a = b = the 16 x 16 identity in shared memory (ldm 24), out = a b stored with ldm 20, each
// with the one precondition `misuse` names broken.
__global__ void wmma_kernel(int misuse) {
  namespace wmma = nvcuda::wmma;
  auto* tile = shared_memory<__half>();
  auto* out = reinterpret_cast<float*>(shared_memory<unsigned char>() + 1024);
  for (int e = threadIdx.x; e < 16 * 24; e += 32) tile[e] = __half(e / 24 == e % 24 ? 1.0f : 0.0f);
  __syncwarp();
  wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
  wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> c;
  wmma::fill_fragment(c, 0.0f);
  wmma::load_matrix_sync(a, tile + (misuse == 1 ? 8 : 0), misuse == 2 ? 12 : 24);
  wmma::load_matrix_sync(b, tile, 24);
  wmma::mma_sync(c, a, b, c);
  wmma::store_matrix_sync(out, c, misuse == 3 ? 18 : 20, wmma::mem_row_major);
}

int run_wmma(const std::string& misuse) {
  const std::map<std::string, int> codes = {{"none", 0}, {"misaligned", 1}, {"ldm", 2}, {"store_ldm", 3}};
  const auto it = codes.find(misuse);
  if (it == codes.end()) {
    std::cerr << "emim_emulation: wmma MISUSE is none, misaligned, ldm or store_ldm\n";
    return 2;
  }
  emulation::launch(wmma_kernel, dim3(1), dim3(32), 1024 + 16 * 20 * 4, it->second);
  return 0;
}

void print_smem_sizes(int H, int W, int dim, size_t limit) {
  const std::pair<const char*, Kernel> kernels[] = {{"forward", Kernel::kForward},
                                                    {"backward_query", Kernel::kBackwardQuery},
                                                    {"backward_key", Kernel::kBackwardKey}};
  for (const auto& [name, kernel] : kernels) {
    for (int K = 1; K <= 13; K += 2) {
      for (const size_t acc : {sizeof(float), sizeof(double)}) {
        const Tiling t = pick_tiling(kernel, H, W, K, dim, acc, limit);
        std::cout << name << " " << K << " " << acc << " " << t.tile << " " << t.chunk << " "
                  << (t.tile > 0 ? smem_bytes(kernel, t.tile, K, t.chunk, acc) : 0) << "\n";
      }
    }
  }
  // The tensor-core kernels (16-bit inputs): "tensor_core_<pass> K 2 warps 16 bytes".
  const std::pair<const char*, tc::Pass> passes[] = {{"tensor_core_forward", tc::Pass::kForward},
                                                     {"tensor_core_backward", tc::Pass::kBackward}};
  for (const auto& [name, pass] : passes) {
    for (int K = 1; K <= 13; K += 2) {
      const tc::Plan g = tc::make_plan(pass, 1, 2, H, W, 1, dim, K, limit);
      std::cout << name << " " << K << " 2 " << g.warps << " " << tc::kTile << " "
                << (g.warps > 0 ? tc::plan_bytes(g, pass) : 0) << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "smem" && argc == 6) {
    print_smem_sizes(std::stoi(argv[2]), std::stoi(argv[3]), std::stoi(argv[4]), std::stoul(argv[5]));
    return 0;
  }
  if (mode == "wmma" && argc == 3) return run_wmma(argv[2]);
  if (mode != "run" || argc != 3) {
    std::cerr << "usage: emim_emulation run DIR | emim_emulation wmma MISUSE | emim_emulation smem H W D LIMIT\n";
    return 2;
  }
  const std::string dir = argv[2];
  const Case c = read_case(dir + "/case.txt");
  if (c.dtype == "float32") {
    run<float>(c, dir);
  } else if (c.dtype == "float64") {
    run<double>(c, dir);
  } else if (c.dtype == "float16") {
    run<c10::Half>(c, dir);
  } else if (c.dtype == "bfloat16") {
    run<c10::BFloat16>(c, dir);
  } else {
    std::cerr << "emim_emulation: unknown dtype '" << c.dtype << "'\n";
    return 2;
  }
  return 0;
}
