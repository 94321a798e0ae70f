// Softmax, LogSoftmax and the normalisations (inference forms). Statistics in double with a
// two-pass mean/variance, which costs one extra read of each group and avoids cancellation.
#include <cmath>
#include <limits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

Status norm_axis(const AttrMap& attrs, const Shape& s, int64_t dflt, int64_t* axis) {
  const int64_t r = static_cast<int64_t>(s.size());
  int64_t a = attr_int(attrs, "axis", dflt);
  if (a < 0) a += r;
  if (a < 0 || a >= std::max<int64_t>(r, 1)) {
    return InvalidArgument("attribute 'axis' " + std::to_string(attr_int(attrs, "axis", dflt)) +
                           " out of range for rank " + std::to_string(r));
  }
  *axis = a;
  return Status::Ok();
}

template <class F>
Status dispatch_float(const TensorRef& t, F&& f) {
  if (t.dtype == DType::kFloat32) return f(float{});
  if (t.dtype == DType::kFloat64) return f(double{});
  return unsupported_dtype(t, "X");
}

template <class T>
void softmax_typed(const TensorRef& x, const TensorRef& y, int64_t axis, bool log) {
  const Shape& s = x.shape;
  const int64_t n = s.empty() ? 1 : s[axis];
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  const T* px = x.as<const T>();
  T* py = y.as<T>();
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* a = px + o * n * inner + i;
      T* b = py + o * n * inner + i;
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) mx = std::max(mx, static_cast<double>(a[j * inner]));
      double sum = 0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(a[j * inner] - mx);
      const double lse = mx + std::log(sum);
      for (int64_t j = 0; j < n; ++j) {
        const double v = a[j * inner];
        b[j * inner] = static_cast<T>(log ? v - lse : std::exp(v - lse));
      }
    }
  }
}

Status softmax(const AttrMap& attrs, const Ins& in, const Ins& out, bool log) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  int64_t axis;
  TSR_RETURN_IF_ERROR(norm_axis(attrs, in[0].shape, -1, &axis));
  return dispatch_float(in[0], [&](auto tag) {
    softmax_typed<decltype(tag)>(in[0], out[0], axis, log);
    return Status::Ok();
  });
}

// Mean and 1/sqrt(var + eps) of n values with stride 1.
template <class T>
void moments(const T* p, int64_t n, double eps, double* mean, double* inv_std) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += p[i];
  const double m = n ? s / static_cast<double>(n) : 0.0;
  double v = 0;
  for (int64_t i = 0; i < n; ++i) v += (p[i] - m) * (p[i] - m);
  *mean = m;
  *inv_std = 1.0 / std::sqrt((n ? v / static_cast<double>(n) : 0.0) + eps);
}

// Expands a scale/bias tensor broadcast (unidirectionally) to `target` into doubles.
template <class T>
Status expand_param(const TensorRef& t, const Shape& target, double dflt, std::vector<double>* v) {
  v->assign(static_cast<size_t>(num_elements(target)), dflt);
  if (!t.present()) return Status::Ok();
  std::vector<int64_t> st;
  TSR_RETURN_IF_ERROR(broadcast_strides(t.shape, target, &st));
  const RowIter it = make_row_iter(target, {st, contiguous_strides(target)});
  const T* p = t.as<const T>();
  for_each_row(it, [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) (*v)[off[1] + j] = p[off[0] + j * step[0]];
  });
  return Status::Ok();
}

}  // namespace

Status Softmax(const AttrMap& attrs, const Ins& in, const Ins& out) {
  return softmax(attrs, in, out, false);
}
Status LogSoftmax(const AttrMap& attrs, const Ins& in, const Ins& out) {
  return softmax(attrs, in, out, true);
}

Status BatchNormalization(const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (out.size() != 1) return Unimplemented("only the inference form (one output) is supported");
  TSR_RETURN_IF_ERROR(check_arity(in, out, 5, 5, 1));
  const Shape& xs = in[0].shape;
  if (xs.size() < 2) return InvalidArgument("X must have rank >= 2, got " + shape_str(xs));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const int64_t C = xs[1];
  const char* names[] = {"", "scale", "B", "mean", "var"};
  for (int i = 1; i < 5; ++i) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], names[i]));
    if (in[i].shape != Shape{C}) {
      return InvalidArgument(std::string(names[i]) + " must have shape " + std::to_string(C) +
                             ", got " + shape_str(in[i].shape));
    }
  }
  const double eps = attr_float(attrs, "epsilon", 1e-5);
  const int64_t N = xs[0], sp = C ? in[0].numel() / std::max<int64_t>(N * C, 1) : 0;
  return dispatch_float(in[0], [&](auto tag) {
    using T = decltype(tag);
    const T *x = in[0].as<const T>(), *sc = in[1].as<const T>(), *b = in[2].as<const T>();
    const T *mu = in[3].as<const T>(), *var = in[4].as<const T>();
    T* y = out[0].as<T>();
    for (int64_t c = 0; c < C; ++c) {
      const double k = sc[c] / std::sqrt(static_cast<double>(var[c]) + eps);
      const double o = b[c] - mu[c] * k;
      for (int64_t n = 0; n < N; ++n) {
        const int64_t base = (n * C + c) * sp;
        for (int64_t i = 0; i < sp; ++i) y[base + i] = static_cast<T>(x[base + i] * k + o);
      }
    }
    return Status::Ok();
  });
}

Status LayerNormalization(const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (out.size() != 1) return Unimplemented("only the Y output is supported");
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape& xs = in[0].shape;
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "scale"));
  if (in.size() > 2 && in[2].present()) TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "B"));
  int64_t axis;
  TSR_RETURN_IF_ERROR(norm_axis(attrs, xs, -1, &axis));
  const double eps = attr_float(attrs, "epsilon", 1e-5);
  const Shape norm_shape(xs.begin() + axis, xs.end());
  const int64_t n = num_elements(norm_shape), rows = n ? in[0].numel() / n : 0;
  return dispatch_float(in[0], [&](auto tag) {
    using T = decltype(tag);
    std::vector<double> sc, bs;
    TSR_RETURN_IF_ERROR(expand_param<T>(in[1], norm_shape, 1.0, &sc));
    TSR_RETURN_IF_ERROR(expand_param<T>(in.size() > 2 ? in[2] : TensorRef{}, norm_shape, 0.0, &bs));
    const T* x = in[0].as<const T>();
    T* y = out[0].as<T>();
    for (int64_t r = 0; r < rows; ++r) {
      double m, is;
      moments(x + r * n, n, eps, &m, &is);
      for (int64_t i = 0; i < n; ++i) {
        y[r * n + i] = static_cast<T>((x[r * n + i] - m) * is * sc[i] + bs[i]);
      }
    }
    return Status::Ok();
  });
}

Status GroupNormalization(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 1));
  const Shape& xs = in[0].shape;
  if (xs.size() < 2) return InvalidArgument("X must have rank >= 2, got " + shape_str(xs));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "scale"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "bias"));
  const int64_t N = xs[0], C = xs[1], G = attr_int(attrs, "num_groups", 0);
  if (G < 1 || C % G != 0) {
    return InvalidArgument("num_groups " + std::to_string(G) + " must divide channels " +
                           std::to_string(C));
  }
  // opset 21 gives scale/bias per channel, opset 18 per group; accept both.
  const int64_t ns = in[1].numel();
  if ((ns != C && ns != G) || in[2].numel() != ns) {
    return InvalidArgument("scale and bias must have C or num_groups elements");
  }
  const double eps = attr_float(attrs, "epsilon", 1e-5);
  const int64_t Cg = C / G, sp = C ? in[0].numel() / std::max<int64_t>(N * C, 1) : 0;
  return dispatch_float(in[0], [&](auto tag) {
    using T = decltype(tag);
    const T *x = in[0].as<const T>(), *sc = in[1].as<const T>(), *b = in[2].as<const T>();
    T* y = out[0].as<T>();
    for (int64_t n = 0; n < N; ++n) {
      for (int64_t g = 0; g < G; ++g) {
        const int64_t base = (n * C + g * Cg) * sp;
        double m, is;
        moments(x + base, Cg * sp, eps, &m, &is);
        for (int64_t c = 0; c < Cg; ++c) {
          const int64_t pi = ns == C ? g * Cg + c : g;
          const double k = is * sc[pi], o = b[pi] - m * k;
          for (int64_t i = 0; i < sp; ++i) {
            const int64_t e = base + c * sp + i;
            y[e] = static_cast<T>(x[e] * k + o);
          }
        }
      }
    }
    return Status::Ok();
  });
}

}  // namespace tessera::kernels::cpu
