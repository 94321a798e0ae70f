// Binary elementwise ops with numpy multidirectional broadcasting, and Where.
// Broadcasting runs on precomputed strides (RowIter); inner loops are plain typed loops with
// fast paths for the contiguous and scalar-operand cases.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

// Output shape check shared by all broadcasting ops: out must be the broadcast of all inputs.
Status check_broadcast_out(const Ins& in, size_t first, const TensorRef& out) {
  Shape s = in[first].shape;
  for (size_t i = first + 1; i < in.size(); ++i) {
    TSR_RETURN_IF_ERROR(broadcast_shapes(s, in[i].shape, &s));
  }
  return check_out_shape(out, s);
}

template <class TA, class TB, class TO, class Op>
Status binary_bcast(const TensorRef& a, const TensorRef& b, const TensorRef& o, Op op) {
  std::vector<int64_t> sa, sb;
  TSR_RETURN_IF_ERROR(broadcast_strides(a.shape, o.shape, &sa));
  TSR_RETURN_IF_ERROR(broadcast_strides(b.shape, o.shape, &sb));
  const RowIter it = make_row_iter(o.shape, {sa, sb, contiguous_strides(o.shape)});
  const TA* pa = a.as<const TA>();
  const TB* pb = b.as<const TB>();
  TO* po = o.as<TO>();
  for_each_row(it, [&](const int64_t* off, const int64_t* st, int64_t n) {
    const TA* x = pa + off[0];
    const TB* y = pb + off[1];
    TO* z = po + off[2];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t j = 0; j < n; ++j) z[j] = op(x[j], y[j]);
    } else if (st[0] == 1 && st[1] == 0) {
      const TB yv = *y;
      for (int64_t j = 0; j < n; ++j) z[j] = op(x[j], yv);
    } else if (st[0] == 0 && st[1] == 1) {
      const TA xv = *x;
      for (int64_t j = 0; j < n; ++j) z[j] = op(xv, y[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) z[j] = op(x[j * st[0]], y[j * st[1]]);
    }
  });
  return Status::Ok();
}

// Variadic form (Max/Min; Add & co. are the 2-input case): fold the inputs into the output.
template <class T, class TO, class Op>
Status fold_bcast(const Ins& in, const TensorRef& o, Op op) {
  if (in.size() == 1) {
    return binary_bcast<T, T, TO>(in[0], in[0], o, [](T a, T) { return static_cast<TO>(a); });
  }
  TSR_RETURN_IF_ERROR((binary_bcast<T, T, TO>(in[0], in[1], o, op)));
  for (size_t i = 2; i < in.size(); ++i) {
    TSR_RETURN_IF_ERROR((binary_bcast<TO, T, TO>(o, in[i], o, op)));
  }
  return Status::Ok();
}

template <class T>
using U = std::make_unsigned_t<T>;

// Integer add/sub/mul wrap (two's complement) instead of overflowing: no UB on any input.
struct AddOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(U<T>(a) + U<T>(b));
    else
      return a + b;
  }
};
struct SubOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(U<T>(a) - U<T>(b));
    else
      return a - b;
  }
};
struct MulOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>)
      return static_cast<T>(U<T>(a) * U<T>(b));
    else
      return a * b;
  }
};
struct DivOp {  // integer: truncation; zero divisors are rejected before the loop
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_integral_v<T>) {
      if (b == -1) return static_cast<T>(U<T>(0) - U<T>(a));  // INT_MIN / -1 would trap
      return a / b;
    } else {
      return a / b;
    }
  }
};
struct MaxOp {  // NaN propagates, as numpy.maximum and ONNX Max do
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return a;
      if (std::isnan(b)) return b;
    }
    return a < b ? b : a;
  }
};
struct MinOp {
  template <class T>
  T operator()(T a, T b) const {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(a)) return a;
      if (std::isnan(b)) return b;
    }
    return b < a ? b : a;
  }
};

template <class Op>
Status arith(const Ins& in, const Ins& out, size_t max_in) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, max_in == 2 ? 2 : 1, max_in, 1));
  for (size_t i = 1; i < in.size(); ++i)
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], "input"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_broadcast_out(in, 0, out[0]));
  const Op op;
  switch (in[0].dtype) {
    case DType::kFloat32:
      return fold_bcast<float, float>(in, out[0], op);
    case DType::kFloat64:
      return fold_bcast<double, double>(in, out[0], op);
    case DType::kInt32:
      return fold_bcast<int32_t, int32_t>(in, out[0], op);
    case DType::kInt64:
      return fold_bcast<int64_t, int64_t>(in, out[0], op);
    default:
      return unsupported_dtype(in[0], "input 0");
  }
}

template <class T>
Status check_no_zero(const TensorRef& t) {
  const T* p = t.as<const T>();
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    if (p[i] == 0) return InvalidArgument("integer division by zero");
  }
  return Status::Ok();
}

struct EqOp {
  template <class T>
  uint8_t operator()(T a, T b) const {
    return a == b;
  }
};
struct LtOp {
  template <class T>
  uint8_t operator()(T a, T b) const {
    return a < b;
  }
};
struct LeOp {
  template <class T>
  uint8_t operator()(T a, T b) const {
    return a <= b;
  }
};
struct GtOp {
  template <class T>
  uint8_t operator()(T a, T b) const {
    return a > b;
  }
};
struct GeOp {
  template <class T>
  uint8_t operator()(T a, T b) const {
    return a >= b;
  }
};

template <class Op>
Status compare(const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kBool, "output"));
  TSR_RETURN_IF_ERROR(check_broadcast_out(in, 0, out[0]));
  const Op op;
  switch (in[0].dtype) {
    case DType::kFloat32:
      return binary_bcast<float, float, uint8_t>(in[0], in[1], out[0], op);
    case DType::kFloat64:
      return binary_bcast<double, double, uint8_t>(in[0], in[1], out[0], op);
    case DType::kInt32:
      return binary_bcast<int32_t, int32_t, uint8_t>(in[0], in[1], out[0], op);
    case DType::kInt64:
      return binary_bcast<int64_t, int64_t, uint8_t>(in[0], in[1], out[0], op);
    case DType::kBool:
      return binary_bcast<uint8_t, uint8_t, uint8_t>(in[0], in[1], out[0], op);
    default:
      return unsupported_dtype(in[0], "input 0");
  }
}

template <class Op>
Status logic(const Ins& in, const Ins& out, Op op) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kBool, "input 0"));
  TSR_RETURN_IF_ERROR(check_dtype(in[1], DType::kBool, "input 1"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kBool, "output"));
  TSR_RETURN_IF_ERROR(check_broadcast_out(in, 0, out[0]));
  return binary_bcast<uint8_t, uint8_t, uint8_t>(in[0], in[1], out[0], op);
}

// Integer power by squaring; negative exponents give 0 except for bases 1 and -1.
template <class T>
T ipow(T base, int64_t e) {
  if (e < 0) return base == 1 ? 1 : base == -1 ? (e % 2 ? -1 : 1) : 0;
  U<T> r = 1, b = static_cast<U<T>>(base);
  while (e) {
    if (e & 1) r *= b;
    b *= b;
    e >>= 1;
  }
  return static_cast<T>(r);
}

template <class TA, class TB>
Status pow_typed(const Ins& in, const Ins& out) {
  return binary_bcast<TA, TB, TA>(in[0], in[1], out[0], [](TA a, TB b) -> TA {
    if constexpr (std::is_floating_point_v<TA>) {
      return std::pow(a, static_cast<TA>(b));
    } else if constexpr (std::is_integral_v<TB>) {
      return ipow<TA>(a, static_cast<int64_t>(b));
    } else {
      const double r = std::pow(static_cast<double>(a), static_cast<double>(b));
      const double lo = static_cast<double>(std::numeric_limits<TA>::min());
      const double hi = static_cast<double>(std::numeric_limits<TA>::max());
      return std::isnan(r) ? 0 : static_cast<TA>(std::min(std::max(r, lo), hi));
    }
  });
}

template <class TA>
Status pow_dispatch_b(const Ins& in, const Ins& out) {
  switch (in[1].dtype) {
    case DType::kFloat32:
      return pow_typed<TA, float>(in, out);
    case DType::kFloat64:
      return pow_typed<TA, double>(in, out);
    case DType::kInt32:
      return pow_typed<TA, int32_t>(in, out);
    case DType::kInt64:
      return pow_typed<TA, int64_t>(in, out);
    default:
      return unsupported_dtype(in[1], "exponent");
  }
}

template <class T>
Status where_typed(const Ins& in, const TensorRef& o) {
  std::vector<int64_t> sc, sx, sy;
  TSR_RETURN_IF_ERROR(broadcast_strides(in[0].shape, o.shape, &sc));
  TSR_RETURN_IF_ERROR(broadcast_strides(in[1].shape, o.shape, &sx));
  TSR_RETURN_IF_ERROR(broadcast_strides(in[2].shape, o.shape, &sy));
  const RowIter it = make_row_iter(o.shape, {sc, sx, sy, contiguous_strides(o.shape)});
  const uint8_t* c = in[0].as<const uint8_t>();
  const T* x = in[1].as<const T>();
  const T* y = in[2].as<const T>();
  T* z = o.as<T>();
  for_each_row(it, [&](const int64_t* off, const int64_t* st, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      z[off[3] + j] = c[off[0] + j * st[0]] ? x[off[1] + j * st[1]] : y[off[2] + j * st[2]];
    }
  });
  return Status::Ok();
}

}  // namespace

Status Add(const AttrMap&, const Ins& in, const Ins& out) { return arith<AddOp>(in, out, 2); }
Status Sub(const AttrMap&, const Ins& in, const Ins& out) { return arith<SubOp>(in, out, 2); }
Status Mul(const AttrMap&, const Ins& in, const Ins& out) { return arith<MulOp>(in, out, 2); }
Status Max(const AttrMap&, const Ins& in, const Ins& out) { return arith<MaxOp>(in, out, 1 << 20); }
Status Min(const AttrMap&, const Ins& in, const Ins& out) { return arith<MinOp>(in, out, 1 << 20); }

Status Div(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  if (in[1].dtype == DType::kInt32) TSR_RETURN_IF_ERROR(check_no_zero<int32_t>(in[1]));
  if (in[1].dtype == DType::kInt64) TSR_RETURN_IF_ERROR(check_no_zero<int64_t>(in[1]));
  return arith<DivOp>(in, out, 2);
}

Status Pow(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_broadcast_out(in, 0, out[0]));
  switch (in[0].dtype) {
    case DType::kFloat32:
      return pow_dispatch_b<float>(in, out);
    case DType::kFloat64:
      return pow_dispatch_b<double>(in, out);
    case DType::kInt32:
      return pow_dispatch_b<int32_t>(in, out);
    case DType::kInt64:
      return pow_dispatch_b<int64_t>(in, out);
    default:
      return unsupported_dtype(in[0], "base");
  }
}

Status Equal(const AttrMap&, const Ins& in, const Ins& out) { return compare<EqOp>(in, out); }
Status Less(const AttrMap&, const Ins& in, const Ins& out) { return compare<LtOp>(in, out); }
Status LessOrEqual(const AttrMap&, const Ins& in, const Ins& out) { return compare<LeOp>(in, out); }
Status Greater(const AttrMap&, const Ins& in, const Ins& out) { return compare<GtOp>(in, out); }
Status GreaterOrEqual(const AttrMap&, const Ins& in, const Ins& out) {
  return compare<GeOp>(in, out);
}

Status And(const AttrMap&, const Ins& in, const Ins& out) {
  return logic(in, out, [](uint8_t a, uint8_t b) -> uint8_t { return a && b; });
}
Status Or(const AttrMap&, const Ins& in, const Ins& out) {
  return logic(in, out, [](uint8_t a, uint8_t b) -> uint8_t { return a || b; });
}

Status Where(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kBool, "condition"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], in[2], "input 2"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_broadcast_out(in, 0, out[0]));
  switch (dtype_size(in[1].dtype)) {  // selection copies bits: any dtype of these sizes
    case 1:
      return where_typed<uint8_t>(in, out[0]);
    case 2:
      return where_typed<uint16_t>(in, out[0]);
    case 4:
      return where_typed<uint32_t>(in, out[0]);
    case 8:
      return where_typed<uint64_t>(in, out[0]);
    default:
      return unsupported_dtype(in[1], "input 1");
  }
}

}  // namespace tessera::kernels::cpu
