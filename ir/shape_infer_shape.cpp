// Inference for shape and indexing ops. All shape-like operands are attributes here (the
// frontend lifted and resolved them), so these functions only check and compute.
#include <numeric>

#include "ir/shape_fns.h"

namespace tessera::ir::fns {

namespace {

int64_t rank_of(const In& in, size_t i) { return static_cast<int64_t>(in[i].second.size()); }

Status check_axis(int64_t axis, int64_t rank, const char* what) {
  if (axis < 0 || axis >= rank) return fail("{} {} out of range for rank {}", what, axis, rank);
  return Status::Ok();
}

Status check_index_dtype(const In& in, size_t i) {
  if (in[i].first != DType::kInt64 && in[i].first != DType::kInt32) {
    return fail("indices must be int32 or int64, are {}", dtype_name(in[i].first));
  }
  return Status::Ok();
}

}  // namespace

Status reshape(const Node& n, const In& in, Out& out) {
  const Shape s = attr_ints(n.attrs, "shape");
  for (int64_t d : s) {
    if (d < 0) return fail("shape {} is not resolved (negative dim)", shp(s));
  }
  if (num_elements(s) != num_elements(in[0].second)) {
    return fail("cannot reshape {} ({} elements) to {} ({} elements)", shp(in[0].second),
                num_elements(in[0].second), shp(s), num_elements(s));
  }
  out[0] = {in[0].first, s};
  return Status::Ok();
}

Status flatten(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  const int64_t axis = attr_int(n.attrs, "axis", 1);
  if (axis < 0 || axis > static_cast<int64_t>(x.size()))
    return fail("axis {} out of range for input {}", axis, shp(x));
  const int64_t a = num_elements(Shape(x.begin(), x.begin() + axis));
  out[0] = {in[0].first, {a, num_elements(Shape(x.begin() + axis, x.end()))}};
  return Status::Ok();
}

Status squeeze(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  std::vector<bool> drop(x.size(), false);
  for (int64_t a : attr_ints(n.attrs, "axes")) {
    TSR_RETURN_IF_ERROR(check_axis(a, rank_of(in, 0), "axis"));
    if (x[a] != 1) return fail("cannot squeeze axis {} of size {} in {}", a, x[a], shp(x));
    drop[a] = true;
  }
  Shape o;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!drop[i]) o.push_back(x[i]);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status unsqueeze(const Node& n, const In& in, Out& out) {
  const auto axes = attr_ints(n.attrs, "axes");
  const int64_t r = rank_of(in, 0) + static_cast<int64_t>(axes.size());
  std::vector<bool> add(r, false);
  for (int64_t a : axes) {
    TSR_RETURN_IF_ERROR(check_axis(a, r, "axis"));
    if (add[a]) return fail("axis {} repeated", a);
    add[a] = true;
  }
  Shape o;
  size_t j = 0;
  for (int64_t i = 0; i < r; ++i) o.push_back(add[i] ? 1 : in[0].second[j++]);
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status transpose(const Node& n, const In& in, Out& out) {
  const Shape& x = in[0].second;
  const auto perm = attr_ints(n.attrs, "perm");
  if (perm.size() != x.size()) return fail("perm has {} entries for input {}", perm.size(), shp(x));
  std::vector<bool> seen(x.size(), false);
  Shape o;
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(x.size()) || seen[p])
      return fail("perm {} is not a permutation", shp(perm));
    seen[p] = true;
    o.push_back(x[p]);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status expand(const Node& n, const In& in, Out& out) {
  const Shape s = attr_ints(n.attrs, "shape");
  TSR_ASSIGN_OR_RETURN(Shape b, broadcast_shapes(in[0].second, s));
  if (b != s) return fail("shape {} is not the resolved output {}", shp(s), shp(b));
  out[0] = {in[0].first, s};
  return Status::Ok();
}

Status tile(const Node& n, const In& in, Out& out) {
  const auto reps = attr_ints(n.attrs, "repeats");
  Shape o = in[0].second;
  if (reps.size() != o.size())
    return fail("repeats has {} entries for input {}", reps.size(), shp(o));
  for (size_t i = 0; i < o.size(); ++i) {
    if (reps[i] < 0) return fail("negative repeat {}", reps[i]);
    o[i] *= reps[i];
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status concat(const Node& n, const In& in, Out& out) {
  const int64_t axis = attr_int(n.attrs, "axis", 0);
  TSR_RETURN_IF_ERROR(check_axis(axis, rank_of(in, 0), "axis"));
  Shape o = in[0].second;
  for (size_t i = 1; i < in.size(); ++i) {
    const Shape& s = in[i].second;
    if (in[i].first != in[0].first)
      return fail("input {} is {} but input 0 is {}", i, dtype_name(in[i].first),
                  dtype_name(in[0].first));
    bool ok = s.size() == o.size();
    for (size_t d = 0; ok && d < s.size(); ++d)
      ok = static_cast<int64_t>(d) == axis || s[d] == o[d];
    if (!ok)
      return fail("input {} {} does not match input 0 {} outside axis {}", i, shp(s),
                  shp(in[0].second), axis);
    o[axis] += s[axis];
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status split(const Node& n, const In& in, Out& out) {
  const int64_t axis = attr_int(n.attrs, "axis", 0);
  TSR_RETURN_IF_ERROR(check_axis(axis, rank_of(in, 0), "axis"));
  const auto sizes = attr_ints(n.attrs, "split");
  if (sizes.size() != out.size())
    return fail("split has {} sizes for {} outputs", sizes.size(), out.size());
  int64_t total = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] < 0) return fail("negative split size {}", sizes[i]);
    total += sizes[i];
    out[i] = in[0];
    out[i].second[axis] = sizes[i];
  }
  if (total != in[0].second[axis])
    return fail("split sizes {} sum to {}, axis {} of {} is {}", shp(sizes), total, axis,
                shp(in[0].second), in[0].second[axis]);
  return Status::Ok();
}

// Canonical bounds are already clamped (docs/ops.md); count elements per sliced axis.
Status slice(const Node& n, const In& in, Out& out) {
  const auto st = attr_ints(n.attrs, "starts"), en = attr_ints(n.attrs, "ends");
  const auto ax = attr_ints(n.attrs, "axes"), sp = attr_ints(n.attrs, "steps");
  if (en.size() != st.size() || ax.size() != st.size() || sp.size() != st.size()) {
    return fail("starts/ends/axes/steps sizes differ ({}/{}/{}/{})", st.size(), en.size(),
                ax.size(), sp.size());
  }
  Shape o = in[0].second;
  for (size_t i = 0; i < st.size(); ++i) {
    TSR_RETURN_IF_ERROR(check_axis(ax[i], rank_of(in, 0), "axis"));
    if (sp[i] == 0) return fail("step 0 on axis {}", ax[i]);
    const int64_t len = sp[i] > 0 ? en[i] - st[i] : st[i] - en[i];
    const int64_t step = sp[i] > 0 ? sp[i] : -sp[i];
    o[ax[i]] = len <= 0 ? 0 : (len + step - 1) / step;
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status gather(const Node& n, const In& in, Out& out) {
  const Shape& d = in[0].second;
  const int64_t axis = attr_int(n.attrs, "axis", 0);
  TSR_RETURN_IF_ERROR(check_axis(axis, rank_of(in, 0), "axis"));
  TSR_RETURN_IF_ERROR(check_index_dtype(in, 1));
  Shape o(d.begin(), d.begin() + axis);
  o.insert(o.end(), in[1].second.begin(), in[1].second.end());
  o.insert(o.end(), d.begin() + axis + 1, d.end());
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status gather_elements(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(check_axis(attr_int(n.attrs, "axis", 0), rank_of(in, 0), "axis"));
  TSR_RETURN_IF_ERROR(check_index_dtype(in, 1));
  if (rank_of(in, 1) != rank_of(in, 0))
    return fail("indices {} and data {} ranks differ", shp(in[1].second), shp(in[0].second));
  out[0] = {in[0].first, in[1].second};
  return Status::Ok();
}

Status gather_nd(const Node& n, const In& in, Out& out) {
  const Shape& d = in[0].second;
  const Shape& idx = in[1].second;
  const int64_t b = attr_int(n.attrs, "batch_dims", 0);
  TSR_RETURN_IF_ERROR(check_index_dtype(in, 1));
  if (idx.empty() || b < 0 || b >= static_cast<int64_t>(std::min(d.size(), idx.size()))) {
    return fail("batch_dims {} invalid for data {} and indices {}", b, shp(d), shp(idx));
  }
  const int64_t last = idx.back();
  if (last < 1 || b + last > static_cast<int64_t>(d.size()))
    return fail("indices {} index too many dims of data {}", shp(idx), shp(d));
  for (int64_t i = 0; i < b; ++i) {
    if (d[i] != idx[i]) return fail("batch dims differ: data {} vs indices {}", shp(d), shp(idx));
  }
  Shape o(idx.begin(), idx.end() - 1);
  o.insert(o.end(), d.begin() + b + last, d.end());
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status pad(const Node& n, const In& in, Out& out) {
  const auto pads = attr_ints(n.attrs, "pads");
  Shape o = in[0].second;
  if (pads.size() != 2 * o.size())
    return fail("pads has {} entries for input {}", pads.size(), shp(o));
  for (size_t i = 0; i < o.size(); ++i) {
    o[i] += pads[i] + pads[i + o.size()];
    if (o[i] < 0) return fail("pads {} make axis {} negative", shp(pads), i);
  }
  out[0] = {in[0].first, o};
  return Status::Ok();
}

Status cumsum(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(check_axis(attr_int(n.attrs, "axis", 0), rank_of(in, 0), "axis"));
  out[0] = in[0];
  return Status::Ok();
}

Status trilu(const Node&, const In& in, Out& out) {
  if (rank_of(in, 0) < 2) return fail("input {} must have rank >= 2", shp(in[0].second));
  out[0] = in[0];
  return Status::Ok();
}

}  // namespace tessera::ir::fns
