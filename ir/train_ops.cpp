// Shape and dtype inference for the training ops (docs/ops.md, "Training ops"): the few ops the
// autodiff pass emits where no canonical forward op expresses a gradient or an optimizer step
// compactly. Kept apart from op_table.cpp so the forward table stays the ONNX surface; find_op
// consults both. Sorted by name.
#include "ir/train_ops.h"
#include "ir/shape_fns.h"

namespace tessera::ir {
namespace {

using fns::fail;
using fns::In;
using fns::Out;
using fns::shp;

Status need_float(const In& in, size_t i, const char* what) {
  if (!dtype_is_float(in[i].first))
    return fail("{} must be float, got {}", what, dtype_name(in[i].first));
  return Status::Ok();
}
Status need_index(const In& in, size_t i, const char* what) {
  const DType t = in[i].first;
  if (t != DType::kInt64 && t != DType::kInt32)
    return fail("{} must be int32/int64, got {}", what, dtype_name(t));
  return Status::Ok();
}
Status same_shape(const In& in, size_t a, size_t b) {
  if (in[a].second != in[b].second || in[a].first != in[b].first)
    return fail("input {} ({} {}) and input {} ({} {}) must match", a, dtype_name(in[a].first),
                shp(in[a].second), b, dtype_name(in[b].first), shp(in[b].second));
  return Status::Ok();
}
// Shape given by an attribute (the forward input's shape, recorded when the grad was built).
Status attr_shape(const Node& n, const char* key, Shape* s) {
  if (!attr_has(n.attrs, key)) return fail("missing attribute '{}'", key);
  *s = attr_ints(n.attrs, key);
  for (int64_t d : *s) {
    if (d < 0) return fail("attribute '{}' {} has a negative dim", key, shp(*s));
  }
  return Status::Ok();
}

// BatchNorm training ops (x viewed as [N, C, ...]); per-channel vectors are [C] of the
// statistics' dtype: f64 for f64 x, else f32 (16-bit x keeps f32 sums and parameters).
DType bn_stat_dtype(DType x) { return x == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32; }
Status bn_x(const In& in, size_t i, int64_t* c) {
  TSR_RETURN_IF_ERROR(need_float(in, i, "x"));
  if (in[i].second.size() < 2) return fail("x {} has no channel dim", shp(in[i].second));
  *c = in[i].second[1];
  return Status::Ok();
}
Status bn_channel(const In& in, size_t i, int64_t c, DType t) {
  if (in[i].first != t || in[i].second != Shape{c})
    return fail("input {} must be {} [{}], got {} {}", i, dtype_name(t), c, dtype_name(in[i].first),
                shp(in[i].second));
  return Status::Ok();
}
Status bn_count(const Node& n) {
  if (!(attr_float(n.attrs, "count", 0) > 0)) return fail("attribute 'count' must be positive");
  return Status::Ok();
}

// x -> (sum [C], sum of squares [C])
Status bn_stats(const Node&, const In& in, Out& out) {
  int64_t c = 0;
  TSR_RETURN_IF_ERROR(bn_x(in, 0, &c));
  out[0] = out[1] = {bn_stat_dtype(in[0].first), {c}};
  return Status::Ok();
}

// (x, sum, sumsq, scale, bias) -> y; (dy, x, sum, sumsq, scale, sum_dy, sum_dy_xhat) -> dx
Status bn_apply(const Node& n, const In& in, Out& out) {
  const size_t xi = in.size() == 7 ? 1 : 0;
  int64_t c = 0;
  TSR_RETURN_IF_ERROR(bn_x(in, xi, &c));
  TSR_RETURN_IF_ERROR(bn_count(n));
  if (xi == 1) TSR_RETURN_IF_ERROR(same_shape(in, 0, 1));
  for (size_t i = xi + 1; i < in.size(); ++i)
    TSR_RETURN_IF_ERROR(bn_channel(in, i, c, bn_stat_dtype(in[xi].first)));
  out[0] = in[xi];
  return Status::Ok();
}

// (dy, x, sum, sumsq) -> (sum of dy [C], sum of dy * xhat [C])
Status bn_grad_stats(const Node& n, const In& in, Out& out) {
  int64_t c = 0;
  TSR_RETURN_IF_ERROR(bn_x(in, 1, &c));
  TSR_RETURN_IF_ERROR(bn_count(n));
  TSR_RETURN_IF_ERROR(same_shape(in, 0, 1));
  const DType t = bn_stat_dtype(in[1].first);
  for (size_t i = 2; i < 4; ++i) TSR_RETURN_IF_ERROR(bn_channel(in, i, c, t));
  out[0] = out[1] = {t, {c}};
  return Status::Ok();
}

// (running mean, running var, sum, sumsq) -> (running mean', running var')
Status bn_running_update(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "running mean"));
  TSR_RETURN_IF_ERROR(need_float(in, 2, "sum"));
  TSR_RETURN_IF_ERROR(bn_count(n));
  if (in[0].second.size() != 1) return fail("running mean {} is not a vector", shp(in[0].second));
  TSR_RETURN_IF_ERROR(same_shape(in, 0, 1));
  TSR_RETURN_IF_ERROR(bn_channel(in, 2, in[0].second[0], in[2].first));
  TSR_RETURN_IF_ERROR(bn_channel(in, 3, in[0].second[0], in[2].first));
  out[0] = in[0];
  out[1] = in[1];
  return Status::Ok();
}

// (logits [N,C], labels [N]) -> (loss [], softmax [N,C])
Status sce_loss(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "logits"));
  TSR_RETURN_IF_ERROR(need_index(in, 1, "labels"));
  const Shape& x = in[0].second;
  if (x.size() != 2 || in[1].second != Shape{x[0]})
    return fail("logits {} must be [N,C] and labels {} [N]", shp(x), shp(in[1].second));
  TSR_ASSIGN_OR_RETURN(DType t, fns::activation_out_dtype(n, in, {0}, 0));
  out[0] = {t, {}};
  out[1] = {t, x};
  return Status::Ok();
}

// (dloss [], softmax [N,C], labels [N]) -> dlogits [N,C]
Status sce_grad(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 1, "softmax"));
  TSR_RETURN_IF_ERROR(need_index(in, 2, "labels"));
  if (!in[0].second.empty() || in[0].first != in[1].first)
    return fail("dloss must be a scalar of the softmax's dtype, got {} {}", dtype_name(in[0].first),
                shp(in[0].second));
  const Shape& p = in[1].second;
  if (p.size() != 2 || in[2].second != Shape{p[0]})
    return fail("softmax {} must be [N,C] and labels {} [N]", shp(p), shp(in[2].second));
  TSR_ASSIGN_OR_RETURN(DType t, fns::activation_out_dtype(n, in, {1}, 1));
  out[0] = {t, p};
  return Status::Ok();
}

// (dy, x) -> dx, all one shape: ReluGrad, GeluGrad, MaxPoolGrad's shape is x's instead.
Status elementwise_grad(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  TSR_RETURN_IF_ERROR(same_shape(in, 0, 1));
  out[0] = in[1];
  return Status::Ok();
}

// (dy, x, scale) -> (dx, dscale, dbias)
// dy and x may differ in dtype (mixed-dtype forms: f32 and one 16-bit kind); dx is x's dtype
// unless attribute out_dtype says otherwise.
Status layer_norm_grad(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  TSR_RETURN_IF_ERROR(need_float(in, 1, "x"));
  if (in[0].second != in[1].second)
    return fail("dy {} and x {} must have one shape", shp(in[0].second), shp(in[1].second));
  TSR_ASSIGN_OR_RETURN(DType dx, fns::activation_out_dtype(n, in, {0, 1}, 1));
  const Shape& x = in[1].second;
  const int64_t axis = attr_int(n.attrs, "axis", -1);
  if (axis < 0 || axis >= static_cast<int64_t>(x.size()))
    return fail("axis {} out of range for {}", axis, shp(x));
  const Shape norm(x.begin() + axis, x.end());
  if (in[2].second != norm)
    return fail("scale {} must be the normalised dims {} of {}", shp(in[2].second), shp(norm),
                shp(x));
  out[0] = {dx, x};
  out[1] = in[2];
  if (out.size() > 2) out[2] = in[2];
  return Status::Ok();
}

// (dy, x) -> dw of shape attr w_shape
Status conv_grad_weight(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  const Shape& dy = in[0].second;
  const Shape& x = in[1].second;
  Shape w;
  TSR_RETURN_IF_ERROR(attr_shape(n, "w_shape", &w));
  if (dy.size() != x.size() || w.size() != x.size() || x.size() < 3 || dy[0] != x[0] ||
      w[0] != dy[1])
    return fail("dy {}, x {} and w_shape {} disagree", shp(dy), shp(x), shp(w));
  out[0] = {in[0].first, w};
  return Status::Ok();
}

// (dy, x) -> dx
Status max_pool_grad(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  const Shape& dy = in[0].second;
  const Shape& x = in[1].second;
  if (dy.size() != x.size() || x.size() < 3 || dy[0] != x[0] || dy[1] != x[1])
    return fail("dy {} does not match input {}", shp(dy), shp(x));
  out[0] = in[1];
  return Status::Ok();
}

// (dy) -> dx of shape attr x_shape
Status avg_pool_grad(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  Shape x;
  TSR_RETURN_IF_ERROR(attr_shape(n, "x_shape", &x));
  const Shape& dy = in[0].second;
  if (dy.size() != x.size() || x.size() < 3 || dy[0] != x[0] || dy[1] != x[1])
    return fail("dy {} does not match x_shape {}", shp(dy), shp(x));
  out[0] = {in[0].first, x};
  return Status::Ok();
}

// (dy, indices) -> ddata of shape attr data_shape (Gather and GatherElements)
Status gather_grad(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "dy"));
  TSR_RETURN_IF_ERROR(need_index(in, 1, "indices"));
  Shape d;
  TSR_RETURN_IF_ERROR(attr_shape(n, "data_shape", &d));
  const int64_t axis = attr_int(n.attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(d.size()))
    return fail("axis {} out of range for data_shape {}", axis, shp(d));
  out[0] = {in[0].first, d};
  return Status::Ok();
}

// (x[, step, pos_0..pos_{r-1}]) -> (y[, mask]): training-mode Dropout. The frontend emits it
// with x alone; the autodiff stage adds the step counter and the position vectors.
Status dropout(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "x"));
  const double ratio = attr_float(n.attrs, "ratio", 0.5);
  if (!(ratio >= 0 && ratio < 1)) return fail("ratio {} outside [0, 1)", ratio);
  const Shape& x = in[0].second;
  if (in.size() > 1 && (in[1].first != DType::kInt64 || !in[1].second.empty()))
    return fail("step must be an i64 scalar, got {} {}", dtype_name(in[1].first),
                shp(in[1].second));
  if (in.size() > 2 && in.size() != x.size() + 2)
    return fail("{} position inputs for rank-{} x", in.size() - 2, x.size());
  for (size_t d = 0; d + 2 < in.size(); ++d) {
    if (in[d + 2].first != DType::kInt64 || in[d + 2].second != Shape{x[d]})
      return fail("position input {} must be i64 [{}], got {} {}", d, x[d],
                  dtype_name(in[d + 2].first), shp(in[d + 2].second));
  }
  if (out.empty() || out.size() > 2)
    return fail("{} outputs, want y and an optional mask", out.size());
  out[0] = in[0];
  if (out.size() > 1) out[1] = {DType::kBool, x};
  return Status::Ok();
}

// (w, g, m, v, step) -> (w', m', v')
Status adamw(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "weight"));
  for (size_t i = 1; i < 4; ++i) TSR_RETURN_IF_ERROR(same_shape(in, 0, i));
  if (!in[4].second.empty() || in[4].first != DType::kInt64)
    return fail("step must be an i64 scalar, got {} {}", dtype_name(in[4].first),
                shp(in[4].second));
  for (size_t i = 0; i < 3; ++i) out[i] = in[0];
  return Status::Ok();
}

// (w, g, [momentum buffer]) -> (w', [buffer'])
Status sgd(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need_float(in, 0, "weight"));
  TSR_RETURN_IF_ERROR(same_shape(in, 0, 1));
  const bool buf = in.size() > 2 && in[2].first != DType::kUndefined;
  if (buf) TSR_RETURN_IF_ERROR(same_shape(in, 0, 2));
  if (out.size() != (buf ? 2u : 1u))
    return fail("{} outputs for {} inputs", out.size(), buf ? 3 : 2);
  for (auto& o : out) o = in[0];
  return Status::Ok();
}

}  // namespace

const std::vector<OpInfo>& train_op_table() {
  static const std::vector<OpInfo> table = {
      {"AdamW", 5, 5, 3, adamw, {}},
      {"AveragePoolGrad", 1, 1, 1, avg_pool_grad, {}},
      {"BatchNormApply", 5, 5, 1, bn_apply, {}},
      {"BatchNormGradInput", 7, 7, 1, bn_apply, {}},
      {"BatchNormGradStats", 4, 4, 2, bn_grad_stats, {}},
      {"BatchNormRunningUpdate", 4, 4, 2, bn_running_update, {}},
      {"BatchNormStats", 1, 1, 2, bn_stats, {}},
      {"ConvGradWeight", 2, 2, 1, conv_grad_weight, {}},
      {"Dropout",
       1,
       -1,
       -1,
       dropout,
       {{1, "ratio", Attr::kFloat, 12}, {2, "training_mode", Attr::kInt, 12}}},
      {"GatherElementsGrad", 2, 2, 1, gather_grad, {}},
      {"GatherGrad", 2, 2, 1, gather_grad, {}},
      {"GeluGrad", 2, 2, 1, elementwise_grad, {}},
      {"LayerNormalizationGrad", 3, 3, 3, layer_norm_grad, {}},
      {"MaxPoolGrad", 2, 2, 1, max_pool_grad, {}},
      {"ReluGrad", 2, 2, 1, elementwise_grad, {}},
      {"SGD", 2, 3, -1, sgd, {}},
      {"SoftmaxCrossEntropyGrad", 3, 3, 1, sce_grad, {}},
      {"SoftmaxCrossEntropyLoss", 2, 2, 2, sce_loss, {}},
  };
  return table;
}

const OpInfo* find_train_op(std::string_view name) { return find_in_table(train_op_table(), name); }

}  // namespace tessera::ir
