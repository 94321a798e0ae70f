// Reduce{Sum,Mean,Max,Min,Prod} over a sorted axes list, and CumSum. One pass over the input
// in memory order into an accumulator per output element (double for floats, int64 for ints).
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

enum class Red { kSum, kMean, kMax, kMin, kProd };

template <class T>
using AccT = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

template <class A>
A red_init(Red r) {
  switch (r) {
    case Red::kMax:
      return std::numeric_limits<A>::has_infinity ? -std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::lowest();
    case Red::kMin:
      return std::numeric_limits<A>::has_infinity ? std::numeric_limits<A>::infinity()
                                                  : std::numeric_limits<A>::max();
    case Red::kProd:
      return A(1);
    default:
      return A(0);
  }
}

template <class T, Red R>
void reduce_typed(const TensorRef& x, const Shape& keep, const TensorRef& y) {
  using A = AccT<T>;
  std::vector<A> acc(static_cast<size_t>(y.numel()), red_init<A>(R));
  std::vector<int64_t> sk;
  (void)broadcast_strides(keep, x.shape, &sk);  // keep broadcasts to x by construction
  const RowIter it = make_row_iter(x.shape, {sk, contiguous_strides(x.shape)});
  const T* px = x.as<const T>();
  for_each_row(it, [&](const int64_t* off, const int64_t* st, int64_t n) {
    A* a = acc.data() + off[0];
    const T* p = px + off[1];
    for (int64_t j = 0; j < n; ++j) {
      A& d = a[j * st[0]];
      const A v = static_cast<A>(p[j]);
      if constexpr (R == Red::kSum || R == Red::kMean) d += v;
      if constexpr (R == Red::kProd) d *= v;
      if constexpr (R == Red::kMax)
        d = (v > d || v != v) ? v : d;  // once NaN, comparisons fail: NaN sticks
      if constexpr (R == Red::kMin) d = (v < d || v != v) ? v : d;
    }
  });
  const int64_t count = y.numel() ? x.numel() / y.numel() : 0;
  T* py = y.as<T>();
  for (size_t i = 0; i < acc.size(); ++i) {
    A v = acc[i];
    if constexpr (R == Red::kMean) {
      if constexpr (std::is_floating_point_v<A>)
        v = count ? v / static_cast<A>(count) : NAN;
      else
        v = count ? v / count : 0;
    }
    py[i] = static_cast<T>(v);
  }
}

template <Red R>
Status reduce(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& xs = in[0].shape;
  std::vector<int64_t> axes = attr_ints(attrs, "axes");
  if (axes.empty() && attr_int(attrs, "noop_with_empty_axes", 0) != 0) {
    TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
    std::memmove(out[0].data, in[0].data, in[0].bytes());
    return Status::Ok();
  }
  if (axes.empty()) {
    for (size_t d = 0; d < xs.size(); ++d) axes.push_back(static_cast<int64_t>(d));
  }
  Shape keep = xs, dropped;
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] < 0 || axes[i] >= static_cast<int64_t>(xs.size()) ||
        (i && axes[i] <= axes[i - 1])) {
      return InvalidArgument("attribute 'axes' must be sorted, unique and in [0, rank)");
    }
    keep[axes[i]] = 1;
  }
  for (size_t d = 0, i = 0; d < xs.size(); ++d) {
    if (i < axes.size() && axes[i] == static_cast<int64_t>(d))
      ++i;
    else
      dropped.push_back(xs[d]);
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], attr_int(attrs, "keepdims", 1) ? keep : dropped));
  switch (in[0].dtype) {
    case DType::kFloat32:
      return reduce_typed<float, R>(in[0], keep, out[0]), Status::Ok();
    case DType::kFloat64:
      return reduce_typed<double, R>(in[0], keep, out[0]), Status::Ok();
    case DType::kInt32:
      return reduce_typed<int32_t, R>(in[0], keep, out[0]), Status::Ok();
    case DType::kInt64:
      return reduce_typed<int64_t, R>(in[0], keep, out[0]), Status::Ok();
    default:
      return unsupported_dtype(in[0], "input");
  }
}

template <class T>
void cumsum_typed(const TensorRef& x, const TensorRef& y, int64_t axis, bool excl, bool rev) {
  using A = AccT<T>;
  const Shape& s = x.shape;
  int64_t outer = 1, inner = 1;
  const int64_t n = s[axis];
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const T* px = x.as<const T>();
  T* py = y.as<T>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      A acc = 0;
      for (int64_t k = 0; k < n; ++k) {
        const int64_t j = rev ? n - 1 - k : k;
        const int64_t e = (o * n + j) * inner + i;
        const A v = static_cast<A>(px[e]);
        if (!excl) acc += v;
        py[e] = static_cast<T>(acc);
        if (excl) acc += v;
      }
    }
  }
}

}  // namespace

Status ReduceSum(const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kSum>(a, in, out);
}
Status ReduceMean(const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMean>(a, in, out);
}
Status ReduceMax(const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMax>(a, in, out);
}
Status ReduceMin(const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kMin>(a, in, out);
}
Status ReduceProd(const AttrMap& a, const Ins& in, const Ins& out) {
  return reduce<Red::kProd>(a, in, out);
}

Status CumSum(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const int64_t r = static_cast<int64_t>(in[0].shape.size());
  int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0) axis += r;
  if (axis < 0 || axis >= r)
    return InvalidArgument("attribute 'axis' out of range for rank " + std::to_string(r));
  const bool ex = attr_int(attrs, "exclusive", 0) != 0, rev = attr_int(attrs, "reverse", 0) != 0;
  switch (in[0].dtype) {
    case DType::kFloat32:
      return cumsum_typed<float>(in[0], out[0], axis, ex, rev), Status::Ok();
    case DType::kFloat64:
      return cumsum_typed<double>(in[0], out[0], axis, ex, rev), Status::Ok();
    case DType::kInt32:
      return cumsum_typed<int32_t>(in[0], out[0], axis, ex, rev), Status::Ok();
    case DType::kInt64:
      return cumsum_typed<int64_t>(in[0], out[0], axis, ex, rev), Status::Ok();
    default:
      return unsupported_dtype(in[0], "input");
  }
}

}  // namespace tessera::kernels::cpu
