// Mixed-precision training (--mode train --precision bf16|fp16): the forward graph is rewritten
// before the backward is built, so autodiff differentiates the 16-bit forward and produces a
// 16-bit backward with no rule of its own (the gradient of a Cast is a Cast back).
// - Weights stay f32 (the master copy the optimizer updates, with f32 optimizer state). Each f32
//   weight gets one Cast to the 16-bit type before its first 16-bit consumer: the compute copy.
//   Its gradient arrives 16-bit and the Cast's rule casts it to f32 for the optimizer.
// - Activations are 16-bit, except around the ops PyTorch's autocast keeps in f32 (softmax,
//   normalisations, reductions, exp/log/pow): their float inputs are Cast to f32 and their
//   outputs stay f32 until a 16-bit consumer Casts them back.
// - Model outputs are Cast to f32, so the loss is computed in f32; so are the updates of
//   forward states (BatchNormalization's running statistics).
// - Frozen float weights and constants with data (exporter literals, masks) are rounded once
//   here into a 16-bit constant (fp16 saturates at ±65504, as the inference precision pass),
//   the f32 original kept for f32 consumers.
// - FusedAttention computes in the 16-bit type like a MatMul (q, k, v cast); its additive mask
//   keeps its dtype (the kernels read any float mask), and so does FusedAttentionGrad's.
// Cost: one walk over the forward graph; one Cast node per weight and per f32/16-bit boundary.
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <set>

#include "kernels/cpu/kernel_util.h"  // float_to_bf16_bits / float_to_half_bits (RNE)
#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"

namespace tessera::autodiff {
namespace {

namespace kc = kernels::cpu;

// Ops computed in f32 from f32 operands (PyTorch autocast's "float32" list, for the ops here).
bool f32_op(const std::string& op) {
  static const std::set<std::string> ops = {"Softmax",
                                            "LogSoftmax",
                                            "LayerNormalization",
                                            "BatchNormalization",
                                            "GroupNormalization",
                                            "ReduceSum",
                                            "ReduceMean",
                                            "ReduceProd",
                                            "CumSum",
                                            "Exp",
                                            "Log",
                                            "Pow",
                                            "Sqrt",
                                            "Reciprocal"};
  return ops.count(op) > 0;
}

// The fused BatchNorm training ops (autodiff_train_forward.cpp) read 16-bit x and f32 sums and
// parameters as they are and write y in x's dtype: no Cast on either side, outputs as inferred.
bool keeps_dtypes(const std::string& op) {
  return op == "BatchNormStats" || op == "BatchNormApply" || op == "BatchNormRunningUpdate";
}

// Inputs read in any float dtype, left as they are: the fused attention's additive mask (kept
// f32 it is neither rounded nor copied; a Cast of a [B,H,Sq,Sk] mask would be a pass over it).
bool any_float_input(const std::string& op, size_t i) {
  return (op == "FusedAttention" && i == 3) || (op == "FusedAttentionGrad" && i == 4);
}

std::string fresh(std::set<std::string>& used, const std::string& base) {
  std::string s = base;
  for (int i = 1; used.count(s); ++i) s = base + "_" + std::to_string(i);
  used.insert(s);
  return s;
}

ir::TensorDataPtr round_data(const ir::TensorData& d, DType t) {
  auto out = std::make_shared<ir::TensorData>();
  out->dtype = t;
  out->shape = d.shape;
  const int64_t n = d.numel();
  out->bytes.resize(static_cast<size_t>(n) * 2);
  const float* src = d.as<float>();
  for (int64_t i = 0; i < n; ++i) {
    float f = src[i];
    if (t == DType::kFloat16 && std::isfinite(f)) f = std::fmax(-65504.f, std::fmin(65504.f, f));
    const uint16_t h =
        t == DType::kBFloat16 ? kc::float_to_bf16_bits(f) : kc::float_to_half_bits(f);
    std::memcpy(out->bytes.data() + 2 * i, &h, 2);
  }
  return out;
}

class Autocast {
 public:
  Autocast(ir::Graph& g, DType t, const std::set<int>& trained) : g_(g), t_(t), trained_(trained) {
    for (const auto& v : g.values) used_.insert(v.name);
    for (const auto& n : g.nodes) used_.insert(n.name);
    suffix_ = t == DType::kBFloat16 ? "bf16" : "fp16";
  }

  // v (an originally f32 value) as dtype `want`: itself, or a Cast/rounded copy made once.
  int as(int v, DType want) {
    if (g_.values[v].dtype == want) return v;
    auto key = std::make_pair(v, want);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    const ir::Value& src = g_.values[v];
    const bool fold = want != DType::kFloat32 && src.data &&
                      (src.kind == ir::ValueKind::kConstant ||
                       (src.kind == ir::ValueKind::kWeight && !trained_.count(v)));
    ir::Value cv;
    cv.name = fresh(used_, src.name + "." + (want == DType::kFloat32 ? "f32" : suffix_));
    cv.dtype = want;
    cv.shape = src.shape;
    if (fold) {
      cv.kind = ir::ValueKind::kConstant;
      cv.data = round_data(*src.data, want);
    }
    const int id = g_.add_value(std::move(cv));
    if (!fold) {
      ir::Node n;
      n.name = fresh(used_, "autocast/" + g_.values[v].name);
      n.op = "Cast";
      n.attrs["to"] = Attr::Int(static_cast<int64_t>(want));
      n.inputs = {v};
      n.outputs = {id};
      nodes_.push_back(std::move(n));
    }
    memo_[key] = id;
    return id;
  }

  Status run(StateUpdates* updates) {
    std::vector<ir::Node> old = std::move(g_.nodes);
    g_.nodes.clear();
    for (ir::Node& n : old) {
      const bool in_f32 = f32_op(n.op);
      if (keeps_dtypes(n.op)) {
        // Per-channel operands are f32: one that became 16-bit on the way (a scale tied to
        // another layer's through an Identity, which autocast computes in 16-bit) goes back.
        for (size_t i = n.op == "BatchNormRunningUpdate" ? 0 : 1; i < n.inputs.size(); ++i)
          if (n.inputs[i] >= 0 && dtype_is_16(g_.values[n.inputs[i]].dtype))
            n.inputs[i] = as16_to_f32(n.inputs[i]);
        TSR_RETURN_IF_ERROR(infer_outputs(n));
        nodes_.push_back(std::move(n));
        continue;
      }
      if (n.op == "Cast") {  // a Cast to f32 inside the model casts to the compute type
        if (attr_int(n.attrs, "to", 0) == static_cast<int64_t>(DType::kFloat32))
          n.attrs["to"] = Attr::Int(static_cast<int64_t>(t_));
      } else {
        for (size_t i = 0; i < n.inputs.size(); ++i) {
          int& x = n.inputs[i];
          if (x < 0 || any_float_input(n.op, i)) continue;
          if (g_.values[x].dtype == DType::kFloat32 && !in_f32)
            x = as(x, t_);
          else if (dtype_is_16(g_.values[x].dtype) && in_f32)
            x = as16_to_f32(x);
        }
      }
      if (!in_f32)
        for (int y : n.outputs)
          if (y >= 0 && g_.values[y].dtype == DType::kFloat32) g_.values[y].dtype = t_;
      nodes_.push_back(std::move(n));
    }
    // Model outputs and forward-state updates back to f32.
    for (int& o : g_.outputs)
      if (o >= 0 && g_.values[o].dtype == t_) o = as16_to_f32(o);
    if (updates)
      for (auto& [state, upd] : *updates)
        if (g_.values[state].dtype == DType::kFloat32 && g_.values[upd].dtype == t_)
          upd = as16_to_f32(upd);
    for (auto& v : g_.values) v.producer = -1;
    for (ir::Node& n : nodes_) g_.add_node(std::move(n));
    return check();
  }

 private:
  static bool dtype_is_16(DType d) { return d == DType::kBFloat16 || d == DType::kFloat16; }

  Status infer_outputs(const ir::Node& n) {
    std::vector<std::pair<DType, Shape>> in;
    for (int x : n.inputs)
      in.emplace_back(x >= 0 ? g_.values[x].dtype : DType::kUndefined,
                      x >= 0 ? g_.values[x].shape : Shape{});
    TSR_ASSIGN_OR_RETURN(auto out, infer_any(n, in));
    for (size_t i = 0; i < n.outputs.size() && i < out.size(); ++i)
      if (n.outputs[i] >= 0) g_.values[n.outputs[i]].dtype = out[i].first;
    return Status::Ok();
  }

  // A 16-bit activation (once f32) back to f32 for an f32 consumer: one Cast, memoised.
  int as16_to_f32(int v) {
    auto key = std::make_pair(v, DType::kFloat32);
    auto it = memo_.find(key);
    if (it != memo_.end()) return it->second;
    ir::Value cv;
    cv.name = fresh(used_, g_.values[v].name + ".f32");
    cv.dtype = DType::kFloat32;
    cv.shape = g_.values[v].shape;
    const int id = g_.add_value(std::move(cv));
    ir::Node n;
    n.name = fresh(used_, "autocast/" + g_.values[v].name);
    n.op = "Cast";
    n.attrs["to"] = Attr::Int(static_cast<int64_t>(DType::kFloat32));
    n.inputs = {v};
    n.outputs = {id};
    nodes_.push_back(std::move(n));
    memo_[key] = id;
    return id;
  }

  // Every node must agree with its op's dtype inference: an op with no 16-bit form is named.
  Status check() const {
    for (const ir::Node& n : g_.nodes) {
      std::vector<std::pair<DType, Shape>> in;
      for (int x : n.inputs)
        in.emplace_back(x >= 0 ? g_.values[x].dtype : DType::kUndefined,
                        x >= 0 ? g_.values[x].shape : Shape{});
      auto out = infer_any(n, in);
      if (!out.ok())
        return Status(out.status().code(),
                      fmt::format("--precision {}: {}", suffix_, out.status().message()));
      for (size_t i = 0; i < n.outputs.size() && i < out->size(); ++i)
        if (n.outputs[i] >= 0 && (*out)[i].first != g_.values[n.outputs[i]].dtype)
          return Unimplemented(
              fmt::format("--precision {}: node '{}' ({}) produces {} from 16-bit inputs, not {}",
                          suffix_, n.name, n.op, dtype_name((*out)[i].first),
                          dtype_name(g_.values[n.outputs[i]].dtype)));
    }
    return Status::Ok();
  }

  ir::Graph& g_;
  DType t_;
  const std::set<int>& trained_;
  std::string suffix_;
  std::set<std::string> used_;
  std::map<std::pair<int, DType>, int> memo_;
  std::vector<ir::Node> nodes_;
};

}  // namespace

Status autocast_forward(ir::Graph& g, DType t, const std::vector<int>& trained,
                        StateUpdates* updates) {
  if (t != DType::kBFloat16 && t != DType::kFloat16)
    return InvalidArgument(fmt::format("autodiff: autocast to {}", dtype_name(t)));
  const std::set<int> tr(trained.begin(), trained.end());
  Autocast a(g, t, tr);
  return a.run(updates);
}

}  // namespace tessera::autodiff
