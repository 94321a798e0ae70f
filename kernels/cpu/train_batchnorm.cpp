// BatchNormalization with batch statistics as five fused ops (docs/ops.md, "Training ops"):
// per-channel sums of x and x² (a reduction: partial sums when the batch or spatial dims are
// split), the elementwise normalisation from those sums, the running-statistics update, and
// the backward pair (per-channel sums of dy and dy·x̂, then the elementwise dx). x is viewed as
// [N, C, S] (S the product of the spatial dims); sums and per-channel vectors are [C]. The
// mixed-dtype forms (16-bit x, dy, y, dx around f32 statistics) reach these kernels widened by
// run_cpu_kernel; everything is computed in double.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "cpu/train_kernels.h"
#include "cpu/train_util.h"

namespace tessera::kernels::cpu {

namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kBFloat16 ||
         t == DType::kFloat16;
}

Status check_channel(const TensorRef& t, int64_t c, DType want, const char* what) {
  if (t.shape != Shape{c} || t.dtype != want)
    return InvalidArgument(std::string(what) + " must be " + dtype_name(want) + " [" +
                           std::to_string(c) + "], got " + dtype_name(t.dtype) + " " +
                           shape_str(t.shape));
  return Status::Ok();
}

}  // namespace

DType batch_norm_stat_dtype(DType x) {
  return x == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32;
}

Status batch_norm_dims(std::string_view op, const AttrMap& attrs, const std::vector<TensorRef>& in,
                       const std::vector<TensorRef>& out, BatchNormDims* d) {
  // Operand layout per op: [dy,] x, then per-channel vectors; outputs [C] or x-shaped.
  size_t nin = 0, nout = 0, xi = 0;
  bool x_out = false;
  if (op == "BatchNormStats") nin = 1, nout = 2;
  if (op == "BatchNormApply") nin = 5, nout = 1, x_out = true;
  if (op == "BatchNormRunningUpdate") nin = 4, nout = 2;
  if (op == "BatchNormGradStats") nin = 4, nout = 2, xi = 1;
  if (op == "BatchNormGradInput") nin = 7, nout = 1, xi = 1, x_out = true;
  if (nin == 0) return InvalidArgument("not a BatchNorm training op: " + std::string(op));
  TSR_RETURN_IF_ERROR(check_arity(in, out, nin, nin, nout));
  d->count = attr_float(attrs, "count", 0);
  d->eps = attr_float(attrs, "epsilon", 1e-5);
  d->momentum = attr_float(attrs, "momentum", 0.9);
  if (op != "BatchNormStats" && !(d->count > 0))
    return InvalidArgument("attribute 'count' must be positive, got " + std::to_string(d->count));
  if (op == "BatchNormRunningUpdate") {
    const TensorRef& rm = in[0];
    if (rm.shape.size() != 1 || !is_float(rm.dtype))
      return InvalidArgument("running mean must be a float vector, got " + shape_str(rm.shape));
    d->c = rm.shape[0];
    d->n = d->s = 1;
    TSR_RETURN_IF_ERROR(check_channel(in[1], d->c, rm.dtype, "running variance"));
    TSR_RETURN_IF_ERROR(check_channel(in[3], d->c, in[2].dtype, "sum of squares"));
    if (!is_float(in[2].dtype) || in[2].shape != rm.shape)
      return InvalidArgument("sum must be a float [C] vector, got " + shape_str(in[2].shape));
    TSR_RETURN_IF_ERROR(check_out_shape(out[0], rm.shape, "running mean'"));
    TSR_RETURN_IF_ERROR(check_out_shape(out[1], rm.shape, "running variance'"));
    TSR_RETURN_IF_ERROR(check_same_dtype(rm, out[0], "running mean'"));
    return check_same_dtype(rm, out[1], "running variance'");
  }
  const TensorRef& x = in[xi];
  if (!is_float(x.dtype)) return unsupported_dtype(x, "x");
  if (x.shape.size() < 2) return InvalidArgument("x " + shape_str(x.shape) + " has no channel dim");
  d->n = x.shape[0];
  d->c = x.shape[1];
  d->s = 1;
  for (size_t k = 2; k < x.shape.size(); ++k) d->s *= x.shape[k];
  if (xi == 1) {
    if (in[0].shape != x.shape) return InvalidArgument("dy and x shapes differ");
    TSR_RETURN_IF_ERROR(check_same_dtype(x, in[0], "dy"));
  }
  const DType sd = batch_norm_stat_dtype(x.dtype);
  for (size_t i = xi + 1; i < nin; ++i)
    TSR_RETURN_IF_ERROR(check_channel(in[i], d->c, sd, "per-channel input"));
  for (size_t i = 0; i < nout; ++i) {
    if (x_out) {
      TSR_RETURN_IF_ERROR(check_out_shape(out[i], x.shape));
      TSR_RETURN_IF_ERROR(check_same_dtype(x, out[i], "output"));
    } else {
      TSR_RETURN_IF_ERROR(check_channel(out[i], d->c, sd, "per-channel output"));
    }
  }
  return Status::Ok();
}

namespace {

// mean and 1/sqrt(var + eps) of channel c from the sums (biased variance, clamped at 0).
template <class S>
void channel_norm(const S* sum, const S* sumsq, int64_t c, const BatchNormDims& d, double* mean,
                  double* inv) {
  *mean = double(sum[c]) / d.count;
  const double var = std::max(0.0, double(sumsq[c]) / d.count - *mean * *mean);
  *inv = 1.0 / std::sqrt(var + d.eps);
}

template <class T>
Status stats(const BatchNormDims& d, const Ins& in, const Ins& out) {
  const T* x = in[0].as<const T>();
  for (int64_t c = 0; c < d.c; ++c) {
    double s = 0, ss = 0;
    for (int64_t i = 0; i < d.n; ++i) {
      const T* row = x + (i * d.c + c) * d.s;
      for (int64_t k = 0; k < d.s; ++k) s += double(row[k]), ss += double(row[k]) * double(row[k]);
    }
    out[0].as<T>()[c] = T(s);
    out[1].as<T>()[c] = T(ss);
  }
  return Status::Ok();
}

template <class T>
Status apply(const BatchNormDims& d, const Ins& in, const Ins& out) {
  const T* x = in[0].as<const T>();
  T* y = out[0].as<T>();
  for (int64_t c = 0; c < d.c; ++c) {
    double mean, inv;
    channel_norm(in[1].as<const T>(), in[2].as<const T>(), c, d, &mean, &inv);
    const double a = inv * double(in[3].as<const T>()[c]), b = double(in[4].as<const T>()[c]);
    for (int64_t i = 0; i < d.n; ++i) {
      const int64_t o = (i * d.c + c) * d.s;
      for (int64_t k = 0; k < d.s; ++k) y[o + k] = T((double(x[o + k]) - mean) * a + b);
    }
  }
  return Status::Ok();
}

template <class T>
Status running_update(const BatchNormDims& d, const Ins& in, const Ins& out) {
  const double m = d.momentum, n = d.count, unbias = n > 1 ? n / (n - 1) : 1.0;
  for (int64_t c = 0; c < d.c; ++c) {
    const double mean = double(in[2].as<const T>()[c]) / n;
    const double var = std::max(0.0, double(in[3].as<const T>()[c]) / n - mean * mean);
    out[0].as<T>()[c] = T(double(in[0].as<const T>()[c]) * m + mean * (1 - m));
    out[1].as<T>()[c] = T(double(in[1].as<const T>()[c]) * m + var * unbias * (1 - m));
  }
  return Status::Ok();
}

template <class T>
Status grad_stats(const BatchNormDims& d, const Ins& in, const Ins& out) {
  const T* dy = in[0].as<const T>();
  const T* x = in[1].as<const T>();
  for (int64_t c = 0; c < d.c; ++c) {
    double mean, inv, s = 0, sx = 0;
    channel_norm(in[2].as<const T>(), in[3].as<const T>(), c, d, &mean, &inv);
    for (int64_t i = 0; i < d.n; ++i) {
      const int64_t o = (i * d.c + c) * d.s;
      for (int64_t k = 0; k < d.s; ++k) {
        s += double(dy[o + k]);
        sx += double(dy[o + k]) * (double(x[o + k]) - mean) * inv;
      }
    }
    out[0].as<T>()[c] = T(s);
    out[1].as<T>()[c] = T(sx);
  }
  return Status::Ok();
}

// dx = scale·inv/n · (n·dy − Σdy − x̂·Σ(dy·x̂)), n the global count.
template <class T>
Status grad_input(const BatchNormDims& d, const Ins& in, const Ins& out) {
  const T* dy = in[0].as<const T>();
  const T* x = in[1].as<const T>();
  T* dx = out[0].as<T>();
  for (int64_t c = 0; c < d.c; ++c) {
    double mean, inv;
    channel_norm(in[2].as<const T>(), in[3].as<const T>(), c, d, &mean, &inv);
    const double k = double(in[4].as<const T>()[c]) * inv / d.count;
    const double sdy = double(in[5].as<const T>()[c]), sdyx = double(in[6].as<const T>()[c]);
    for (int64_t i = 0; i < d.n; ++i) {
      const int64_t o = (i * d.c + c) * d.s;
      for (int64_t j = 0; j < d.s; ++j) {
        const double xh = (double(x[o + j]) - mean) * inv;
        dx[o + j] = T(k * (d.count * double(dy[o + j]) - sdy - xh * sdyx));
      }
    }
  }
  return Status::Ok();
}

// One dtype for every operand: run_cpu_kernel hands 16-bit x/dy/y/dx over widened to f32.
template <Status (*F32)(const BatchNormDims&, const Ins&, const Ins&),
          Status (*F64)(const BatchNormDims&, const Ins&, const Ins&)>
Status run(std::string_view op, const AttrMap& attrs, const Ins& in, const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(batch_norm_dims(op, attrs, in, out, &d));
  for (const TensorRef& t : in) TSR_RETURN_IF_ERROR(check_same_dtype(in[0], t, "operand"));
  for (const TensorRef& t : out) TSR_RETURN_IF_ERROR(check_same_dtype(in[0], t, "result"));
  return dispatch_float(in[0], "x", [&](auto t) {
    return std::is_same_v<decltype(t), float> ? F32(d, in, out) : F64(d, in, out);
  });
}

}  // namespace

Status BatchNormStats(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<stats<float>, stats<double>>("BatchNormStats", a, in, out);
}
Status BatchNormApply(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<apply<float>, apply<double>>("BatchNormApply", a, in, out);
}
Status BatchNormRunningUpdate(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<running_update<float>, running_update<double>>("BatchNormRunningUpdate", a, in, out);
}
Status BatchNormGradStats(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<grad_stats<float>, grad_stats<double>>("BatchNormGradStats", a, in, out);
}
Status BatchNormGradInput(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<grad_input<float>, grad_input<double>>("BatchNormGradInput", a, in, out);
}

}  // namespace tessera::kernels::cpu
