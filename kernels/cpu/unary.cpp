// Unary elementwise ops. Float math runs in the tensor's own precision (f32 or f64) through the
// <cmath> overloads; Neg/Abs/Relu/Clip also take integers, Not takes bool.
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

enum Types { kFloats = 1, kInts = 2 };

Status check_unary(const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  return Status::Ok();
}

template <class T, class TO, class F>
Status map_typed(const TensorRef& x, const TensorRef& y, F f) {
  const T* p = x.as<const T>();
  TO* q = y.as<TO>();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) q[i] = f(p[i]);
  return Status::Ok();
}

// Dispatches a generic lambda (auto v) -> same type over the allowed dtypes.
template <class F>
Status map_same(const Ins& in, const Ins& out, int types, F f) {
  TSR_RETURN_IF_ERROR(check_unary(in, out));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const DType dt = in[0].dtype;
  if (types & kFloats) {
    if (dt == DType::kFloat32) return map_typed<float, float>(in[0], out[0], f);
    if (dt == DType::kFloat64) return map_typed<double, double>(in[0], out[0], f);
  }
  if (types & kInts) {
    if (dt == DType::kInt32) return map_typed<int32_t, int32_t>(in[0], out[0], f);
    if (dt == DType::kInt64) return map_typed<int64_t, int64_t>(in[0], out[0], f);
  }
  return unsupported_dtype(in[0], "input");
}

template <class T>
T sigmoid(T x) {  // split by sign so exp never overflows
  if (x >= 0) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

template <class T>
T gelu(T x, bool tanh_approx) {
  if (tanh_approx) {
    const T c = static_cast<T>(0.7978845608028654);  // sqrt(2/pi)
    return T(0.5) * x * (T(1) + std::tanh(c * (x + static_cast<T>(0.044715) * x * x * x)));
  }
  return T(0.5) * x * (T(1) + std::erf(x * static_cast<T>(0.7071067811865476)));
}

template <class T>
T neg(T v) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(std::make_unsigned_t<T>(0) - static_cast<std::make_unsigned_t<T>>(v));
  } else {
    return -v;
  }
}

}  // namespace

#define TSR_FLOAT_UNARY(NAME, EXPR)                                                \
  Status NAME(const AttrMap&, const Ins& in, const Ins& out) {                     \
    return map_same(in, out, kFloats, [](auto v) -> decltype(v) { return EXPR; }); \
  }

TSR_FLOAT_UNARY(Sqrt, std::sqrt(v))
TSR_FLOAT_UNARY(Reciprocal, decltype(v)(1) / v)
TSR_FLOAT_UNARY(Exp, std::exp(v))
TSR_FLOAT_UNARY(Log, std::log(v))
TSR_FLOAT_UNARY(Erf, std::erf(v))
TSR_FLOAT_UNARY(Tanh, std::tanh(v))
TSR_FLOAT_UNARY(Sigmoid, sigmoid(v))
TSR_FLOAT_UNARY(Sin, std::sin(v))
TSR_FLOAT_UNARY(Cos, std::cos(v))
TSR_FLOAT_UNARY(Floor, std::floor(v))
TSR_FLOAT_UNARY(Ceil, std::ceil(v))
#undef TSR_FLOAT_UNARY

Status Neg(const AttrMap&, const Ins& in, const Ins& out) {
  return map_same(in, out, kFloats | kInts, [](auto v) -> decltype(v) { return neg(v); });
}
Status Abs(const AttrMap&, const Ins& in, const Ins& out) {
  return map_same(in, out, kFloats | kInts,
                  [](auto v) -> decltype(v) { return v < 0 ? neg(v) : v; });
}
Status Relu(const AttrMap&, const Ins& in, const Ins& out) {
  return map_same(in, out, kFloats | kInts,
                  [](auto v) -> decltype(v) { return v > 0 ? v : decltype(v)(0); });
}

Status LeakyRelu(const AttrMap& attrs, const Ins& in, const Ins& out) {
  const double alpha = attr_float(attrs, "alpha", 0.01);
  return map_same(in, out, kFloats, [alpha](auto v) -> decltype(v) {
    return v >= 0 ? v : static_cast<decltype(v)>(alpha) * v;
  });
}

Status Gelu(const AttrMap& attrs, const Ins& in, const Ins& out) {
  const std::string approx = attr_str(attrs, "approximate", "none");
  if (approx != "none" && approx != "tanh") {
    return InvalidArgument("attribute 'approximate' must be none or tanh, got '" + approx + "'");
  }
  const bool t = approx == "tanh";
  return map_same(in, out, kFloats, [t](auto v) -> decltype(v) { return gelu(v, t); });
}

Status Clip(const AttrMap& attrs, const Ins& in, const Ins& out) {
  const double inf = std::numeric_limits<double>::infinity();
  const double lo = attr_float(attrs, "min", -inf), hi = attr_float(attrs, "max", inf);
  return map_same(in, out, kFloats | kInts, [lo, hi](auto v) -> decltype(v) {
    using T = decltype(v);
    const double d = static_cast<double>(v);
    if (d < lo) return std::is_integral_v<T> ? saturate_cast<T>(lo) : static_cast<T>(lo);
    if (d > hi) return std::is_integral_v<T> ? saturate_cast<T>(hi) : static_cast<T>(hi);
    return v;  // NaN passes through
  });
}

Status Not(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_unary(in, out));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kBool, "input"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kBool, "output"));
  return map_typed<uint8_t, uint8_t>(in[0], out[0], [](uint8_t v) -> uint8_t { return !v; });
}

Status IsNaN(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_unary(in, out));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kBool, "output"));
  auto f = [](auto v) -> uint8_t { return std::isnan(v); };
  if (in[0].dtype == DType::kFloat32) return map_typed<float, uint8_t>(in[0], out[0], f);
  if (in[0].dtype == DType::kFloat64) return map_typed<double, uint8_t>(in[0], out[0], f);
  return unsupported_dtype(in[0], "input");
}

Status Identity(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_unary(in, out));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  if (in[0].data != out[0].data) std::memmove(out[0].data, in[0].data, in[0].bytes());
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
