// Cast between f32, f64, f16, bf16, i8, u8, i32, i64 and bool. Integer sources go through
// int64 (exact, wrapping on narrowing like numpy's astype); float sources through double
// (float -> integer saturates, NaN -> 0; f16/bf16 round to nearest even).
#include <cmath>
#include <cstring>
#include <type_traits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

struct Bool8 {  // bool storage: one byte, 0 or 1
  uint8_t v;
};

template <class T>
struct Tag {
  using type = T;
};

template <class T>
constexpr bool kIntLike = std::is_integral_v<T> || std::is_same_v<T, Bool8>;

template <class S>
auto read_wide(S s) {
  if constexpr (std::is_same_v<S, Bool8>)
    return static_cast<int64_t>(s.v != 0);
  else if constexpr (std::is_integral_v<S>)
    return static_cast<int64_t>(s);
  else if constexpr (std::is_same_v<S, Half>)
    return static_cast<double>(half_bits_to_float(s.bits));
  else if constexpr (std::is_same_v<S, BFloat16>)
    return static_cast<double>(bf16_bits_to_float(s.bits));
  else
    return static_cast<double>(s);
}

// Narrows to float rounding to odd (truncate toward zero, then set the last mantissa bit when
// inexact). A second rounding to f16/bf16, which keep far fewer bits, then equals one
// round-to-nearest-even from the wide value: no double-rounding error on f64 -> f16 ties.
inline float narrow_round_odd(double w) {
  float f = static_cast<float>(w);
  if (static_cast<double>(f) == w || !std::isfinite(f)) return f;  // exact, nan, overflow
  if (std::fabs(static_cast<double>(f)) > std::fabs(w)) f = std::nextafter(f, 0.0f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits |= 1u;
  std::memcpy(&f, &bits, 4);
  return f;
}

template <class D, class W>
D write_narrow(W w) {
  constexpr bool wide_is_int = std::is_same_v<W, int64_t>;
  if constexpr (std::is_same_v<D, Bool8>) {
    return Bool8{static_cast<uint8_t>(w != 0)};
  } else if constexpr (std::is_same_v<D, Half>) {
    return Half{float_to_half_bits(narrow_round_odd(static_cast<double>(w)))};
  } else if constexpr (std::is_same_v<D, BFloat16>) {
    return BFloat16{float_to_bf16_bits(narrow_round_odd(static_cast<double>(w)))};
  } else if constexpr (std::is_integral_v<D> && !wide_is_int) {
    return saturate_cast<D>(w);
  } else {
    return static_cast<D>(w);
  }
}

template <class F>
Status visit_type(DType dt, F&& f) {
  switch (dt) {
    case DType::kFloat32:
      return f(Tag<float>{});
    case DType::kFloat64:
      return f(Tag<double>{});
    case DType::kFloat16:
      return f(Tag<Half>{});
    case DType::kBFloat16:
      return f(Tag<BFloat16>{});
    case DType::kInt8:
      return f(Tag<int8_t>{});
    case DType::kUInt8:
      return f(Tag<uint8_t>{});
    case DType::kInt32:
      return f(Tag<int32_t>{});
    case DType::kInt64:
      return f(Tag<int64_t>{});
    case DType::kBool:
      return f(Tag<Bool8>{});
    default:
      return Unimplemented(std::string("Cast of dtype ") + dtype_name(dt));
  }
}

}  // namespace

Status Cast(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const int64_t to = attr_int(attrs, "to", static_cast<int64_t>(out[0].dtype));
  if (to != static_cast<int64_t>(out[0].dtype)) {
    return InvalidArgument("attribute 'to' is " + std::to_string(to) + " but output dtype is " +
                           dtype_name(out[0].dtype));
  }
  const int64_t n = in[0].numel();
  return visit_type(in[0].dtype, [&](auto src_tag) {
    using S = typename decltype(src_tag)::type;
    return visit_type(out[0].dtype, [&](auto dst_tag) {
      using D = typename decltype(dst_tag)::type;
      const S* p = in[0].as<const S>();
      D* q = out[0].as<D>();
      for (int64_t i = 0; i < n; ++i) q[i] = write_narrow<D>(read_wide(p[i]));
      return Status::Ok();
    });
  });
}

}  // namespace tessera::kernels::cpu
