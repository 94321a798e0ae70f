// Shape, layout and indexing aten ops. Every shape-like argument is a compile-time value here
// (traced sizes are static), so results carry resolved shapes in canonical attributes.
#include <algorithm>
#include <limits>

#include "frontends/torchscript/aten_util.h"

namespace tessera::ts_fe {
namespace {

StatusOr<int> reshape(Importer& c, int x, Shape to) {
  if (to == c.shape(x)) return x;
  return c.emit1("Reshape", {x}, {{"shape", Attr::Ints(to)}});
}

StatusOr<int> transpose(Importer& c, int x, std::vector<int64_t> perm) {
  bool id = true;
  for (size_t i = 0; i < perm.size(); ++i) id &= perm[i] == static_cast<int64_t>(i);
  if (id) return x;
  return c.emit1("Transpose", {x}, {{"perm", Attr::Ints(perm)}});
}

// Slice one axis, bounds clamped per Python rules; a full-range slice is no node.
StatusOr<int> slice_axis(Importer& c, int x, int64_t ax, int64_t start, int64_t end, int64_t step) {
  int64_t n = c.shape(x)[ax];
  auto clamp = [n](int64_t v) { return std::max<int64_t>(0, std::min(n, v < 0 ? v + n : v)); };
  start = clamp(start), end = clamp(end);
  if (step <= 0) return c.fail("slice step must be positive");
  if (start == 0 && end == n && step == 1) return x;
  AttrMap at{{"starts", Attr::Ints({start})},
             {"ends", Attr::Ints({end})},
             {"axes", Attr::Ints({ax})},
             {"steps", Attr::Ints({step})}};
  return c.emit1("Slice", {x}, at);
}

StatusOr<Shape> resolve_view(Importer& c, int x, std::vector<int64_t> to) {
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == -1) {
      if (infer >= 0) return c.fail("view/reshape with two -1 dimensions");
      infer = static_cast<int64_t>(i);
    } else {
      known *= to[i];
    }
  }
  int64_t n = num_elements(c.shape(x));
  if (infer >= 0) to[infer] = known ? n / known : 0;
  if (num_elements(to) != n) {
    return c.fail("view/reshape of {} elements to {}", n, shape_str(to));
  }
  return to;
}

StatusOr<std::vector<TsVal>> split_sizes(Importer& c, int x, int64_t ax, std::vector<int64_t> sz) {
  std::vector<TsVal> parts;
  if (sz.size() == 1) return std::vector<TsVal>{TsVal::Tensor(x)};
  TSR_ASSIGN_OR_RETURN(auto ids,
                       c.emit("Split", {x}, {{"axis", Attr::Int(ax)}, {"split", Attr::Ints(sz)}},
                              static_cast<int>(sz.size())));
  for (int id : ids) parts.push_back(TsVal::Tensor(id));
  return parts;
}

Status split_even(Importer& c, int x, int64_t ax, int64_t piece, TsVal& out) {
  int64_t n = c.shape(x)[ax];
  if (piece <= 0) return c.fail("split size must be positive");
  std::vector<int64_t> sz;
  for (int64_t at = 0; at < n || sz.empty(); at += piece) sz.push_back(std::min(piece, n - at));
  TSR_ASSIGN_OR_RETURN(auto parts, split_sizes(c, x, ax, sz));
  out = TsVal::List(parts);
  return Status::Ok();
}

}  // namespace

Status cv_view(Importer& c, const Args& a, TsVal& out) {  // view, reshape
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* s = a.get(1, "size");
  if (!s) s = a.get(1, "shape");
  if (!s) return c.fail("view/reshape needs a shape");
  TSR_ASSIGN_OR_RETURN(auto to, c.to_ints(*s));
  TSR_ASSIGN_OR_RETURN(Shape shp, resolve_view(c, x, to));
  return set_tensor(reshape(c, x, shp), out);
}

Status cv_permute(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(auto raw, c.to_ints(*a.get(1, "dims")));
  std::vector<int64_t> perm;
  for (int64_t d : raw) {
    TsVal t = TsVal::Int(d);
    TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(&t, c.rank(x), 0));
    perm.push_back(ax);
  }
  return set_tensor(transpose(c, x, perm), out);
}

Status cv_transpose(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t d0, c.axis(a.get(1, "dim0"), c.rank(x), 0));
  TSR_ASSIGN_OR_RETURN(int64_t d1, c.axis(a.get(2, "dim1"), c.rank(x), 0));
  std::vector<int64_t> perm;
  for (int i = 0; i < c.rank(x); ++i) perm.push_back(i);
  std::swap(perm[d0], perm[d1]);
  return set_tensor(transpose(c, x, perm), out);
}

Status cv_t(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  if (c.rank(x) < 2) return set_tensor(x, out);
  return set_tensor(transpose(c, x, {1, 0}), out);
}

Status cv_slice(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x), 0));
  int64_t start = 0, end = std::numeric_limits<int64_t>::max(), step = 1;
  if (given(a.get(2, "start"))) {
    TSR_ASSIGN_OR_RETURN(start, c.to_int(*a.get(2, "start")));
  }
  if (given(a.get(3, "end"))) {
    TSR_ASSIGN_OR_RETURN(end, c.to_int(*a.get(3, "end")));
  }
  if (given(a.get(4, "step"))) {
    TSR_ASSIGN_OR_RETURN(step, c.to_int(*a.get(4, "step")));
  }
  return set_tensor(slice_axis(c, x, ax, start, end, step), out);
}

Status cv_select(Importer& c, const Args& a, TsVal& out) {  // x[..., i, ...] drops the axis
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x), 0));
  TSR_ASSIGN_OR_RETURN(int64_t i, c.to_int(*a.get(2, "index")));
  int64_t n = c.shape(x)[ax];
  if (i < -n || i >= n) return c.fail("select index {} out of range for size {}", i, n);
  int idx = c.scalar(DType::kInt64, static_cast<double>(i < 0 ? i + n : i));
  return set_tensor(c.emit1("Gather", {x, idx}, {{"axis", Attr::Int(ax)}}), out);
}

Status cv_cat(Importer& c, const Args& a, TsVal& out) {
  const TsVal* xs = a.get(0, "tensors");
  if (!xs || xs->kind != TsVal::kList || xs->items.empty())
    return c.fail("cat needs a tensor list");
  TSR_ASSIGN_OR_RETURN(auto ids, c.promote(xs->items));
  int r = c.rank(ids[0]);
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), r, 0));
  std::vector<int> in;
  for (int id : ids) {
    if (!(c.rank(id) == 1 && c.shape(id)[0] == 0 && r != 1)) in.push_back(id);  // legacy empty
  }
  if (in.size() == 1) return set_tensor(in[0], out);
  return set_tensor(c.emit1("Concat", in, {{"axis", Attr::Int(ax)}}), out);
}

Status cv_stack(Importer& c, const Args& a, TsVal& out) {
  const TsVal* xs = a.get(0, "tensors");
  if (!xs || xs->kind != TsVal::kList || xs->items.empty())
    return c.fail("stack needs a tensor list");
  TSR_ASSIGN_OR_RETURN(auto ids, c.promote(xs->items));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(ids[0]) + 1, 0));
  for (int& id : ids) {
    TSR_ASSIGN_OR_RETURN(id, c.emit1("Unsqueeze", {id}, {{"axes", Attr::Ints({ax})}}));
  }
  if (ids.size() == 1) return set_tensor(ids[0], out);
  return set_tensor(c.emit1("Concat", ids, {{"axis", Attr::Int(ax)}}), out);
}

Status cv_split(Importer& c, const Args& a, TsVal& out) {  // split, split_with_sizes
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  const TsVal* s = a.get(1, "split_size");
  if (!s) s = a.get(1, "split_sizes");
  if (!s) return c.fail("split needs sizes");
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(2, "dim"), c.rank(x), 0));
  if (s->kind != TsVal::kList) {
    TSR_ASSIGN_OR_RETURN(int64_t piece, c.to_int(*s));
    return split_even(c, x, ax, piece, out);
  }
  TSR_ASSIGN_OR_RETURN(auto sz, c.to_ints(*s));
  TSR_ASSIGN_OR_RETURN(auto parts, split_sizes(c, x, ax, sz));
  out = TsVal::List(parts);
  return Status::Ok();
}

Status cv_chunk(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t chunks, c.to_int(*a.get(1, "chunks")));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(2, "dim"), c.rank(x), 0));
  if (chunks <= 0) return c.fail("chunk count must be positive");
  int64_t n = c.shape(x)[ax];
  return split_even(c, x, ax, std::max<int64_t>(1, (n + chunks - 1) / chunks), out);
}

Status cv_unsqueeze(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x) + 1, 0));
  return set_tensor(c.emit1("Unsqueeze", {x}, {{"axes", Attr::Ints({ax})}}), out);
}

Status cv_squeeze(Importer& c, const Args& a, TsVal& out) {  // only size-1 dims go, as torch
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(auto dims, dims_arg(c, a.get(1, "dim"), c.rank(x)));
  std::vector<int64_t> axes;
  for (int64_t d : dims) {
    if (c.shape(x)[d] == 1) axes.push_back(d);
  }
  if (axes.empty()) return set_tensor(x, out);
  return set_tensor(c.emit1("Squeeze", {x}, {{"axes", Attr::Ints(axes)}}), out);
}

Status cv_expand(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(auto to, c.to_ints(*a.get(1, "size")));
  const Shape& in = c.shape(x);
  if (to.size() < in.size()) return c.fail("expand to fewer dimensions than the input");
  size_t lead = to.size() - in.size();
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == -1) {
      if (i < lead) return c.fail("expand: -1 in a new leading dimension");
      to[i] = in[i - lead];
    }
  }
  if (to == in) return set_tensor(x, out);
  return set_tensor(c.emit1("Expand", {x}, {{"shape", Attr::Ints(to)}}), out);
}

Status cv_expand_as(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int o, arg_tensor(c, a, 1, "other"));
  if (c.shape(o) == c.shape(x)) return set_tensor(x, out);
  return set_tensor(c.emit1("Expand", {x}, {{"shape", Attr::Ints(c.shape(o))}}), out);
}

Status cv_flatten(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  int r = c.rank(x);
  TSR_ASSIGN_OR_RETURN(int64_t s, c.axis(a.get(1, "start_dim"), r, 0));
  TSR_ASSIGN_OR_RETURN(int64_t e, c.axis(a.get(2, "end_dim"), r, -1));
  if (r >= 2 && s == 1 && e == r - 1) {
    return set_tensor(c.emit1("Flatten", {x}, {{"axis", Attr::Int(1)}}), out);
  }
  const Shape& in = c.shape(x);
  Shape to(in.begin(), in.begin() + std::min<int64_t>(s, r));
  int64_t mid = 1;
  for (int64_t i = s; i <= e && i < r; ++i) mid *= in[i];
  to.push_back(mid);
  for (int64_t i = e + 1; i < r; ++i) to.push_back(in[i]);
  return set_tensor(reshape(c, x, to), out);
}

// to(dtype) / to(device, dtype) / to(other) / to(dtype=...): only the dtype matters here.
Status cv_to(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  DType to = DType::kUndefined;
  auto it = a.kw.find("dtype");
  const TsVal* d = it != a.kw.end() ? &it->second : nullptr;
  if (!d && a.pos.size() > 1) {
    d = &a.pos[1];
    if (d->kind == TsVal::kDevice || d->kind == TsVal::kStr)
      d = a.pos.size() > 2 ? &a.pos[2] : nullptr;
  }
  if (d && d->kind == TsVal::kTensor) {
    to = c.dtype(d->v);
  } else if (given(d) && d->kind == TsVal::kInt) {
    TSR_ASSIGN_OR_RETURN(to, dtype_arg(c, d));
  }
  if (to == DType::kUndefined) return set_tensor(x, out);
  return set_tensor(c.cast(x, to), out);
}

Status cv_type_as(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int o, arg_tensor(c, a, 1, "other"));
  return set_tensor(c.cast(x, c.dtype(o)), out);
}

Status cv_gather(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(int64_t ax, c.axis(a.get(1, "dim"), c.rank(x), 0));
  TSR_ASSIGN_OR_RETURN(int idx, arg_tensor(c, a, 2, "index"));
  return set_tensor(c.emit1("GatherElements", {x, idx}, {{"axis", Attr::Int(ax)}}), out);
}

Status cv_repeat(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int x, arg_tensor(c, a, 0, "self"));
  TSR_ASSIGN_OR_RETURN(auto reps, c.to_ints(*a.get(1, "repeats")));
  if (reps.size() < static_cast<size_t>(c.rank(x))) return c.fail("repeat: too few repeats");
  Shape s(reps.size() - c.rank(x), 1);
  s.insert(s.end(), c.shape(x).begin(), c.shape(x).end());
  TSR_ASSIGN_OR_RETURN(x, reshape(c, x, s));
  return set_tensor(c.emit1("Tile", {x}, {{"repeats", Attr::Ints(reps)}}), out);
}

}  // namespace tessera::ts_fe
