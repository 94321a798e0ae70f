// Optimizer steps, one weight per call. Outputs are the new weight and state; the runtime may
// alias each with its input (every element is read before it is written, index by index).
#include <cmath>

#include "cpu/train_util.h"

namespace tessera::kernels::cpu {
namespace {

struct AdamHyper {
  double lr, b1, b2, eps, wd;
  int64_t step;
};

// Decoupled decay (Loshchilov & Hutter): w -= lr*wd*w, then the bias-corrected Adam step.
template <class T>
Status adamw(const AdamHyper& h, const Ins& in, const Ins& out) {
  const double c1 = 1 - std::pow(h.b1, double(h.step)), c2 = 1 - std::pow(h.b2, double(h.step));
  const T *w = in[0].as<const T>(), *g = in[1].as<const T>(), *m = in[2].as<const T>(),
          *v = in[3].as<const T>();
  T *wo = out[0].as<T>(), *mo = out[1].as<T>(), *vo = out[2].as<T>();
  for (int64_t i = 0, n = in[0].numel(); i < n; ++i) {
    const double gi = g[i];
    const double mi = h.b1 * m[i] + (1 - h.b1) * gi;
    const double vi = h.b2 * v[i] + (1 - h.b2) * gi * gi;
    const double wi = double(w[i]) * (1 - h.lr * h.wd);
    wo[i] = T(wi - h.lr * (mi / c1) / (std::sqrt(vi / c2) + h.eps));
    mo[i] = T(mi);
    vo[i] = T(vi);
  }
  return Status::Ok();
}

// PyTorch's SGD: g += wd*w; buf = momentum*buf + g; w -= lr*buf (buf absent: w -= lr*g).
template <class T>
Status sgd(double lr, double mom, double wd, const Ins& in, const Ins& out) {
  const bool has_buf = in.size() > 2 && in[2].present();
  const T *w = in[0].as<const T>(), *g = in[1].as<const T>();
  for (int64_t i = 0, n = in[0].numel(); i < n; ++i) {
    double d = double(g[i]) + wd * double(w[i]);
    if (has_buf) {
      d = mom * double(in[2].as<const T>()[i]) + d;
      out[1].as<T>()[i] = T(d);
    }
    out[0].as<T>()[i] = T(double(w[i]) - lr * d);
  }
  return Status::Ok();
}

Status same_as_weight(const Ins& in, size_t first, size_t last) {
  for (size_t i = first; i < last && i < in.size(); ++i) {
    if (!in[i].present()) continue;
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], "optimizer operand"));
    if (in[i].shape != in[0].shape)
      return InvalidArgument("operand " + std::to_string(i) + " " + shape_str(in[i].shape) +
                             " vs weight " + shape_str(in[0].shape));
  }
  return Status::Ok();
}

}  // namespace

Status AdamW(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 5, 5, 3));
  TSR_RETURN_IF_ERROR(same_as_weight(in, 1, 4));
  TSR_RETURN_IF_ERROR(same_as_weight(out, 0, 3));
  TSR_RETURN_IF_ERROR(check_dtype(in[4], DType::kInt64, "step"));
  if (in[4].numel() != 1)
    return InvalidArgument("step must be a scalar, got " + shape_str(in[4].shape));
  if (out[0].shape != in[0].shape) return InvalidArgument("output shape differs from the weight's");
  AdamHyper h{attr_float(attrs, "lr", 1e-3),           attr_float(attrs, "beta1", 0.9),
              attr_float(attrs, "beta2", 0.999),       attr_float(attrs, "eps", 1e-8),
              attr_float(attrs, "weight_decay", 0.01), in[4].as<const int64_t>()[0]};
  if (h.step < 1)
    return InvalidArgument("step " + std::to_string(h.step) +
                           " must be >= 1 (the incremented counter)");
  return dispatch_float(in[0], "weight", [&](auto t) { return adamw<decltype(t)>(h, in, out); });
}

Status SGD(const AttrMap& attrs, const Ins& in, const Ins& out) {
  const bool has_buf = in.size() > 2 && in[2].present();
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, has_buf ? 2 : 1));
  TSR_RETURN_IF_ERROR(same_as_weight(in, 1, 3));
  TSR_RETURN_IF_ERROR(same_as_weight(out, 0, out.size()));
  if (out[0].shape != in[0].shape) return InvalidArgument("output shape differs from the weight's");
  const double lr = attr_float(attrs, "lr", 1e-2), mom = attr_float(attrs, "momentum", 0.0),
               wd = attr_float(attrs, "weight_decay", 0.0);
  return dispatch_float(in[0], "weight",
                        [&](auto t) { return sgd<decltype(t)>(lr, mom, wd, in, out); });
}

}  // namespace tessera::kernels::cpu
