#include "compiler/random_weights.h"

#include <cstring>

namespace tessera::compiler {
namespace {

// splitmix64's finaliser, as kernels/cuda/fill.cu.
uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// One stream per weight, keyed by its name (FNV-1a): the same weight gets the same values in
// both graphs of a calibration twin and whatever the other weights are.
uint64_t stream_of(int64_t seed, const std::string& name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : name) h = (h ^ c) * 0x100000001b3ull;
  return mix(h ^ mix(static_cast<uint64_t>(seed)));
}

constexpr float kScale = 0.05f;  // SessionOptions::random_weights' range (cuda_session.cpp)

}  // namespace

Status fill_random_weights(ir::Graph& g, int64_t seed) {
  int64_t with_data = 0;
  for (const ir::Value& v : g.values) with_data += v.kind == ir::ValueKind::kWeight && v.data;
  if (with_data > 0)
    return InvalidArgument("--random-weights is for graph-only models; this one carries data for " +
                           std::to_string(with_data) + " weights");
  for (ir::Value& v : g.values) {
    if (v.kind != ir::ValueKind::kWeight) continue;
    if (dtype_is_float(v.dtype) && v.dtype != DType::kFloat32)
      return Unimplemented("--random-weights: f32 weights only ('" + v.name + "' is " +
                           dtype_name(v.dtype) + ")");
    auto d = std::make_shared<ir::TensorData>();
    d->dtype = v.dtype;
    d->shape = v.shape;
    d->bytes.assign(static_cast<size_t>(num_elements(v.shape) * dtype_size(v.dtype)), 0);
    if (v.dtype == DType::kFloat32) {
      auto* f = reinterpret_cast<float*>(d->bytes.data());
      const uint64_t s = stream_of(seed, v.name) * 0x9E3779B97F4A7C15ull;
      for (int64_t i = 0; i < d->numel(); ++i) {
        const float u = static_cast<float>(mix(s + static_cast<uint64_t>(i)) >> 40) * 0x1p-24f;
        f[i] = (2.f * u - 1.f) * kScale;
      }
    }
    v.data = std::move(d);
  }
  return Status::Ok();
}

void drop_weight_data(ir::Graph& g) {
  for (ir::Value& v : g.values)
    if (v.kind == ir::ValueKind::kWeight) v.data = nullptr;
}

Status adopt_twin(const ir::Graph& g, ir::Graph& twin, const std::string& dims) {
  auto differ = [&](const std::string& what) {
    return InvalidArgument("--calibration-shape " + dims +
                           ": the model's graph at those dims differs from the plan's (" + what +
                           "); calibrate at the plan's shape instead");
  };
  if (g.nodes.size() != twin.nodes.size() || g.values.size() != twin.values.size() ||
      g.inputs != twin.inputs || g.outputs != twin.outputs)
    return differ(std::to_string(twin.nodes.size()) + " nodes and " +
                  std::to_string(twin.values.size()) + " values against " +
                  std::to_string(g.nodes.size()) + " and " + std::to_string(g.values.size()));
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const ir::Node &a = g.nodes[i], &b = twin.nodes[i];
    if (a.op != b.op || a.inputs != b.inputs || a.outputs != b.outputs)
      return differ("node " + a.name + " (" + a.op + ") against " + b.name + " (" + b.op + ")");
  }
  for (size_t i = 0; i < g.values.size(); ++i) {
    const ir::Value &a = g.values[i], &b = twin.values[i];
    if (a.name != b.name || a.kind != b.kind || a.dtype != b.dtype ||
        a.shape.size() != b.shape.size())
      return differ("value " + a.name + " against " + b.name);
    if (a.kind == ir::ValueKind::kWeight) {
      if (a.shape != b.shape) return differ("weight " + a.name + " changes shape");
      twin.values[i].data = a.data;
    }
  }
  return Status::Ok();
}

}  // namespace tessera::compiler
