// Node emission for autodiff. Every emitted node goes through shape inference, so a rule that
// builds an ill-typed node fails at compile time with the node named, not in a kernel.
#include "passes/core/autodiff_builder.h"

#include <fmt/format.h>

#include <cstring>

#include "ir/shape_infer.h"
#include "ir/train_ops.h"
#include "kernels/cpu/kernel_util.h"  // float_to_bf16_bits / float_to_half_bits

namespace tessera::autodiff {

StatusOr<std::vector<std::pair<DType, Shape>>> infer_any(
    const ir::Node& n, const std::vector<std::pair<DType, Shape>>& in) {
  const ir::OpInfo* t = ir::find_train_op(n.op);
  if (!t) return ir::infer(n, in);
  std::vector<ir::TypeShape> out(n.outputs.size());
  const int ni = static_cast<int>(in.size());
  Status s =
      ni < t->min_inputs || (t->max_inputs >= 0 && ni > t->max_inputs)
          ? InvalidArgument(fmt::format("{} inputs, want {}..{}", ni, t->min_inputs, t->max_inputs))
          : t->infer(n, in, out);
  if (!s.ok())
    return Status(s.code(), fmt::format("node '{}' ({}): {}", n.name, n.op, s.message()));
  return out;
}

int Builder::new_value(const std::string& base, DType t, const Shape& s, ir::ValueKind k) {
  ir::Value v;
  v.name = fmt::format("{}/{}_{}", scope_, base, counter_++);
  v.dtype = t;
  v.shape = s;
  v.kind = k;
  return g_.add_value(std::move(v));
}

std::vector<int> Builder::op(const std::string& op, const std::vector<int>& ins,
                             const AttrMap& attrs, int nout) {
  if (!status_.ok()) return std::vector<int>(nout, -1);
  ir::Node n;
  n.name = fmt::format("{}/{}_{}", scope_, op, counter_++);
  n.op = op;
  n.attrs = attrs;
  n.inputs = ins;
  n.outputs.assign(nout, -1);
  std::vector<ir::TypeShape> in;
  for (int v : ins) in.push_back(v >= 0 ? ir::TypeShape{dtype(v), shape(v)} : ir::TypeShape{});
  auto out = infer_any(n, in);
  if (!out.ok()) {
    fail(Status(out.status().code(), "autodiff: " + out.status().message()));
    return std::vector<int>(nout, -1);
  }
  for (int i = 0; i < nout; ++i)
    n.outputs[i] = new_value(op, (*out)[i].first, (*out)[i].second, ir::ValueKind::kActivation);
  std::vector<int> res = n.outputs;
  g_.add_node(std::move(n));
  return res;
}

int Builder::op1(const std::string& op, const std::vector<int>& ins, const AttrMap& attrs) {
  return this->op(op, ins, attrs, 1)[0];
}

namespace {

// Zero-filled data, then one value stored when v != 0 at every element.
std::shared_ptr<ir::TensorData> filled(DType t, const Shape& s, double v, Status* st) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = t;
  d->shape = s;
  d->bytes.assign(static_cast<size_t>(num_elements(s) * dtype_size(t)), 0);
  if (v == 0) return d;
  for (int64_t i = 0; i < d->numel(); ++i) {
    uint8_t* p = d->bytes.data() + i * dtype_size(t);
    if (t == DType::kFloat32) {
      const float f = static_cast<float>(v);
      std::memcpy(p, &f, 4);
    } else if (t == DType::kFloat64) {
      std::memcpy(p, &v, 8);
    } else if (t == DType::kInt64) {
      const int64_t x = static_cast<int64_t>(v);
      std::memcpy(p, &x, 8);
    } else if (t == DType::kInt32) {
      const int32_t x = static_cast<int32_t>(v);
      std::memcpy(p, &x, 4);
    } else if (t == DType::kBFloat16 || t == DType::kFloat16) {  // mixed precision
      const float f = static_cast<float>(v);
      const uint16_t h = t == DType::kBFloat16 ? kernels::cpu::float_to_bf16_bits(f)
                                               : kernels::cpu::float_to_half_bits(f);
      std::memcpy(p, &h, 2);
    } else {
      *st = Unimplemented(fmt::format("autodiff: constant of dtype {}", dtype_name(t)));
      break;
    }
  }
  return d;
}

}  // namespace

int Builder::scalar(DType t, double v) {
  if (!status_.ok()) return -1;
  Status st;
  auto d = filled(t, {}, v, &st);
  if (!st.ok()) return fail(st), -1;
  const int id = new_value("const", t, {}, ir::ValueKind::kConstant);
  g_.values[id].data = std::move(d);
  return id;
}

int Builder::zeros(DType t, const Shape& s) {
  if (!status_.ok()) return -1;
  Status st;
  auto d = filled(t, s, 0, &st);
  const int id = new_value("zeros", t, s, ir::ValueKind::kConstant);
  g_.values[id].data = std::move(d);
  return id;
}

int Builder::reshape(int v, const Shape& s) {
  if (v < 0 || shape(v) == s) return v;
  return op1("Reshape", {v}, {{"shape", Attr::Ints(s)}});
}

int Builder::reduce_sum(int v, const std::vector<int64_t>& axes, bool keepdims) {
  if (v < 0 || axes.empty()) return v;
  return op1("ReduceSum", {v},
             {{"axes", Attr::Ints(axes)}, {"keepdims", Attr::Int(keepdims ? 1 : 0)}});
}

int Builder::unbroadcast(int v, const Shape& target) {
  if (v < 0) return v;
  const Shape s = shape(v);
  if (s == target) return v;
  const int64_t lead = static_cast<int64_t>(s.size()) - static_cast<int64_t>(target.size());
  if (lead < 0)
    return fail(Internal("autodiff: cannot reduce " + shape_str(s) + " to " + shape_str(target))),
           -1;
  std::vector<int64_t> axes;
  for (int64_t i = 0; i < static_cast<int64_t>(s.size()); ++i) {
    if (i < lead || (target[i - lead] == 1 && s[i] != 1)) axes.push_back(i);
  }
  return reshape(reduce_sum(v, axes, true), target);
}

}  // namespace tessera::autodiff
