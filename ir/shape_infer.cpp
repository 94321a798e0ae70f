// infer() entry point, broadcasting, and the elementwise inference functions.
#include "ir/shape_infer.h"

#include "ir/shape_fns.h"

namespace tessera::ir {

StatusOr<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1) {
      return InvalidArgument(fmt::format("shapes {} and {} do not broadcast (dim {}: {} vs {})",
                                         fns::shp(a), fns::shp(b), i, da, db));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

namespace {

Status check_arity(const Node& n, const OpInfo& op, const std::vector<TypeShape>& in) {
  const int k = static_cast<int>(n.inputs.size());
  if (k < op.min_inputs || (op.max_inputs >= 0 && k > op.max_inputs)) {
    return fns::fail("takes {} to {} inputs, got {}", op.min_inputs,
                     op.max_inputs < 0 ? std::string("any") : std::to_string(op.max_inputs), k);
  }
  if (in.size() != n.inputs.size()) {
    return fns::fail("{} input types given for {} inputs", in.size(), n.inputs.size());
  }
  for (int i = 0; i < std::min(k, op.min_inputs); ++i) {
    if (in[i].first == DType::kUndefined) return fns::fail("required input {} is absent", i);
  }
  for (const TypeShape& t : in) {
    for (int64_t d : t.second) {
      if (d < 0) return fns::fail("input shape {} has a negative dim", fns::shp(t.second));
    }
  }
  const int outs = static_cast<int>(n.outputs.size());
  if (op.num_outputs >= 0 && outs != op.num_outputs) {
    return fns::fail("has {} outputs, canonical form has {}", outs, op.num_outputs);
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<TypeShape>> infer(const Node& n, const std::vector<TypeShape>& in) {
  const OpInfo* op = find_op(n.op);
  if (!op) return Unimplemented(fmt::format("node '{}': op {} is not supported", n.name, n.op));
  std::vector<TypeShape> out(n.outputs.size());
  Status s = check_arity(n, *op, in);
  if (s.ok()) s = op->infer(n, in, out);
  if (!s.ok())
    return Status(s.code(), fmt::format("node '{}' ({}): {}", n.name, n.op, s.message()));
  return out;
}

namespace fns {

std::string shp(const Shape& s) { return fmt::format("[{}]", fmt::join(s, ",")); }

namespace {

Status same_dtypes(const In& in, size_t first, size_t last) {
  for (size_t i = first + 1; i < last && i < in.size(); ++i) {
    if (in[i].first != in[first].first) {
      return fail("input {} is {} but input {} is {}", first, dtype_name(in[first].first), i,
                  dtype_name(in[i].first));
    }
  }
  return Status::Ok();
}

StatusOr<Shape> broadcast_all(const In& in, size_t first) {
  Shape s = in[first].second;
  for (size_t i = first + 1; i < in.size(); ++i) {
    auto b = broadcast_shapes(s, in[i].second);
    if (!b.ok()) return b.status();
    s = std::move(b).value();
  }
  return s;
}

}  // namespace

Status same_type_broadcast(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtypes(in, 0, in.size()));
  TSR_ASSIGN_OR_RETURN(Shape s, broadcast_all(in, 0));
  out[0] = {in[0].first, s};
  return Status::Ok();
}

Status pow(const Node&, const In& in, Out& out) {  // exponent type may differ (spec: T, T1)
  TSR_ASSIGN_OR_RETURN(Shape s, broadcast_all(in, 0));
  out[0] = {in[0].first, s};
  return Status::Ok();
}

Status compare(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtypes(in, 0, in.size()));
  TSR_ASSIGN_OR_RETURN(Shape s, broadcast_all(in, 0));
  out[0] = {DType::kBool, s};
  return Status::Ok();
}

Status logical(const Node&, const In& in, Out& out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i].first != DType::kBool)
      return fail("input {} must be bool, is {}", i, dtype_name(in[i].first));
  }
  TSR_ASSIGN_OR_RETURN(Shape s, broadcast_all(in, 0));
  out[0] = {DType::kBool, s};
  return Status::Ok();
}

Status where(const Node&, const In& in, Out& out) {
  if (in[0].first != DType::kBool)
    return fail("condition must be bool, is {}", dtype_name(in[0].first));
  TSR_RETURN_IF_ERROR(same_dtypes(in, 1, 3));
  TSR_ASSIGN_OR_RETURN(Shape s, broadcast_all(in, 0));
  out[0] = {in[1].first, s};
  return Status::Ok();
}

Status unary(const Node&, const In& in, Out& out) {
  out[0] = in[0];
  return Status::Ok();
}

Status unary_float(const Node&, const In& in, Out& out) {
  if (!dtype_is_float(in[0].first))
    return fail("input must be a float type, is {}", dtype_name(in[0].first));
  out[0] = in[0];
  return Status::Ok();
}

Status not_op(const Node& n, const In& in, Out& out) { return logical(n, in, out); }

Status is_nan(const Node&, const In& in, Out& out) {
  if (!dtype_is_float(in[0].first))
    return fail("input must be a float type, is {}", dtype_name(in[0].first));
  out[0] = {DType::kBool, in[0].second};
  return Status::Ok();
}

Status cast(const Node& n, const In& in, Out& out) {
  const auto to = static_cast<DType>(attr_int(n.attrs, "to", 0));
  if (dtype_size(to) == 0)
    return fail("attribute 'to' = {} is not a supported dtype", static_cast<int>(to));
  out[0] = {to, in[0].second};
  return Status::Ok();
}

Status softmax(const Node& n, const In& in, Out& out) {
  const int64_t axis = attr_int(n.attrs, "axis", -1);
  if (axis < 0 || axis >= static_cast<int64_t>(in[0].second.size())) {
    return fail("axis {} out of range for input {}", axis, shp(in[0].second));
  }
  return unary_float(n, in, out);
}

}  // namespace fns
}  // namespace tessera::ir
