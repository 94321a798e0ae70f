// Lifted attributes derived from input and recorded output shapes, for graph-only models whose
// integer initializers carry no data. Exact for Reshape, Expand, Tile, Split, Squeeze,
// Unsqueeze; for Slice, Pad and reductions the shapes are exact but offsets are assumed (start
// at 0, pad at the end), which is enough to plan and cost a model that cannot run anyway.
#include <algorithm>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

namespace {

// Positions of the extra size-1 dims of `big` relative to `small`. Matches from the right, so
// an ambiguous case (unknown dims, -1) resolves to trailing new axes, the exporters' unsqueeze(-1).
std::vector<int64_t> extra_ones(const Shape& big, const Shape& small) {
  std::vector<int64_t> axes;
  size_t j = small.size();
  for (size_t i = big.size(); i-- > 0;) {
    const bool spare = i + 1 > j;  // more dims left in big than in small
    const bool wild = big[i] < 0 || (j > 0 && small[j - 1] < 0);
    if (j == 0 || (spare && (big[i] == 1 || big[i] < 0))) {
      axes.push_back(static_cast<int64_t>(i));  // prefer a trailing new axis when ambiguous
    } else if (wild || big[i] == small[j - 1]) {
      --j;
    } else {
      axes.push_back(static_cast<int64_t>(i));
    }
  }
  std::reverse(axes.begin(), axes.end());
  return axes;
}

std::vector<int64_t> differing(const Shape& a, const Shape& b) {
  std::vector<int64_t> axes;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    if (b[i] >= 0 && a[i] != b[i]) axes.push_back(static_cast<int64_t>(i));
  }
  return axes;
}

}  // namespace

ir::TensorDataPtr zero_tensor(DType t, const Shape& s) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = t;
  d->shape = s;
  d->bytes.assign(num_elements(s) * dtype_size(t), 0);
  return d;
}

Status derive_lifted(ImportCtx& c, PendingNode& p, const std::vector<ir::TypeShape>& in,
                     const std::vector<ir::TypeShape>& out) {
  AttrMap& a = p.n.attrs;
  const std::string& op = p.n.op;
  const Shape& x = in.at(0).second;
  const Shape& y = out.at(0).second;
  ++c.derived;
  if (op == "Reshape") {
    a["shape"] = Attr::Ints(y);  // one unknown dim (-1) is resolved by canonicalize
  } else if (op == "Expand") {
    Shape s = y;
    for (int64_t& d : s) d = d < 0 ? 1 : d;  // unknown: keep the input's dim
    a["shape"] = Attr::Ints(s);
  } else if (op == "Tile") {
    std::vector<int64_t> r;
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      r.push_back(x[i] && y[i] >= 0 ? y[i] / x[i] : 1);
    a["repeats"] = Attr::Ints(r);
  } else if (op == "Split") {
    const int64_t axis = attr_int(a, "axis", 0) < 0
                             ? attr_int(a, "axis", 0) + static_cast<int64_t>(x.size())
                             : attr_int(a, "axis", 0);
    std::vector<int64_t> sizes;
    for (const auto& o : out)
      sizes.push_back(axis >= 0 && axis < static_cast<int64_t>(o.second.size()) ? o.second[axis]
                                                                                : 0);
    a["split"] = Attr::Ints(sizes);
  } else if (op == "Squeeze") {
    a["axes"] = Attr::Ints(extra_ones(x, y));
  } else if (op == "Unsqueeze") {
    a["axes"] = Attr::Ints(extra_ones(y, x));
  } else if (op == "Slice") {
    const auto axes = differing(x, y);
    a["axes"] = Attr::Ints(axes);
    a["starts"] = Attr::Ints(std::vector<int64_t>(axes.size(), 0));
    std::vector<int64_t> ends;
    for (int64_t ax : axes) ends.push_back(y[ax]);
    a["ends"] = Attr::Ints(ends);
    a["steps"] = Attr::Ints(std::vector<int64_t>(axes.size(), 1));
  } else if (op == "Pad") {
    std::vector<int64_t> pads(2 * x.size(), 0);
    for (size_t i = 0; i < x.size() && i < y.size(); ++i)
      pads[i + x.size()] = y[i] < 0 ? 0 : y[i] - x[i];
    a["pads"] = Attr::Ints(pads);
  } else if (op.rfind("Reduce", 0) == 0) {
    const bool keep = attr_int(a, "keepdims", 1) != 0;
    a["axes"] = Attr::Ints(keep ? differing(x, y) : extra_ones(x, y));
    if (attr_ints(a, "axes").empty()) a["noop_with_empty_axes"] = Attr::Int(1);
  } else if (op == "CumSum" || op == "Trilu") {
    a.emplace(op == "CumSum" ? "axis" : "k", Attr::Int(0));
  }
  // Clip: unknown bounds are left absent (no clipping); shapes are unaffected.
  return Status::Ok();
}

}  // namespace tessera::onnx_fe
