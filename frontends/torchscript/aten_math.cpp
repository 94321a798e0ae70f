// Elementwise, comparison, activation and reduction aten ops.
#include <algorithm>
#include <cmath>

#include "frontends/torchscript/aten_util.h"

namespace tessera::ts_fe {

StatusOr<int> arg_tensor(Importer& c, const Args& a, size_t i, const char* name) {
  return c.tensor_arg(a.get(i, name), name);
}

Status unary_op(Importer& c, const Args& a, const char* op, TsVal& out, AttrMap attrs) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  return set_tensor(c.emit1(op, {x}, std::move(attrs)), out);
}

StatusOr<int> binary_op(Importer& c, const TsVal& x, const TsVal& y, const char* op) {
  TSR_ASSIGN_OR_RETURN(auto ids, c.promote({x, y}));
  return c.emit1(op, {ids[0], ids[1]});
}

StatusOr<std::vector<int64_t>> dims_arg(Importer& c, const TsVal* d, int rank) {
  std::vector<int64_t> axes;
  if (given(d)) {
    TSR_ASSIGN_OR_RETURN(auto raw, c.to_ints(*d));
    for (int64_t x : raw) {
      TsVal t = TsVal::Int(x);
      TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(&t, rank, 0));
      axes.push_back(ax);
    }
  }
  if (axes.empty()) {
    for (int i = 0; i < rank; ++i) axes.push_back(i);
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  return axes;
}

StatusOr<DType> dtype_arg(Importer& c, const TsVal* d) {
  if (!given(d)) return DType::kUndefined;
  TSR_ASSIGN_OR_RETURN(int64_t code, c.to_int(*d));
  DType t = dtype_from_torch(code);
  if (t == DType::kUndefined) return c.fail("unsupported torch dtype code {}", code);
  return t;
}

namespace {

// other * alpha when alpha is given and not 1.
StatusOr<TsVal> scaled(Importer& c, const TsVal& other, const TsVal* alpha) {
  if (!given(alpha)) return other;
  TSR_ASSIGN_OR_RETURN(double al, c.to_double(*alpha));
  if (al == 1) return other;
  if (other.is_number()) {
    return other.kind == TsVal::kFloat ? TsVal::Float(other.f * al) : TsVal::Int(other.i * al);
  }
  TSR_ASSIGN_OR_RETURN(int v, binary_op(c, other, *alpha, "Mul"));
  return TsVal::Tensor(v);
}

Status binary(Importer& c, const Args& a, const char* op, TsVal& out) {
  const TsVal* x = a.get(0, "self");
  const TsVal* y = a.get(1, "other");
  if (!x || !y) return c.fail("{} needs two operands", op);
  return set_tensor(binary_op(c, *x, *y, op), out);
}

Status compare(Importer& c, const Args& a, const char* op, bool negate, TsVal& out) {
  TSR_RETURN_IF_ERROR(binary(c, a, op, out));
  if (negate) return set_tensor(c.emit1("Not", {out.v}), out);
  return Status::Ok();
}

Status logical(Importer& c, const Args& a, const char* op, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int y, c.as_tensor(*a.get(1, "other")));
  TSR_ASSIGN_OR_RETURN(x, c.cast(x, DType::kBool));
  TSR_ASSIGN_OR_RETURN(y, c.cast(y, DType::kBool));
  return set_tensor(c.emit1(op, {x, y}), out);
}

Status reduce(Importer& c, const Args& a, const char* op, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* dim = a.get(1, "dim");
  TSR_ASSIGN_OR_RETURN(auto axes, dims_arg(c, dim, c.rank(x)));
  const TsVal* keep = a.get(2, "keepdim");
  TSR_ASSIGN_OR_RETURN(DType dt, dtype_arg(c, a.get(3, "dtype")));
  if (dt != DType::kUndefined) {
    TSR_ASSIGN_OR_RETURN(x, c.cast(x, dt));
  }
  if (std::string(op) == "ReduceSum" && !dtype_is_float(c.dtype(x))) {
    TSR_ASSIGN_OR_RETURN(x, c.cast(x, DType::kInt64));  // torch sums integers as int64
  }
  AttrMap at{{"axes", Attr::Ints(axes)}, {"keepdims", Attr::Int(given(keep) && keep->i ? 1 : 0)}};
  return set_tensor(c.emit1(op, {x}, at), out);
}

Status softmax_like(Importer& c, const Args& a, const char* op, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x), -1));
  TSR_ASSIGN_OR_RETURN(DType dt, dtype_arg(c, a.get(2, "dtype")));
  if (dt != DType::kUndefined) {
    TSR_ASSIGN_OR_RETURN(x, c.cast(x, dt));
  }
  return set_tensor(c.emit1(op, {x}, {{"axis", Attr::Int(ax)}}), out);
}

}  // namespace

Status cv_add(Importer& c, const Args& a, TsVal& out) {
  if (!a.get(0, "self") || !a.get(1, "other")) return c.fail("add needs two operands");
  TSR_ASSIGN_OR_RETURN(TsVal y, scaled(c, *a.get(1, "other"), a.get(2, "alpha")));
  return set_tensor(binary_op(c, *a.get(0, "self"), y, "Add"), out);
}
Status cv_sub(Importer& c, const Args& a, TsVal& out) {
  if (!a.get(0, "self") || !a.get(1, "other")) return c.fail("sub needs two operands");
  TSR_ASSIGN_OR_RETURN(TsVal y, scaled(c, *a.get(1, "other"), a.get(2, "alpha")));
  return set_tensor(binary_op(c, *a.get(0, "self"), y, "Sub"), out);
}
Status cv_rsub(Importer& c, const Args& a, TsVal& out) {  // other - alpha * self
  if (!a.get(0, "self") || !a.get(1, "other")) return c.fail("rsub needs two operands");
  TSR_ASSIGN_OR_RETURN(TsVal x, scaled(c, *a.get(0, "self"), a.get(2, "alpha")));
  return set_tensor(binary_op(c, *a.get(1, "other"), x, "Sub"), out);
}
Status cv_mul(Importer& c, const Args& a, TsVal& out) { return binary(c, a, "Mul", out); }
Status cv_pow(Importer& c, const Args& a, TsVal& out) {
  const TsVal* x = a.get(0, "self");
  const TsVal* e = a.get(1, "exponent");
  if (!x || !e) return c.fail("pow needs two operands");
  return set_tensor(binary_op(c, *x, *e, "Pow"), out);
}

// True division promotes integers to float; rounding_mode="floor" floors floats (integers
// divide exactly for the non-negative index arithmetic traced code does).
Status cv_div(Importer& c, const Args& a, TsVal& out) {
  const TsVal* mode = a.get(2, "rounding_mode");
  if (!a.get(0, "self") || !a.get(1, "other")) return c.fail("div needs two operands");
  TSR_ASSIGN_OR_RETURN(auto ids, c.promote({*a.get(0, "self"), *a.get(1, "other")}));
  bool is_int = !dtype_is_float(c.dtype(ids[0]));
  if (!given(mode) && is_int) {
    for (int& v : ids) {
      TSR_ASSIGN_OR_RETURN(v, c.cast(v, DType::kFloat32));
    }
  }
  TSR_ASSIGN_OR_RETURN(int q, c.emit1("Div", {ids[0], ids[1]}));
  if (given(mode) && mode->s == "floor" && !is_int) return set_tensor(c.emit1("Floor", {q}), out);
  if (given(mode) && mode->s == "trunc" && !is_int) {
    return c.fail("div(rounding_mode='trunc') on floats is not supported");
  }
  out = TsVal::Tensor(q);
  return Status::Ok();
}

Status cv_eq(Importer& c, const Args& a, TsVal& out) { return compare(c, a, "Equal", false, out); }
Status cv_ne(Importer& c, const Args& a, TsVal& out) { return compare(c, a, "Equal", true, out); }
Status cv_lt(Importer& c, const Args& a, TsVal& out) { return compare(c, a, "Less", false, out); }
Status cv_le(Importer& c, const Args& a, TsVal& out) {
  return compare(c, a, "LessOrEqual", false, out);
}
Status cv_gt(Importer& c, const Args& a, TsVal& out) {
  return compare(c, a, "Greater", false, out);
}
Status cv_ge(Importer& c, const Args& a, TsVal& out) {
  return compare(c, a, "GreaterOrEqual", false, out);
}
Status cv_and(Importer& c, const Args& a, TsVal& out) { return logical(c, a, "And", out); }
Status cv_or(Importer& c, const Args& a, TsVal& out) { return logical(c, a, "Or", out); }
Status cv_not(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(x, c.cast(x, DType::kBool));
  return set_tensor(c.emit1("Not", {x}), out);
}

Status cv_where(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int cond, arg_tensor(c, a, 0, "condition"));
  TSR_ASSIGN_OR_RETURN(cond, c.cast(cond, DType::kBool));
  const TsVal* x = a.get(1, "self");
  const TsVal* y = a.get(2, "other");
  if (!x || !y) return c.fail("where(condition) with one argument is not supported");
  TSR_ASSIGN_OR_RETURN(auto ids, c.promote({*x, *y}));
  return set_tensor(c.emit1("Where", {cond, ids[0], ids[1]}), out);
}

Status cv_masked_fill(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int mask, arg_tensor(c, a, 1, "mask"));
  TSR_ASSIGN_OR_RETURN(mask, c.cast(mask, DType::kBool));
  const TsVal* v = a.get(2, "value");
  if (!v) return c.fail("masked_fill needs a value");
  TSR_ASSIGN_OR_RETURN(int val, c.as_tensor(*v, x));
  TSR_ASSIGN_OR_RETURN(val, c.cast(val, c.dtype(x)));
  return set_tensor(c.emit1("Where", {mask, val, x}), out);
}

Status cv_relu(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Relu", out); }
Status cv_gelu(Importer& c, const Args& a, TsVal& out) {
  const TsVal* ap = a.get(1, "approximate");
  std::string mode = given(ap) && ap->kind == TsVal::kStr ? ap->s : "none";
  return unary_op(c, a, "Gelu", out, {{"approximate", Attr::Str(mode)}});
}
Status cv_silu(Importer& c, const Args& a, TsVal& out) {  // x * sigmoid(x)
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int s, c.emit1("Sigmoid", {x}));
  return set_tensor(c.emit1("Mul", {x, s}), out);
}
Status cv_tanh(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Tanh", out); }
Status cv_sigmoid(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Sigmoid", out); }
Status cv_exp(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Exp", out); }
Status cv_log(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Log", out); }
Status cv_sqrt(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Sqrt", out); }
Status cv_rsqrt(Importer& c, const Args& a, TsVal& out) {
  TSR_RETURN_IF_ERROR(unary_op(c, a, "Sqrt", out));
  return set_tensor(c.emit1("Reciprocal", {out.v}), out);
}
Status cv_neg(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Neg", out); }
Status cv_abs(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Abs", out); }
Status cv_erf(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Erf", out); }
Status cv_sin(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Sin", out); }
Status cv_cos(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Cos", out); }
Status cv_floor(Importer& c, const Args& a, TsVal& out) { return unary_op(c, a, "Floor", out); }
Status cv_reciprocal(Importer& c, const Args& a, TsVal& out) {
  return unary_op(c, a, "Reciprocal", out);
}
Status cv_square(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  return set_tensor(c.emit1("Mul", {x, x}), out);
}

Status cv_clamp(Importer& c, const Args& a, TsVal& out) {
  AttrMap at;
  const TsVal* lo = a.get(1, "min");
  const TsVal* hi = a.get(2, "max");
  if (given(lo)) {
    TSR_ASSIGN_OR_RETURN(double v, c.to_double(*lo));
    at["min"] = Attr::Float(v);
  }
  if (given(hi)) {
    TSR_ASSIGN_OR_RETURN(double v, c.to_double(*hi));
    at["max"] = Attr::Float(v);
  }
  return unary_op(c, a, "Clip", out, at);
}

Status cv_mean(Importer& c, const Args& a, TsVal& out) { return reduce(c, a, "ReduceMean", out); }
Status cv_sum(Importer& c, const Args& a, TsVal& out) { return reduce(c, a, "ReduceSum", out); }
Status cv_amax(Importer& c, const Args& a, TsVal& out) { return reduce(c, a, "ReduceMax", out); }

Status cv_cumsum(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x), 0));
  TSR_ASSIGN_OR_RETURN(DType dt, dtype_arg(c, a.get(2, "dtype")));
  if (dt == DType::kUndefined && !dtype_is_float(c.dtype(x))) dt = DType::kInt64;
  if (dt != DType::kUndefined) {
    TSR_ASSIGN_OR_RETURN(x, c.cast(x, dt));
  }
  return set_tensor(c.emit1("CumSum", {x}, {{"axis", Attr::Int(ax)}}), out);
}

Status cv_softmax(Importer& c, const Args& a, TsVal& out) {
  return softmax_like(c, a, "Softmax", out);
}
Status cv_log_softmax(Importer& c, const Args& a, TsVal& out) {
  return softmax_like(c, a, "LogSoftmax", out);
}

}  // namespace tessera::ts_fe
