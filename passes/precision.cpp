// precision (infer mode): run the graph in a 16-bit float type, bf16 or fp16 (g.meta
// "precision"; fp32 leaves the graph alone). Every f32 value inside the graph becomes 16-bit:
// weights and constants are rounded once here (round to nearest even), so the plan stores and
// the device reads half the bytes; activations follow. Graph inputs and outputs keep their
// dtypes: a Cast after each f32 input and before each f32 output, so callers see no change.
// Accumulation stays wherever the kernels put it: GEMMs accumulate in f32 (cuBLASLt), and
// LayerNorm, Softmax and reductions compute in f32 from 16-bit storage. That is what a PyTorch
// model converted with .to(torch.bfloat16) does, the baseline we compare with.
// f64 values stay f64 (someone asked for them). Train mode: autodiff's autocast
// (passes/core/autodiff_autocast.cpp) builds the 16-bit step with f32 master weights; here the
// graph's train.precision must match.
// Cost: one walk over the graph plus one pass over the weight bytes (~1 s for 1.3 GB).
#include <cmath>
#include <cstring>
#include <limits>
#include <set>

#include "ir/shape_infer.h"
#include "kernels/cpu/kernel_util.h"  // float_to_bf16_bits / float_to_half_bits (RNE)
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

namespace kc = kernels::cpu;

StatusOr<DType> precision_dtype(const std::string& p) {
  if (p == "fp32") return DType::kFloat32;
  if (p == "bf16") return DType::kBFloat16;
  if (p == "fp16") return DType::kFloat16;
  return InvalidArgument("--precision '" + p + "': expected fp32, bf16 or fp16");
}

// One f32 value as 16 bits. fp16 saturates finite values beyond its range (±65504) instead of
// rounding them to infinity: exporters write additive attention masks as finfo(f32).min, and
// -inf there turns a fully masked row's softmax into NaN where -65504 keeps it finite.
uint16_t to_16(float f, DType t) {
  if (t == DType::kBFloat16) return kc::float_to_bf16_bits(f);
  constexpr float kMax = 65504.f;
  if (std::isfinite(f)) f = std::fmax(-kMax, std::fmin(kMax, f));
  return kc::float_to_half_bits(f);
}

ir::TensorDataPtr convert_data(const ir::TensorData& d, DType t) {
  auto out = std::make_shared<ir::TensorData>();
  out->dtype = t;
  out->shape = d.shape;
  const int64_t n = d.numel();
  out->bytes.resize(static_cast<size_t>(n) * 2);
  const float* src = d.as<float>();
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = to_16(src[i], t);
    std::memcpy(out->bytes.data() + 2 * i, &h, 2);
  }
  return out;
}

// A name not yet used by any value or node (Cast values and nodes are new).
std::string fresh(const std::set<std::string>& used, const std::string& base) {
  std::string s = base;
  for (int i = 1; used.count(s); ++i) s = base + "_" + std::to_string(i);
  return s;
}

ir::Node cast_node(const std::string& name, int in, int out, DType to) {
  ir::Node n;
  n.name = name;
  n.op = "Cast";
  n.attrs["to"] = Attr::Int(static_cast<int64_t>(to));
  n.inputs = {in};
  n.outputs = {out};
  return n;
}

// Inputs of quantized ops that hold f32 per-channel numbers (w_scale, bias, smooth_inv).
std::vector<bool> quant_params(const ir::Graph& g) {
  std::vector<bool> keep(g.values.size(), false);
  for (const ir::Node& n : g.nodes) {
    const size_t first = n.op == "QuantizeI8"                         ? 1
                         : (n.op == "QMatMulI8" || n.op == "QConvI8") ? 2
                                                                      : 0;
    for (size_t i = first; first > 0 && i < n.inputs.size(); ++i)
      if (n.inputs[i] >= 0) keep[n.inputs[i]] = true;
  }
  return keep;
}

bool is_quant_float_out(const ir::Node& n) {
  return (n.op == "QMatMulI8" || n.op == "QConvI8" || n.op == "DequantizeI8") &&
         !attr_has(n.attrs, "y_scale") && !n.outputs.empty();
}

}  // namespace

Status run_precision(ir::Graph& g, PipelineContext& ctx) {
  TSR_ASSIGN_OR_RETURN(const DType t, precision_dtype(attr_str(g.meta, "precision", "fp32")));
  if (t == DType::kFloat32) return Status::Ok();
  const char* suffix = t == DType::kBFloat16 ? "bf16" : "fp16";
  if (ctx.mode == "train") {  // the autodiff stage's autocast did it (f32 master weights)
    if (attr_str(g.meta, "train.precision", "fp32") == suffix) return Status::Ok();
    return Unimplemented("--precision " + std::string(suffix) +
                         " in train mode: the autodiff stage applies it (f32 master weights and "
                         "loss scaling); this graph was differentiated in " +
                         attr_str(g.meta, "train.precision", "fp32"));
  }
  std::set<std::string> used;
  for (const auto& v : g.values) used.insert(v.name);
  for (const auto& n : g.nodes) used.insert(n.name);
  const std::vector<bool> is_input = [&] {
    std::vector<bool> r(g.values.size(), false);
    for (int v : g.inputs) r[v] = true;
    return r;
  }();

  // 1. Every f32 value that is not a graph input becomes 16-bit; data is rounded once. The
  // quantized ops' per-channel vectors stay f32 (their epilogue arithmetic is defined in f32).
  const std::vector<bool> keep = quant_params(g);
  std::vector<bool> changed(g.values.size(), false);
  for (size_t v = 0; v < g.values.size(); ++v) {
    ir::Value& val = g.values[v];
    if (val.dtype != DType::kFloat32 || is_input[v] || keep[v]) continue;
    val.dtype = t;
    if (val.data) val.data = convert_data(*val.data, t);
    changed[v] = true;
  }
  // Casts inside the graph that produced f32 now produce the 16-bit type; so do the quantized
  // ops' dequantizing epilogues (out_dtype: the 16-bit value is written directly).
  for (ir::Node& n : g.nodes) {
    if (n.op == "Cast" && attr_int(n.attrs, "to", 0) == static_cast<int64_t>(DType::kFloat32))
      n.attrs["to"] = Attr::Int(static_cast<int64_t>(t));
    if (is_quant_float_out(n) && n.outputs[0] >= 0 && changed[n.outputs[0]])
      n.attrs["out_dtype"] = Attr::Int(static_cast<int64_t>(t));
  }

  // 2. f32 graph inputs: one Cast each, its result replacing the input in every consumer.
  std::vector<ir::Node> head;
  for (int in : g.inputs) {
    if (g.values[in].dtype != DType::kFloat32) continue;
    ir::Value cv;
    cv.name = fresh(used, g.values[in].name + "_" + suffix);
    used.insert(cv.name);
    cv.dtype = t;
    cv.shape = g.values[in].shape;
    const int id = g.add_value(cv);
    for (ir::Node& n : g.nodes)
      for (int& x : n.inputs)
        if (x == in) x = id;
    const std::string nn = fresh(used, "precision_in_" + g.values[in].name);
    used.insert(nn);
    head.push_back(cast_node(nn, in, id, t));
  }

  // 3. Outputs whose dtype changed: the 16-bit value is renamed, and a Cast back to f32 takes
  // the output's name, so plans and callers bind the same names as before.
  std::vector<ir::Node> tail;
  std::vector<int> cast_of(g.values.size(), -1);
  for (int& o : g.outputs) {
    if (o >= static_cast<int>(changed.size()) || !changed[o]) continue;
    if (cast_of[o] < 0) {
      ir::Value ov;
      ov.name = g.values[o].name;
      ov.dtype = DType::kFloat32;
      ov.shape = g.values[o].shape;
      g.values[o].name = fresh(used, ov.name + "_" + suffix);
      used.insert(g.values[o].name);
      const int id = g.add_value(ov);
      const std::string nn = fresh(used, "precision_out_" + ov.name);
      used.insert(nn);
      tail.push_back(cast_node(nn, o, id, DType::kFloat32));
      cast_of[o] = id;
    }
    o = cast_of[o];
  }

  std::vector<ir::Node> nodes = std::move(head);
  for (ir::Node& n : g.nodes) nodes.push_back(std::move(n));
  for (ir::Node& n : tail) nodes.push_back(std::move(n));
  g.nodes.clear();
  for (auto& v : g.values) v.producer = -1;
  for (ir::Node& n : nodes) g.add_node(std::move(n));

  // 4. Every node must agree with its op's dtype inference: an op that insists on f32 (a
  // quantized op's scales, say) is named here instead of failing in a kernel on the device.
  for (const ir::Node& n : g.nodes) {
    std::vector<ir::TypeShape> in;
    for (int x : n.inputs)
      in.push_back(x >= 0 ? ir::TypeShape{g.values[x].dtype, g.values[x].shape}
                          : ir::TypeShape{DType::kUndefined, {}});
    auto inferred = ir::infer(n, in);
    if (!inferred.ok())
      return Status(inferred.status().code(),
                    "precision " + std::string(suffix) + ": " + inferred.status().message());
    for (size_t i = 0; i < n.outputs.size() && i < inferred->size(); ++i)
      if (n.outputs[i] >= 0 && (*inferred)[i].first != g.values[n.outputs[i]].dtype)
        return Unimplemented("precision " + std::string(suffix) + ": node '" + n.name + "' (" +
                             n.op + ") produces " + dtype_name((*inferred)[i].first) +
                             " from 16-bit inputs; no 16-bit form of it yet");
  }
  g.meta["precision"] = Attr::Str(suffix);
  return Status::Ok();
}

}  // namespace tessera::passes
