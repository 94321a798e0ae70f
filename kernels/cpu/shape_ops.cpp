// Data-movement ops. They copy bytes, so they work for every dtype; strided views (Transpose,
// Expand, Tile, Slice) all go through strided_copy.
#include <algorithm>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

Status copy_all(const Ins& in, const Ins& out, const Shape& want) {
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  if (in[0].numel() != out[0].numel()) {
    return InvalidArgument("element count changes from " + shape_str(in[0].shape) + " to " +
                           shape_str(out[0].shape));
  }
  if (in[0].data != out[0].data) std::memmove(out[0].data, in[0].data, in[0].bytes());
  return Status::Ok();
}

Status start_unary(const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  return check_same_dtype(in[0], out[0], "output");
}

std::string ints_str(const std::vector<int64_t>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s + "]";
}

}  // namespace

Status Reshape(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape want = attr_has(attrs, "shape") ? attr_ints(attrs, "shape") : out[0].shape;
  return copy_all(in, out, want);
}

Status Flatten(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  int64_t axis = attr_int(attrs, "axis", 1);
  if (axis < 0) axis += static_cast<int64_t>(s.size());
  if (axis < 0 || axis > static_cast<int64_t>(s.size()))
    return InvalidArgument("attribute 'axis' out of range");
  const int64_t a = num_elements(Shape(s.begin(), s.begin() + axis));
  return copy_all(in, out, {a, num_elements(Shape(s.begin() + axis, s.end()))});
}

Status Squeeze(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  const std::vector<int64_t> axes = attr_ints(attrs, "axes");
  Shape want;
  for (size_t d = 0; d < s.size(); ++d) {
    const bool listed = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
    if (listed && s[d] != 1)
      return InvalidArgument("cannot squeeze dim " + std::to_string(d) + " of size " +
                             std::to_string(s[d]));
    if (!(listed || (axes.empty() && s[d] == 1))) want.push_back(s[d]);
  }
  for (int64_t a : axes) {
    if (a < 0 || a >= static_cast<int64_t>(s.size()))
      return InvalidArgument("attribute 'axes' out of range: " + ints_str(axes));
  }
  return copy_all(in, out, want);
}

Status Unsqueeze(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  const std::vector<int64_t> axes = attr_ints(attrs, "axes");
  const int64_t r = static_cast<int64_t>(s.size() + axes.size());
  Shape want(static_cast<size_t>(r), -1);
  for (int64_t a : axes) {
    if (a < 0 || a >= r || want[a] == 1)
      return InvalidArgument("attribute 'axes' invalid: " + ints_str(axes));
    want[a] = 1;
  }
  for (size_t d = 0, i = 0; d < want.size(); ++d) {
    if (want[d] == -1) want[d] = s[i++];
  }
  return copy_all(in, out, want);
}

Status Transpose(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  const size_t r = s.size();
  std::vector<int64_t> perm = attr_ints(attrs, "perm");
  if (perm.empty()) {
    for (size_t d = r; d-- > 0;) perm.push_back(static_cast<int64_t>(d));
  }
  std::vector<bool> seen(r, false);
  if (perm.size() != r)
    return InvalidArgument("attribute 'perm' " + ints_str(perm) + " is not a permutation of rank " +
                           std::to_string(r));
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(r) || seen[p])
      return InvalidArgument("attribute 'perm' " + ints_str(perm) + " is not a permutation");
    seen[p] = true;
  }
  const std::vector<int64_t> cs = contiguous_strides(s);
  Shape want(r);
  std::vector<int64_t> st(r);
  for (size_t d = 0; d < r; ++d) {
    want[d] = s[perm[d]];
    st[d] = cs[perm[d]];
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  strided_copy(in[0].data, 0, st, want, out[0].data, dtype_size(in[0].dtype));
  return Status::Ok();
}

Status Expand(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  Shape want = out[0].shape;
  if (attr_has(attrs, "shape"))
    TSR_RETURN_IF_ERROR(broadcast_shapes(in[0].shape, attr_ints(attrs, "shape"), &want));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  std::vector<int64_t> st;
  TSR_RETURN_IF_ERROR(broadcast_strides(in[0].shape, want, &st));
  strided_copy(in[0].data, 0, st, want, out[0].data, dtype_size(in[0].dtype));
  return Status::Ok();
}

Status Tile(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  const std::vector<int64_t> rep = attr_ints(attrs, "repeats");
  if (rep.size() != s.size())
    return InvalidArgument("attribute 'repeats' needs one value per dim, got " + ints_str(rep));
  // Tiling is a strided view of shape [r0, d0, r1, d1, ...] with stride 0 on each r.
  const std::vector<int64_t> cs = contiguous_strides(s);
  Shape want, view;
  std::vector<int64_t> st;
  for (size_t d = 0; d < s.size(); ++d) {
    if (rep[d] < 0) return InvalidArgument("attribute 'repeats' must be >= 0");
    want.push_back(s[d] * rep[d]);
    view.insert(view.end(), {rep[d], s[d]});
    st.insert(st.end(), {0, cs[d]});
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  strided_copy(in[0].data, 0, st, view, out[0].data, dtype_size(in[0].dtype));
  return Status::Ok();
}

Status Concat(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1 << 20, 1));
  const Shape& s0 = in[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(s0.size()))
    return InvalidArgument("attribute 'axis' out of range");
  Shape want = s0;
  want[axis] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], "input"));
    Shape si = in[i].shape;
    if (si.size() != s0.size())
      return InvalidArgument("input " + std::to_string(i) + " has rank " +
                             std::to_string(si.size()));
    want[axis] += si[axis];
    si[axis] = s0[axis];
    if (si != s0)
      return InvalidArgument("input " + std::to_string(i) + " shape " + shape_str(in[i].shape) +
                             " differs off the axis from " + shape_str(s0));
  }
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const int64_t es = dtype_size(in[0].dtype);
  const int64_t outer = num_elements(Shape(s0.begin(), s0.begin() + axis));
  const int64_t inner = num_elements(Shape(s0.begin() + axis + 1, s0.end())) * es;
  auto* dst = out[0].as<uint8_t>();
  const int64_t row = want[axis] * inner;
  for (int64_t o = 0, at = 0; o < outer; ++o, at = 0) {
    for (const TensorRef& t : in) {
      const int64_t n = t.shape[axis] * inner;
      if (n > 0) std::memcpy(dst + o * row + at, t.as<const uint8_t>() + o * n, n);
      at += n;
    }
  }
  return Status::Ok();
}

Status Split(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, out.size()));
  if (out.empty()) return InvalidArgument("needs at least one output");
  const Shape& s = in[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= static_cast<int64_t>(s.size()))
    return InvalidArgument("attribute 'axis' out of range");
  std::vector<int64_t> split = attr_ints(attrs, "split");
  const int64_t no = static_cast<int64_t>(out.size());
  if (split.empty()) {  // equal parts, the last one smaller (opset 18)
    const int64_t part = (s[axis] + no - 1) / no;
    for (int64_t i = 0; i < no; ++i)
      split.push_back(std::max<int64_t>(0, std::min(part, s[axis] - i * part)));
  }
  int64_t total = 0;
  bool negative = false;
  for (int64_t v : split) {
    total += v;
    negative = negative || v < 0;
  }
  if (negative || split.size() != out.size() || total != s[axis]) {
    return InvalidArgument("attribute 'split' " + ints_str(split) + " does not cut dim " +
                           std::to_string(s[axis]) + " into " + std::to_string(no) + " outputs");
  }
  const int64_t es = dtype_size(in[0].dtype);
  const int64_t outer = num_elements(Shape(s.begin(), s.begin() + axis));
  const int64_t inner = num_elements(Shape(s.begin() + axis + 1, s.end())) * es;
  for (int64_t i = 0; i < no; ++i) {
    Shape want = s;
    want[axis] = split[i];
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[i], "output"));
    TSR_RETURN_IF_ERROR(check_out_shape(out[i], want));
  }
  const auto* src = in[0].as<const uint8_t>();
  for (int64_t o = 0; o < outer; ++o) {
    int64_t at = o * s[axis] * inner;
    for (int64_t i = 0; i < no; ++i) {
      const int64_t n = split[i] * inner;
      if (n > 0) std::memcpy(out[i].as<uint8_t>() + o * n, src + at, n);
      at += n;
    }
  }
  return Status::Ok();
}

Status Slice(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(start_unary(in, out));
  const Shape& s = in[0].shape;
  const int64_t r = static_cast<int64_t>(s.size());
  const std::vector<int64_t> starts = attr_ints(attrs, "starts"), ends = attr_ints(attrs, "ends");
  std::vector<int64_t> axes = attr_ints(attrs, "axes"), steps = attr_ints(attrs, "steps");
  if (axes.empty())
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    return InvalidArgument("starts, ends, axes and steps must have equal lengths");
  }
  const std::vector<int64_t> cs = contiguous_strides(s);
  Shape want = s;
  std::vector<int64_t> st = cs;
  std::vector<bool> seen(r, false);
  int64_t base = 0;
  for (size_t i = 0; i < axes.size(); ++i) {
    const int64_t a = axes[i] < 0 ? axes[i] + r : axes[i], step = steps[i];
    if (a < 0 || a >= r || seen[a])
      return InvalidArgument("attribute 'axes' invalid: " + ints_str(axes));
    if (step == 0) return InvalidArgument("attribute 'steps' must not contain 0");
    seen[a] = true;
    const int64_t dim = s[a];
    // Canonical bounds are already clamped by the frontend (end -1 with a negative step means
    // "past index 0"); clamping again only guards memory against a malformed plan.
    int64_t b = starts[i], e = ends[i];
    if (dim == 0) {
      b = e = 0;
    } else if (step > 0) {
      b = std::clamp<int64_t>(b, 0, dim);
      e = std::clamp<int64_t>(e, 0, dim);
    } else {
      b = std::clamp<int64_t>(b, 0, dim - 1);
      e = std::clamp<int64_t>(e, -1, dim - 1);
    }
    const int64_t n = step > 0 ? (e - b + step - 1) / step : (b - e + (-step) - 1) / (-step);
    want[a] = std::max<int64_t>(n, 0);
    if (want[a] > 0) base += b * cs[a];
    st[a] = cs[a] * step;
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  if (num_elements(want) > 0)
    strided_copy(in[0].data, base, st, want, out[0].data, dtype_size(in[0].dtype));
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
