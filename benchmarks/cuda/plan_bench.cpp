// Times a whole plan on the CUDA backend, for plans of graph-only models (bert-large etc.):
// weights without data are filled with deterministic random values on the device
// (SessionOptions::random_weights), so the figures are speed and memory only. Outputs are never
// read or written: they mean nothing with random weights, and reading them would add the PCIe
// download that a model feeding the GPU does not pay.
//
//   cuda_plan_bench PLAN [--inputs DIR] [--warmup 3] [--iters 10] [--profile]
//
// Inputs: DIR/input_i.pb when given; otherwise integers uniform in [0, 1000) (token ids) and
// floats uniform in [-1, 1], from a fixed seed. Time per run: host clock around Session::run(),
// which uploads the inputs (bytes: 128 KiB for bert-large), enqueues every instruction and
// waits for the stream; median and min of --iters runs after --warmup. Memory: the device bytes
// the session took (cudaMemGetInfo before create and after the runs: its one allocation plus
// cuBLASLt's and the CUDA context's own). --profile then runs once more with a wait after every
// instruction and prints the time per op type and the slowest instructions.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tessera/runtime.h"

using namespace tessera;
using namespace tessera::runtime;

namespace {

int fail(const Status& s) {
  std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
  return 1;
}

HostTensor synthetic(const IOInfo& io, std::mt19937_64& rng) {
  HostTensor t;
  t.name = io.name;
  t.dtype = io.dtype;
  t.shape = io.global_shape;
  const int64_t n = num_elements(t.shape);
  t.bytes.resize(static_cast<size_t>(n * dtype_size(t.dtype)));
  for (int64_t i = 0; i < n; ++i) {
    if (t.dtype == DType::kInt64) {
      const int64_t v = static_cast<int64_t>(rng() % 1000);
      std::memcpy(t.bytes.data() + 8 * i, &v, 8);
    } else if (t.dtype == DType::kInt32) {
      const int32_t v = static_cast<int32_t>(rng() % 1000);
      std::memcpy(t.bytes.data() + 4 * i, &v, 4);
    } else if (t.dtype == DType::kFloat32) {
      const float v = static_cast<float>(rng() % 20001) / 10000.f - 1.f;
      std::memcpy(t.bytes.data() + 4 * i, &v, 4);
    }  // other dtypes stay zero
  }
  return t;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string plan_path, inputs;
  int warmup = 3, iters = 10;
  bool profile = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--inputs" && i + 1 < argc)
      inputs = argv[++i];
    else if (a == "--warmup" && i + 1 < argc)
      warmup = std::atoi(argv[++i]);
    else if (a == "--iters" && i + 1 < argc)
      iters = std::atoi(argv[++i]);
    else if (a == "--profile")
      profile = true;
    else if (plan_path.empty())
      plan_path = a;
    else
      return fail(InvalidArgument("unexpected argument '" + a + "'"));
  }
  if (plan_path.empty() || iters < 1) {
    std::fprintf(stderr,
                 "usage: cuda_plan_bench PLAN [--inputs DIR] [--warmup N] [--iters N] "
                 "[--profile]\n");
    return 2;
  }
  auto plan = Plan::load(plan_path);
  if (!plan.ok()) return fail(plan.status());
  auto comm = comm_from_environment();
  if (!comm.ok()) return fail(comm.status());

  std::vector<HostTensor> ins;
  std::mt19937_64 rng(42);
  for (size_t i = 0; i < (*plan)->inputs().size(); ++i) {
    const IOInfo io = (*plan)->inputs()[i];
    if (inputs.empty()) {
      ins.push_back(synthetic(io, rng));
      continue;
    }
    auto t = read_tensor_proto(inputs + "/input_" + std::to_string(i) + ".pb");
    if (!t.ok()) return fail(t.status());
    ins.push_back(std::move(*t));
  }

  cudaFree(nullptr);  // the CUDA context first, so the session's own bytes are what we measure
  size_t free0 = 0, total = 0;
  cudaMemGetInfo(&free0, &total);
  SessionOptions so;
  so.backend = Backend::kCuda;
  so.random_weights = true;
  auto t0 = std::chrono::steady_clock::now();
  auto sess = Session::create(*plan, *comm, so);
  if (!sess.ok()) return fail(sess.status());
  const double create_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (size_t i = 0; i < ins.size(); ++i) {
    Status s = (*sess)->bind_input((*plan)->inputs()[i].name, ins[i]);
    if (!s.ok()) return fail(s);
  }
  std::vector<double> ms;
  for (int i = 0; i < warmup + iters; ++i) {
    const auto a = std::chrono::steady_clock::now();
    Status s = (*sess)->run();
    if (!s.ok()) return fail(s);
    const double d =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count();
    if (i >= warmup) ms.push_back(d);
  }
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  std::printf("plan %s (RANDOM WEIGHTS: timing only, outputs not read)\n", plan_path.c_str());
  std::printf("create %.2f s; arena %.1f MiB, weights %.1f MiB\n", create_s,
              (*sess)->arena_bytes() / 1048576.0, (*sess)->weight_bytes() / 1048576.0);
  std::printf("tessera_ms_median %.3f min %.3f (iters %d, warmup %d)\n", median(ms),
              *std::min_element(ms.begin(), ms.end()), iters, warmup);
  std::printf("tessera_device_mib %.1f\n", (static_cast<double>(free0) - free1) / 1048576.0);
  if (!profile) return 0;

  sess->reset();  // one session at a time: the profiled one needs the same memory
  so.profile = true;
  auto ps = Session::create(*plan, *comm, so);
  if (!ps.ok()) return fail(ps.status());
  for (size_t i = 0; i < ins.size(); ++i) {
    Status s = (*ps)->bind_input((*plan)->inputs()[i].name, ins[i]);
    if (!s.ok()) return fail(s);
  }
  for (int r = 0; r < 2; ++r) {  // the first run pays cuBLASLt's heuristic queries
    Status s = (*ps)->run();
    if (!s.ok()) return fail(s);
  }
  const auto& sec = (*ps)->instruction_seconds();
  const plan::Plan& p = (*plan)->meta();
  std::map<std::string, std::pair<double, int>> by_op;
  double sum = 0;
  std::vector<std::pair<double, size_t>> order;
  for (size_t i = 0; i < sec.size(); ++i) {
    auto& e = by_op[p.instructions(i).op()];
    e.first += sec[i];
    e.second += 1;
    sum += sec[i];
    order.push_back({sec[i], i});
  }
  std::vector<std::pair<double, std::string>> ops;
  for (const auto& [op, e] : by_op) ops.push_back({e.first, op});
  std::sort(ops.rbegin(), ops.rend());
  std::printf("profile (GPU time between instruction events): total %.3f ms\n", sum * 1e3);
  for (const auto& [s, op] : ops)
    std::printf("  %-20s %9.3f ms %5.1f%%  x%d\n", op.c_str(), s * 1e3, 100 * s / sum,
                by_op[op].second);
  std::sort(order.rbegin(), order.rend());
  std::printf("slowest instructions:\n");
  for (size_t k = 0; k < order.size() && k < 12; ++k) {
    const plan::Instruction& ins = p.instructions(order[k].second);
    std::string shape;
    if (ins.outputs_size() > 0 && ins.outputs(0) >= 0)
      for (int64_t d : p.tensors(ins.outputs(0)).shape()) shape += std::to_string(d) + "x";
    std::printf("  %4zu %-18s %-28s out %-20s %8.3f ms\n", order[k].second, ins.op().c_str(),
                ins.node().c_str(), shape.c_str(), order[k].first * 1e3);
  }
  return 0;
}
