// Forward ops whose training semantics differ from inference, rewritten before the backward
// graph is built so that autodiff, the SPMD search and checkpointing see ordinary ops:
// - Dropout gets the step counter "dropout.step" (a state like optimizer.step) and one
//   position vector per dim (i64, index * global stride): sharded with its input like any
//   operand, it gives every rank its elements' GLOBAL indices, so the Philox mask is the same
//   on every mesh (kernels/cpu/philox.h).
// - BatchNormalization with batch statistics is lowered to ReduceSum/Sub/Mul/Sqrt/Reciprocal:
//   a batch split over dp makes the sums partial and resharding all-reduces them (SyncBN), and
//   the gradient comes from the primitives' rules. Running statistics become states updated
//   per step (ONNX: running = running * momentum + batch * (1 - momentum), the variance's
//   batch term unbiased).
#include <fmt/format.h>

#include <map>

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

  void lower_batch_norm(const ir::Node& n);

  ir::Graph& g_;
  Builder b_;
  const TrainOptions& o_;
  StateUpdates* updates_;
  int step_ = -1;
  std::map<std::pair<int64_t, int64_t>, int> positions_;
};

void TrainForward::lower_batch_norm(const ir::Node& n) {
  Builder& b = b_;
  b.set_scope("bn_train/" + n.name);
  const int x = n.inputs[0], scale = n.inputs[1], bias = n.inputs[2];
  const int rm = n.inputs[3], rv = n.inputs[4];
  const Shape xs = b.shape(x);
  if (xs.size() < 2)
    return b.fail(InvalidArgument(fmt::format(
        "node '{}' (BatchNormalization): input {} has no channel dim", n.name, shape_str(xs))));
  std::vector<int64_t> axes = {0};
  Shape cs(xs.size(), 1);  // [1,C,1,...]
  cs[1] = xs[1];
  int64_t count = xs[0];
  for (size_t d = 2; d < xs.size(); ++d) axes.push_back(static_cast<int64_t>(d)), count *= xs[d];
  // ReduceSum then a constant 1/count: a sum split over devices is partial and all-reduced
  // (ReduceMean would divide by the local count, so its reduced axis is never split).
  const int inv_count = b.scalar_like(x, 1.0 / static_cast<double>(count));
  const int mean = b.mul(b.reduce_sum(x, axes, true), inv_count);
  const int d = b.op1("Sub", {x, mean});
  const int var = b.mul(b.reduce_sum(b.mul(d, d), axes, true), inv_count);  // biased
  const double eps = attr_float(n.attrs, "epsilon", 1e-5);
  const int inv_std = b.op1("Reciprocal", {b.op1("Sqrt", {b.add(var, b.scalar_like(var, eps))})});
  const int y = b.add(b.mul(b.mul(d, inv_std), b.reshape(scale, cs)), b.reshape(bias, cs));
  if (!b.status().ok()) return;
  // The lowering's last node produces the original output value: consumers stay as they are.
  const int orig = n.outputs[0];
  g_.nodes.back().outputs[0] = orig;
  g_.values[orig].producer = static_cast<int>(g_.nodes.size()) - 1;
  g_.values[y].name += ".unused";
  if (o_.gradients_only) return;  // a gradient check leaves the running statistics alone
  const double m = attr_float(n.attrs, "momentum", 0.9);
  const Shape c = b.shape(rm);
  const double unbias = count > 1 ? static_cast<double>(count) / static_cast<double>(count - 1) : 1;
  auto running = [&](int state, int batch, double k) {
    return b.add(b.mul(state, b.scalar_like(state, m)),
                 b.mul(b.reshape(batch, c), b.scalar_like(state, (1 - m) * k)));
  };
  updates_->emplace_back(rm, running(rm, mean, 1.0));
  updates_->emplace_back(rv, running(rv, var, unbias));
}

}  // namespace

Status prepare_train_forward(ir::Graph& g, const TrainOptions& o, StateUpdates* updates) {
  TrainForward t(g, o, updates);
  return t.run();
}

}  // namespace tessera::autodiff
