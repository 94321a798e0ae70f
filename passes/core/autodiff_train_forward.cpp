// Forward ops whose training semantics differ from inference, rewritten before the backward
// graph is built so that autodiff, the SPMD search and checkpointing see ordinary ops:
// - Dropout gets the step counter "dropout.step" (a state like optimizer.step) and one
//   position vector per dim (i64, index * global stride): sharded with its input like any
//   operand, it gives every rank its elements' GLOBAL indices, so the Philox mask is the same
//   on every mesh (kernels/cpu/philox.h).
// - BatchNormalization with batch statistics becomes BatchNormStats (per-channel sums of x and
//   x², f32) and BatchNormApply (elementwise, 16-bit x in and y out under mixed precision): a
//   batch split over dp makes the sums partial and resharding all-reduces them (SyncBN); the
//   gradient is BatchNormApply's rule (the fused backward pair). Running statistics become
//   states updated per step by BatchNormRunningUpdate (ONNX: running = running * momentum +
//   batch * (1 - momentum), the variance's batch term unbiased). Each BatchNormalization owns its
//   two statistics as weights: exporters tie equal initializers together (own_running_stats below).
#include <fmt/format.h>

#include <map>
#include <set>

#include "passes/core/autodiff.h"
#include "passes/core/autodiff_builder.h"

namespace tessera::autodiff {
namespace {

// FNV-1a of the node name: a Dropout node's random stream, stable across recompiles.
int64_t stream_id(const std::string& name) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char ch : name) h = (h ^ ch) * 1099511628211ull;
  return static_cast<int64_t>(h >> 1);  // attributes are signed
}

std::shared_ptr<ir::TensorData> i64_tensor(const Shape& s, const std::vector<int64_t>& v) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kInt64;
  d->shape = s;
  d->bytes.resize(v.size() * sizeof(int64_t));
  std::copy(v.begin(), v.end(), reinterpret_cast<int64_t*>(d->bytes.data()));
  return d;
}

class TrainForward {
 public:
  TrainForward(ir::Graph& g, const TrainOptions& o, StateUpdates* u)
      : g_(g), b_(g), o_(o), updates_(u) {}

  Status run() {
    if (!o_.batchnorm_eval && !o_.gradients_only) own_running_stats();
    if (!b_.status().ok()) return b_.status();
    std::vector<ir::Node> old = std::move(g_.nodes);
    g_.nodes.clear();
    for (ir::Node& n : old) {
      if (n.op == "Dropout") {
        complete_dropout(n);
      } else if (n.op == "BatchNormalization" && !o_.batchnorm_eval) {
        lower_batch_norm(n);
        continue;
      }
      g_.add_node(std::move(n));
    }
    if (step_ >= 0) {
      b_.set_scope("dropout");
      updates_->emplace_back(step_, b_.add(step_, b_.scalar(DType::kInt64, 1)));
    }
    return b_.status();
  }

 private:
  int step() {
    if (step_ >= 0) return step_;
    ir::Value v;
    v.name = "dropout.step";
    v.dtype = DType::kInt64;
    v.kind = ir::ValueKind::kWeight;
    v.data = i64_tensor({}, {0});
    return step_ = g_.add_value(std::move(v));
  }
  // index * stride for index in [0, size): shared by every Dropout with that dim.
  int position(int64_t size, int64_t stride) {
    auto [it, fresh] = positions_.emplace(std::make_pair(size, stride), -1);
    if (!fresh) return it->second;
    std::vector<int64_t> v(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) v[i] = i * stride;
    ir::Value x;
    x.name = fmt::format("dropout.pos.{}x{}", size, stride);
    x.dtype = DType::kInt64;
    x.shape = {size};
    x.kind = ir::ValueKind::kConstant;
    x.data = i64_tensor({size}, v);
    return it->second = g_.add_value(std::move(x));
  }

  void complete_dropout(ir::Node& n) {
    n.attrs.erase("training_mode");
    n.attrs["seed"] = Attr::Int(o_.seed);
    n.attrs["stream"] = Attr::Int(stream_id(n.name));
    if (!attr_has(n.attrs, "ratio")) n.attrs["ratio"] = Attr::Float(0.5);  // ONNX default
    const Shape xs = g_.values[n.inputs[0]].shape;
    n.inputs.resize(1);
    n.inputs.push_back(step());
    int64_t stride = 1;
    std::vector<int> pos(xs.size());
    for (size_t d = xs.size(); d-- > 0;) {
      pos[d] = position(xs[d], stride);
      stride *= xs[d];
    }
    n.inputs.insert(n.inputs.end(), pos.begin(), pos.end());
  }

  void own_running_stats();
  void lower_batch_norm(const ir::Node& n);

  ir::Graph& g_;
  Builder b_;
  const TrainOptions& o_;
  StateUpdates* updates_;
  int step_ = -1;
  std::map<std::pair<int64_t, int64_t>, int> positions_;
};

// A running statistic is one layer's state, updated in place each step, so every
// BatchNormalization with batch statistics must read its mean and variance from weights of its
// own. Exporters deduplicate equal initializers: torch.onnx ties every freshly initialised BN's
// zero mean to one tensor and its unit variance to a scale, read directly or through Identity
// nodes (resnet50's graph-only export: `bn1.running_mean = Identity(bn1.bias)`). Updating such a
// value would name a non-weight as a state (the runtime refuses the plan) or let one layer's
// statistics overwrite another's. So a statistic that is not a weight read by BatchNormalization
// slots alone becomes a new weight starting from the tied tensor's value (none in a graph-only
// model): named as the Identity's output when it is one (PyTorch's buffer name), else
// "<node>.running_mean|var". The dead Identity nodes are pruned with the rest of the forward.
void TrainForward::own_running_stats() {
  std::vector<int> uses(g_.values.size(), 0), stat_uses(g_.values.size(), 0);
  for (const ir::Node& n : g_.nodes)
    for (int v : n.inputs)
      if (v >= 0) ++uses[v];
  for (int v : g_.outputs) ++uses[v];
  auto is_bn = [](const ir::Node& n) {
    return n.op == "BatchNormalization" && n.inputs.size() == 5;
  };
  for (const ir::Node& n : g_.nodes)
    if (is_bn(n))
      for (int slot : {3, 4}) ++stat_uses[n.inputs[slot]];
  auto identity_input = [&](int v) {
    const int p = g_.values[v].producer;
    return p >= 0 && g_.nodes[p].op == "Identity" ? g_.nodes[p].inputs[0] : -1;
  };
  // A new weight for slot `slot` of n, initialised from what the Identity chain reads.
  auto untie = [&](ir::Node& n, int slot, const std::string& name) {
    const int v = n.inputs[slot];
    int src = v;
    while (identity_input(src) >= 0) src = identity_input(src);
    const ir::Value& s = g_.values[src];
    if (s.kind != ir::ValueKind::kWeight && s.kind != ir::ValueKind::kConstant)
      return b_.fail(InvalidArgument(fmt::format(
          "node '{}' (BatchNormalization): running {} '{}' is computed by the graph; training "
          "updates it in place, so it must be an initializer",
          n.name, slot == 3 ? "mean" : "variance", g_.values[v].name)));
    ir::Value w;
    w.name = name;
    w.dtype = g_.values[v].dtype;
    w.shape = g_.values[v].shape;
    w.kind = ir::ValueKind::kWeight;
    if (s.data) w.data = std::make_shared<ir::TensorData>(*s.data);
    for (int u = v; --uses[u] == 0 && identity_input(u) >= 0;) u = identity_input(u);
    --stat_uses[v];
    n.inputs[slot] = g_.add_value(std::move(w));
    uses.push_back(1), stat_uses.push_back(1);
  };
  // Identity outputs first: they take their names, and the weights behind them may be left to
  // one BatchNormalization.
  for (ir::Node& n : g_.nodes)
    if (is_bn(n))
      for (int slot : {3, 4}) {
        ir::Value& v = g_.values[n.inputs[slot]];
        if (v.kind != ir::ValueKind::kActivation || identity_input(n.inputs[slot]) < 0) continue;
        const std::string name = v.name;
        v.name += ".tied";
        untie(n, slot, name);
      }
  std::set<int> claimed;
  for (ir::Node& n : g_.nodes)
    if (is_bn(n))
      for (int slot : {3, 4}) {
        const int v = n.inputs[slot];
        if (g_.values[v].kind == ir::ValueKind::kWeight && uses[v] == stat_uses[v] &&
            claimed.insert(v).second)
          continue;
        untie(n, slot, fmt::format("{}.{}", n.name, slot == 3 ? "running_mean" : "running_var"));
      }
}

void TrainForward::lower_batch_norm(const ir::Node& n) {
  Builder& b = b_;
  b.set_scope("bn_train/" + n.name);
  const int x = n.inputs[0];
  int scale = n.inputs[1], bias = n.inputs[2];
  const int rm = n.inputs[3], rv = n.inputs[4];
  const Shape xs = b.shape(x);
  if (xs.size() < 2)
    return b.fail(InvalidArgument(fmt::format(
        "node '{}' (BatchNormalization): input {} has no channel dim", n.name, shape_str(xs))));
  int64_t count = xs[0];
  for (size_t d = 2; d < xs.size(); ++d) count *= xs[d];
  // The statistics and parameters are f32 (f64 for f64 x) whatever x's dtype.
  const DType sd = b.dtype(x) == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
  auto as_stat = [&](int v) {
    return b.dtype(v) == sd ? v : b.op1("Cast", {v}, {{"to", Attr::Int(static_cast<int64_t>(sd))}});
  };
  scale = as_stat(scale), bias = as_stat(bias);
  const double eps = attr_float(n.attrs, "epsilon", 1e-5);
  // count is the GLOBAL element count per channel: a batch split over devices leaves the sums
  // partial and resharding all-reduces them (SyncBN).
  const AttrMap attrs = {{"count", Attr::Float(static_cast<double>(count))},
                         {"epsilon", Attr::Float(eps)}};
  const std::vector<int> sums = b.op("BatchNormStats", {x}, {}, 2);
  if (!b.status().ok()) return;
  b.op1("BatchNormApply", {x, sums[0], sums[1], scale, bias}, attrs);
  if (!b.status().ok()) return;
  // The last node produces the original output value: consumers stay as they are.
  const int orig = n.outputs[0], y = g_.nodes.back().outputs[0];
  g_.nodes.back().outputs[0] = orig;
  g_.values[orig].producer = static_cast<int>(g_.nodes.size()) - 1;
  g_.values[y].name += ".unused";
  if (o_.gradients_only) return;  // a gradient check leaves the running statistics alone
  const AttrMap ru = {{"count", Attr::Float(static_cast<double>(count))},
                      {"momentum", Attr::Float(attr_float(n.attrs, "momentum", 0.9))}};
  const int s0 = b.dtype(rm) == sd ? sums[0]
                                   : b.op1("Cast", {sums[0]},
                                           {{"to", Attr::Int(static_cast<int64_t>(b.dtype(rm)))}});
  const int s1 = b.dtype(rm) == sd ? sums[1]
                                   : b.op1("Cast", {sums[1]},
                                           {{"to", Attr::Int(static_cast<int64_t>(b.dtype(rm)))}});
  const std::vector<int> upd = b.op("BatchNormRunningUpdate", {rm, rv, s0, s1}, ru, 2);
  if (!b.status().ok()) return;
  updates_->emplace_back(rm, upd[0]);
  updates_->emplace_back(rv, upd[1]);
}

}  // namespace

Status prepare_train_forward(ir::Graph& g, const TrainOptions& o, StateUpdates* updates) {
  TrainForward t(g, o, updates);
  return t.run();
}

}  // namespace tessera::autodiff
