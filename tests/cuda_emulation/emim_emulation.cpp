// CPU emulation of the EMIM CUDA kernels: the device code of csrc/emim/cuda/emim_cuda_kernels.cuh,
// compiled as host code through cuda_shim.h, launched in the order and with the buffers of
// emim_cuda.cu (forward_cuda, backward_cuda). Driven by emulator.py.
//
//   emim_emulation run DIR   reads DIR/case.txt and the raw inputs, writes the raw outputs to DIR
//   emim_emulation smem H W D LIMIT
//                            prints "kernel K acc_bytes tile chunk bytes" for every kernel, odd K 1..13 and
//                            float and double: the tiling the device code picks for an H x W frame, head
//                            width D and LIMIT bytes of shared memory per block, and its shared memory
//
// case.txt holds one "key values..." line each: dtype (float32, float64, float16, bfloat16),
// sizes (B T H W heads d K), tile (0: picked as on the device, else forced for every kernel),
// smem_limit (bytes per block the picker may use), scale, and the six element strides of q, k, v,
// grad_cost and grad_context. Each input X is DIR/X.bin, the elements from X's first one to its last
// one in memory; outputs (cost, context, dq, dk, dv, drpb) are contiguous. Buffers that the CUDA code
// leaves uninitialised (at::empty) start as NaN here.
#include "cuda_shim.h"
#include "emim/cuda/emim_cuda_kernels.cuh"

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
  const Operands<scalar_t> in{q.data(),       k.data(),       v.data(),      rpb.data(),
                              c.strides("q"), c.strides("k"), c.strides("v")};
  const GradOperands<scalar_t> gr{grad_cost.data(), grad_context.data(), c.strides("grad_cost"),
                                  c.strides("grad_context")};
  size_t smem = 0;

  // forward_cuda
  auto cost = nan_buffer<scalar_t>(B * T * H * W * heads * kk);
  auto context = nan_buffer<scalar_t>(B * T * frame);
  const Geometry gf = geometry(c, Kernel::kForward, sizeof(acc_t), &smem);
  emulation::launch(forward_kernel<scalar_t>, tile_grid(gf), dim3(kThreads), smem, gf, in, scale, cost.data(),
                    context.data());

  // backward_cuda
  auto dq = nan_buffer<scalar_t>(B * T * frame), dk = nan_buffer<scalar_t>(B * T * frame),
       dv = nan_buffer<scalar_t>(B * T * frame), drpb = nan_buffer<scalar_t>(heads * kk);
  for (int64_t b = 0; b < B; ++b) {
    std::fill_n(dq.begin() + (b * T + T - 1) * frame, frame, scalar_t(0));
    std::fill_n(dk.begin() + b * T * frame, frame, scalar_t(0));
    std::fill_n(dv.begin() + b * T * frame, frame, scalar_t(0));
  }
  auto probs = nan_buffer<acc_t>(B * (T - 1) * H * W * heads * kk), dlogits = probs;
  const Geometry gq = geometry(c, Kernel::kBackwardQuery, sizeof(acc_t), &smem);
  auto partial = nan_buffer<acc_t>((int64_t)gq.B * (gq.T - 1) * gq.heads * gq.tiles * gq.kk);
  emulation::launch(backward_query_kernel<scalar_t>, tile_grid(gq), dim3(kThreads), smem, gq, in, gr, scale,
                    dq.data(), probs.data(), dlogits.data(), partial.data());
  const Geometry gk = geometry(c, Kernel::kBackwardKey, sizeof(acc_t), &smem);
  emulation::launch(backward_key_kernel<scalar_t>, tile_grid(gk), dim3(kThreads), smem, gk, in, gr, scale,
                    (const acc_t*)probs.data(), (const acc_t*)dlogits.data(), dk.data(), dv.data());
  emulation::launch(drpb_kernel<scalar_t>, drpb_grid(gq), dim3(kThreads), 0, gq.tiles, gq.B * (gq.T - 1), gq.heads,
                    gq.kk, (const acc_t*)partial.data(), drpb.data());

  write_raw(dir + "/cost.bin", cost);
  write_raw(dir + "/context.bin", context);
  write_raw(dir + "/dq.bin", dq);
  write_raw(dir + "/dk.bin", dk);
  write_raw(dir + "/dv.bin", dv);
  write_raw(dir + "/drpb.bin", drpb);
}

void print_smem_sizes(int H, int W, int dim, size_t limit) {
  const std::pair<const char*, Kernel> kernels[] = {
      {"forward", Kernel::kForward}, {"backward_query", Kernel::kBackwardQuery}, {"backward_key", Kernel::kBackwardKey}};
  for (const auto& [name, kernel] : kernels) {
    for (int K = 1; K <= 13; K += 2) {
      for (const size_t acc : {sizeof(float), sizeof(double)}) {
        const Tiling t = pick_tiling(kernel, H, W, K, dim, acc, limit);
        std::cout << name << " " << K << " " << acc << " " << t.tile << " " << t.chunk << " "
                  << (t.tile > 0 ? smem_bytes(kernel, t.tile, K, t.chunk, acc) : 0) << "\n";
      }
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
  if (mode != "run" || argc != 3) {
    std::cerr << "usage: emim_emulation run DIR | emim_emulation smem H W D LIMIT\n";
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
