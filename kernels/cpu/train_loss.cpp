// Loss and pointwise/normalisation gradients. Softmax cross-entropy keeps the softmax as a
// second output so its gradient is one pass over [N,C] instead of a recomputation. The
// mixed-dtype forms (16-bit logits, dlogits, dy, x, dx around f32; docs/ops.md) reach these
// kernels through run_cpu_kernel, which widens 16-bit operands to f32 exactly and rounds 16-bit
// outputs to nearest even afterwards: the result is bit for bit the Cast-compute-Cast graph's.
#include <cmath>

#include "cpu/train_kernels.h"
#include "cpu/train_util.h"

namespace tessera::kernels::cpu {
namespace {

Status check_labels(const TensorRef& labels, int64_t n, int64_t c) {
  TSR_RETURN_IF_ERROR(check_index_dtype(labels, "labels"));
  for (int64_t i = 0; i < n; ++i) {
    const int64_t l = load_index(labels, i);
    if (l < 0 || l >= c)
      return InvalidArgument("label " + std::to_string(l) + " at row " + std::to_string(i) +
                             " outside [0," + std::to_string(c) + ")");
  }
  return Status::Ok();
}

template <class T>
Status sce_loss(const TensorRef& x, const TensorRef& labels, const TensorRef& loss,
                const TensorRef& p, int64_t rows) {
  const int64_t n = x.shape[0], c = x.shape[1];
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    const T* row = x.as<const T>() + i * c;
    T* prow = p.as<T>() + i * c;
    double mx = row[0];
    for (int64_t j = 1; j < c; ++j) mx = std::max(mx, double(row[j]));
    double s = 0;
    for (int64_t j = 0; j < c; ++j) s += std::exp(double(row[j]) - mx);
    for (int64_t j = 0; j < c; ++j) prow[j] = T(std::exp(double(row[j]) - mx) / s);
    total += mx + std::log(s) - double(row[load_index(labels, i)]);
  }
  loss.as<T>()[0] = T(rows ? total / double(rows) : 0.0);
  return Status::Ok();
}

template <class T>
Status sce_grad(const TensorRef& dl, const TensorRef& p, const TensorRef& labels,
                const TensorRef& dx, int64_t rows) {
  const int64_t n = p.shape[0], c = p.shape[1];
  const double scale = rows ? double(dl.as<const T>()[0]) / double(rows) : 0.0;
  for (int64_t i = 0; i < n; ++i) {
    const T* prow = p.as<const T>() + i * c;
    T* drow = dx.as<T>() + i * c;
    const int64_t l = load_index(labels, i);
    for (int64_t j = 0; j < c; ++j) drow[j] = T(scale * (double(prow[j]) - (j == l ? 1.0 : 0.0)));
  }
  return Status::Ok();
}

template <class T>
double gelu_slope(double x, bool tanh_form) {
  if (!tanh_form) {
    const double cdf = 0.5 * (1 + std::erf(x / std::sqrt(2.0)));
    return cdf + x * std::exp(-0.5 * x * x) / std::sqrt(2 * M_PI);
  }
  const double k = std::sqrt(2 / M_PI), u = k * (x + 0.044715 * x * x * x), t = std::tanh(u);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x);
}

// Rows of d = prod(x.shape[axis:]) elements; dx, dscale, dbias in one pass per row.
template <class T>
Status layer_norm_grad(int64_t rows, int64_t d, double eps, const std::vector<TensorRef>& in,
                       const std::vector<TensorRef>& out) {
  const T* dy = in[0].as<const T>();
  const T* x = in[1].as<const T>();
  const T* sc = in[2].as<const T>();
  std::vector<double> ds(d, 0.0), db(d, 0.0), xh(d), g(d);
  for (int64_t r = 0; r < rows; ++r) {
    const T* xr = x + r * d;
    const T* dyr = dy + r * d;
    double mean = 0, var = 0;
    for (int64_t j = 0; j < d; ++j) mean += xr[j];
    mean /= double(d);
    for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
    const double rstd = 1.0 / std::sqrt(var / double(d) + eps);
    double mg = 0, mgx = 0;
    for (int64_t j = 0; j < d; ++j) {
      xh[j] = (xr[j] - mean) * rstd;
      g[j] = double(dyr[j]) * double(sc[j]);
      mg += g[j];
      mgx += g[j] * xh[j];
      ds[j] += double(dyr[j]) * xh[j];
      db[j] += dyr[j];
    }
    mg /= double(d);
    mgx /= double(d);
    T* dx = out[0].as<T>() + r * d;
    for (int64_t j = 0; j < d; ++j) dx[j] = T(rstd * (g[j] - mg - xh[j] * mgx));
  }
  for (int64_t j = 0; j < d; ++j) {
    out[1].as<T>()[j] = T(ds[j]);
    if (out.size() > 2 && out[2].present()) out[2].as<T>()[j] = T(db[j]);
  }
  return Status::Ok();
}

}  // namespace

// The mean divides by attribute `rows` when present: the global row count, so a rank holding a
// block of rows computes its share of the global mean (a partial sum the plan all-reduces).
Status SoftmaxCrossEntropyLoss(const AttrMap& a, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 2));
  if (in[0].shape.size() != 2)
    return InvalidArgument("logits must be [N,C], got " + shape_str(in[0].shape));
  TSR_RETURN_IF_ERROR(check_labels(in[1], in[0].shape[0], in[0].shape[1]));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {}, "loss"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[1], in[0].shape, "softmax"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "loss"));  // mixed forms arrive widened
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[1], "softmax"));
  return dispatch_float(in[0], "logits", [&](auto t) {
    return sce_loss<decltype(t)>(in[0], in[1], out[0], out[1], attr_int(a, "rows", in[0].shape[0]));
  });
}

Status SoftmaxCrossEntropyGrad(const AttrMap& a, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 1));
  if (in[1].shape.size() != 2)
    return InvalidArgument("softmax must be [N,C], got " + shape_str(in[1].shape));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "dloss"));
  TSR_RETURN_IF_ERROR(check_labels(in[2], in[1].shape[0], in[1].shape[1]));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape, "dlogits"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], out[0], "dlogits"));  // mixed forms arrive widened
  return dispatch_float(in[1], "softmax", [&](auto t) {
    return sce_grad<decltype(t)>(in[0], in[1], in[2], out[0], attr_int(a, "rows", in[1].shape[0]));
  });
}

Status ReluGrad(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape, "dx"));
  if (in[0].shape != in[1].shape)
    return InvalidArgument("dy " + shape_str(in[0].shape) + " vs x " + shape_str(in[1].shape));
  return dispatch_float(in[0], "dy", [&](auto t) {
    using T = decltype(t);
    for (int64_t i = 0, n = in[0].numel(); i < n; ++i)
      out[0].as<T>()[i] = in[1].as<const T>()[i] > T(0) ? in[0].as<const T>()[i] : T(0);
    return Status::Ok();
  });
}

Status GeluGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape, "dx"));
  if (in[0].shape != in[1].shape)
    return InvalidArgument("dy " + shape_str(in[0].shape) + " vs x " + shape_str(in[1].shape));
  const std::string approx = attr_str(attrs, "approximate", "none");
  if (approx != "none" && approx != "tanh")
    return InvalidArgument("approximate must be none or tanh, got " + approx);
  return dispatch_float(in[0], "dy", [&](auto t) {
    using T = decltype(t);
    for (int64_t i = 0, n = in[0].numel(); i < n; ++i)
      out[0].as<T>()[i] = T(double(in[0].as<const T>()[i]) *
                            gelu_slope<T>(in[1].as<const T>()[i], approx == "tanh"));
    return Status::Ok();
  });
}

Status layer_norm_grad_dims(const AttrMap& attrs, const Ins& in, const Ins& out, int64_t* rows,
                            int64_t* d) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 3));
  const Shape& x = in[1].shape;
  const int64_t axis = attr_int(attrs, "axis", -1);
  if (axis < 0 || axis >= int64_t(x.size()))
    return InvalidArgument("axis " + std::to_string(axis) + " out of range for " + shape_str(x));
  const Shape norm(x.begin() + axis, x.end());
  if (in[0].shape != x || in[2].shape != norm)
    return InvalidArgument("dy/scale do not match x " + shape_str(x));
  // dy, x and dx may be 16-bit around f32 scale (mixed-dtype form, docs/ops.md); run_cpu_kernel
  // widens them, the CUDA kernel reads and writes them as they are.
  TSR_RETURN_IF_ERROR(check_mixed_float({&in[0], &in[1], &in[2], &out[0]}, "dy, x, scale and dx"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[2], out[1], "dscale"));
  if (out.size() > 2 && out[2].present())
    TSR_RETURN_IF_ERROR(check_same_dtype(in[2], out[2], "dbias"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], x, "dx"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[1], norm, "dscale"));
  *d = num_elements(norm);
  *rows = *d ? in[1].numel() / *d : 0;
  return Status::Ok();
}

Status LayerNormalizationGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  int64_t rows = 0, d = 0;
  TSR_RETURN_IF_ERROR(layer_norm_grad_dims(attrs, in, out, &rows, &d));
  // One dtype here: run_cpu_kernel hands the mixed-dtype forms over widened to f32.
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "scale"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "dx"));
  const double eps = attr_float(attrs, "epsilon", 1e-5);
  return dispatch_float(
      in[0], "dy", [&](auto t) { return layer_norm_grad<decltype(t)>(rows, d, eps, in, out); });
}

}  // namespace tessera::kernels::cpu
