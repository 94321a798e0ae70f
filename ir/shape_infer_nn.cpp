// Inference for linear algebra, convolution, pooling, normalisation and reductions.
#include "ir/shape_fns.h"

namespace tessera::ir::fns {

namespace {

Status same_dtype(const In& in, size_t a, size_t b) {
  if (b < in.size() && in[b].first != DType::kUndefined && in[a].first != in[b].first) {
    return fail("input {} is {} but input {} is {}", a, dtype_name(in[a].first), b,
                dtype_name(in[b].first));
  }
  return Status::Ok();
}

int64_t rank(const In& in, size_t i) { return static_cast<int64_t>(in[i].second.size()); }

}  // namespace

StatusOr<DType> activation_out_dtype(const Node& n, const In& in,
                                     std::initializer_list<size_t> acts, size_t driver) {
  const DType out = attr_has(n.attrs, "out_dtype")
                        ? static_cast<DType>(attr_int(n.attrs, "out_dtype", 0))
                        : in[driver].first;
  if (!dtype_is_float(out)) return fail("out_dtype must be a float dtype, got {}", dtype_name(out));
  std::vector<DType> ts = {out};
  for (size_t i : acts) ts.push_back(in[i].first);
  bool same = true;
  for (DType t : ts) same = same && t == ts[0];
  if (same) return out;
  DType half = DType::kUndefined;
  for (DType t : ts) {
    if (t == DType::kFloat32) continue;
    if ((t != DType::kBFloat16 && t != DType::kFloat16) || (half != DType::kUndefined && t != half))
      return fail("mixed activation dtypes must be f32 and one of f16/bf16, got {} and {}",
                  dtype_name(ts[0]), dtype_name(t));
    half = t;
  }
  return out;
}

// numpy matmul: 1-D operands are promoted and the promoted dim dropped afterwards.
Status matmul(const Node&, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtype(in, 0, 1));
  Shape a = in[0].second, b = in[1].second;
  if (a.empty() || b.empty())
    return fail("operands must have rank >= 1, got {} and {}", shp(a), shp(b));
  const bool a1 = a.size() == 1, b1 = b.size() == 1;
  if (a1) a.insert(a.begin(), 1);
  if (b1) b.push_back(1);
  if (a.back() != b[b.size() - 2]) {
    return fail("inner dims differ: a {} (K={}) vs b {} (K={})", shp(in[0].second), a.back(),
                shp(in[1].second), b[b.size() - 2]);
  }
  TSR_ASSIGN_OR_RETURN(
      Shape s, broadcast_shapes(Shape(a.begin(), a.end() - 2), Shape(b.begin(), b.end() - 2)));
  if (!a1) s.push_back(a[a.size() - 2]);
  if (!b1) s.push_back(b.back());
  out[0] = {in[0].first, s};
  return Status::Ok();
}

Status gemm(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtype(in, 0, 1));
  TSR_RETURN_IF_ERROR(same_dtype(in, 0, 2));
  if (rank(in, 0) != 2 || rank(in, 1) != 2)
    return fail("A and B must be 2-D, got {} and {}", shp(in[0].second), shp(in[1].second));
  const bool ta = attr_int(n.attrs, "transA", 0) != 0, tb = attr_int(n.attrs, "transB", 0) != 0;
  const Shape& a = in[0].second;
  const Shape& b = in[1].second;
  const int64_t m = ta ? a[1] : a[0], ka = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0], nn = tb ? b[0] : b[1];
  if (ka != kb)
    return fail("inner dims differ: A {} transA={} vs B {} transB={}", shp(a), ta, shp(b), tb);
  if (in.size() > 2 && in[2].first != DType::kUndefined) {
    TSR_ASSIGN_OR_RETURN(Shape c, broadcast_shapes(in[2].second, {m, nn}));
    if (c != Shape{m, nn})
      return fail("C {} does not broadcast to [{},{}]", shp(in[2].second), m, nn);
  }
  out[0] = {in[0].first, {m, nn}};
  return Status::Ok();
}

namespace {

struct Window {
  std::vector<int64_t> k, s, d, pads;
};

Status window_attrs(const Node& n, size_t spatial, Window& w) {
  w.k = attr_ints(n.attrs, "kernel_shape");
  w.s = attr_ints(n.attrs, "strides", std::vector<int64_t>(spatial, 1));
  w.d = attr_ints(n.attrs, "dilations", std::vector<int64_t>(spatial, 1));
  w.pads = attr_ints(n.attrs, "pads", std::vector<int64_t>(2 * spatial, 0));
  if (w.k.size() != spatial || w.s.size() != spatial || w.d.size() != spatial ||
      w.pads.size() != 2 * spatial) {
    return fail(
        "kernel_shape/strides/dilations/pads sizes ({}/{}/{}/{}) do not match {} spatial dims",
        w.k.size(), w.s.size(), w.d.size(), w.pads.size(), spatial);
  }
  for (size_t i = 0; i < spatial; ++i) {
    if (w.k[i] < 1 || w.s[i] < 1 || w.d[i] < 1 || w.pads[i] < 0 || w.pads[i + spatial] < 0) {
      return fail("non-positive kernel/stride/dilation or negative pad on spatial dim {}", i);
    }
  }
  return Status::Ok();
}

}  // namespace

Status conv(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtype(in, 0, 1));
  const Shape& x = in[0].second;
  const Shape& w = in[1].second;
  if (x.size() < 3 || w.size() != x.size())
    return fail("X {} and W {} must have equal rank >= 3", shp(x), shp(w));
  const int64_t g = attr_int(n.attrs, "group", 1);
  if (g < 1 || x[1] != w[1] * g || w[0] % g != 0) {
    return fail("channels: X {} has C={}, W {} expects C/group={} with group={}", shp(x), x[1],
                shp(w), w[1], g);
  }
  if (in.size() > 2 && in[2].first != DType::kUndefined && in[2].second != Shape{w[0]}) {
    return fail("bias {} must be [{}]", shp(in[2].second), w[0]);
  }
  const size_t sp = x.size() - 2;
  Window win;
  TSR_RETURN_IF_ERROR(window_attrs(n, sp, win));
  Shape o = {x[0], w[0]};
  for (size_t i = 0; i < sp; ++i) {
    if (win.k[i] != w[i + 2]) return fail("kernel_shape {} differs from W {}", shp(win.k), shp(w));
    const int64_t span = win.d[i] * (win.k[i] - 1) + 1;
    const int64_t padded = x[i + 2] + win.pads[i] + win.pads[i + sp];
    if (padded < span)
      return fail("window {} larger than padded input dim {} on axis {}", span, padded, i + 2);
    o.push_back((padded - span) / win.s[i] + 1);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status conv_transpose(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(same_dtype(in, 0, 1));
  const Shape& x = in[0].second;
  const Shape& w = in[1].second;
  if (x.size() < 3 || w.size() != x.size())
    return fail("X {} and W {} must have equal rank >= 3", shp(x), shp(w));
  const int64_t g = attr_int(n.attrs, "group", 1);
  if (g < 1 || x[1] != w[0] || w[0] % g != 0)
    return fail("channels: X {} has C={}, W {} has {} with group={}", shp(x), x[1], shp(w), w[0],
                g);
  const size_t sp = x.size() - 2;
  Window win;
  TSR_RETURN_IF_ERROR(window_attrs(n, sp, win));
  const auto op = attr_ints(n.attrs, "output_padding", std::vector<int64_t>(sp, 0));
  if (op.size() != sp)
    return fail("output_padding has {} entries for {} spatial dims", op.size(), sp);
  Shape o = {x[0], w[1] * g};
  for (size_t i = 0; i < sp; ++i) {
    const int64_t d = win.s[i] * (x[i + 2] - 1) + op[i] + (win.k[i] - 1) * win.d[i] + 1 -
                      win.pads[i] - win.pads[i + sp];
    if (d < 1) return fail("output dim {} on axis {} is not positive", d, i + 2);
    o.push_back(d);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status pool(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  if (x.size() < 3) return fail("input {} must have rank >= 3", shp(x));
  const size_t sp = x.size() - 2;
  Window w;
  TSR_RETURN_IF_ERROR(window_attrs(n, sp, w));
  const bool ceil_mode = attr_int(n.attrs, "ceil_mode", 0) != 0;
  Shape o = {x[0], x[1]};
  for (size_t i = 0; i < sp; ++i) {
    const int64_t span = w.d[i] * (w.k[i] - 1) + 1;
    const int64_t room = x[i + 2] + w.pads[i] + w.pads[i + sp] - span;
    if (room < 0) return fail("window {} larger than padded input dim on axis {}", span, i + 2);
    int64_t d = (ceil_mode ? (room + w.s[i] - 1) / w.s[i] : room / w.s[i]) + 1;
    if (ceil_mode && (d - 1) * w.s[i] >= x[i + 2] + w.pads[i])
      --d;  // last window starts in padding
    o.push_back(d);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status global_pool(const Node&, const In& in, Out& out) {
  Shape o = in[0].second;
  if (o.size() < 3) return fail("input {} must have rank >= 3", shp(o));
  for (size_t i = 2; i < o.size(); ++i) o[i] = 1;
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status batch_norm(const Node&, const In& in, Out& out) {
  const Shape& x = in[0].second;
  if (x.size() < 2) return fail("input {} must have rank >= 2", shp(x));
  for (size_t i = 1; i < 5; ++i) {
    if (in[i].second != Shape{x[1]})
      return fail("input {} is {}, expected [{}] (channels of X {})", i, shp(in[i].second), x[1],
                  shp(x));
  }
  out[0] = in[0];
  return Status::Ok();
}

Status layer_norm(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  const int64_t axis = attr_int(n.attrs, "axis", -1);
  if (axis < 0 || axis >= static_cast<int64_t>(x.size()))
    return fail("axis {} out of range for input {}", axis, shp(x));
  const Shape norm(x.begin() + axis, x.end());
  for (size_t i = 1; i < in.size(); ++i) {
    if (in[i].first == DType::kUndefined) continue;
    TSR_ASSIGN_OR_RETURN(Shape b, broadcast_shapes(in[i].second, norm));
    if (b != norm)
      return fail("input {} {} does not broadcast to normalised shape {}", i, shp(in[i].second),
                  shp(norm));
  }
  TSR_ASSIGN_OR_RETURN(DType y, activation_out_dtype(n, in, {0}, 0));
  out[0] = {y, x};
  return Status::Ok();
}

Status group_norm(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  const int64_t g = attr_int(n.attrs, "num_groups", 0);
  if (x.size() < 3 || g < 1 || x[1] % g != 0)
    return fail("num_groups {} must divide channels of input {}", g, shp(x));
  out[0] = in[0];
  return Status::Ok();
}

Status reduce(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  const bool keep = attr_int(n.attrs, "keepdims", 1) != 0;
  const auto axes = attr_ints(n.attrs, "axes");
  std::vector<bool> reduced(x.size(), axes.empty());  // empty = all axes (ONNX default)
  for (int64_t a : axes) {
    if (a < 0 || a >= static_cast<int64_t>(x.size()))
      return fail("axis {} out of range for input {}", a, shp(x));
    reduced[a] = true;
  }
  Shape o;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!reduced[i])
      o.push_back(x[i]);
    else if (keep)
      o.push_back(1);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

}  // namespace tessera::ir::fns
