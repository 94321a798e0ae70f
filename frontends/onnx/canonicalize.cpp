// Per-op normalisation into the canonical form of docs/ops.md: explicit defaults, non-negative
// sorted axes, resolved shapes, auto_pad folded into pads, older-opset attribute spellings.
// Every error names the node, its op and the attribute at fault.
#include <algorithm>
#include <cmath>

#include "frontends/onnx/canonicalize.h"

namespace tessera::onnx_fe {

namespace {

Status softmax(Cn& c) {
  TSR_RETURN_IF_ERROR(c.norm_axis_attr("axis", c.c.opset >= 13 ? -1 : 1, c.rank()));
  if (c.c.opset < 13 && c.a()["axis"].i != c.rank() - 1) {
    return c.err("opset {} flattens at axis {}; only the last axis is supported before opset 13",
                 c.c.opset, c.a()["axis"].i);
  }
  return Status::Ok();
}

Status reduce(Cn& c) {
  TSR_RETURN_IF_ERROR(c.want("axes", Attr::kInts));
  TSR_RETURN_IF_ERROR(c.set_int_default("keepdims", 1));
  TSR_RETURN_IF_ERROR(c.set_int_default("noop_with_empty_axes", 0));
  std::vector<int64_t> axes = attr_ints(c.a(), "axes");
  const bool noop = c.a()["noop_with_empty_axes"].i != 0;
  c.a().erase("noop_with_empty_axes");
  if (axes.empty() && noop) {
    c.p.n.op = "Identity";
    c.a().clear();
    return Status::Ok();
  }
  if (axes.empty()) {
    for (int64_t i = 0; i < c.rank(); ++i) axes.push_back(i);
  }
  TSR_ASSIGN_OR_RETURN(axes, c.norm_axes(axes, c.rank()));
  c.a()["axes"] = Attr::Ints(axes);
  return Status::Ok();
}

Status reshape(Cn& c) {
  if (!attr_has(c.a(), "shape")) return c.err("input 'shape' is absent");
  Shape s = attr_ints(c.a(), "shape");
  const bool allowzero = attr_int(c.a(), "allowzero", 0) != 0;
  c.a().erase("allowzero");
  int infer_at = -1;
  int64_t known = 1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0 && !allowzero) {
      if (i >= c.shape().size())
        return c.err("shape {} copies dim {} which input {} lacks", shape_str(s), i,
                     shape_str(c.shape()));
      s[i] = c.shape()[i];
    }
    if (s[i] == -1) {
      if (infer_at >= 0) return c.err("shape {} has more than one -1", shape_str(s));
      infer_at = static_cast<int>(i);
    } else if (s[i] < 0) {
      return c.err("shape has invalid dim {}", s[i]);
    } else {
      known *= s[i];
    }
  }
  const int64_t total = num_elements(c.shape());
  if (infer_at >= 0) {
    if (known == 0 || total % known != 0)
      return c.err("cannot reshape {} to {}: -1 is not an integer", shape_str(c.shape()),
                   shape_str(attr_ints(c.a(), "shape")));
    s[infer_at] = total / known;
  }
  c.a()["shape"] = Attr::Ints(s);
  return Status::Ok();
}

Status expand(Cn& c) {
  auto b = ir::broadcast_shapes(c.shape(), attr_ints(c.a(), "shape"));
  if (!b.ok()) return c.err("{}", b.status().message());
  c.a()["shape"] = Attr::Ints(*b);
  return Status::Ok();
}

Status squeeze(Cn& c) {
  TSR_RETURN_IF_ERROR(c.want("axes", Attr::kInts));
  std::vector<int64_t> axes = attr_ints(c.a(), "axes");
  if (!attr_has(c.a(), "axes")) {
    for (int64_t i = 0; i < c.rank(); ++i) {
      if (c.shape()[i] == 1) axes.push_back(i);
    }
  }
  TSR_ASSIGN_OR_RETURN(axes, c.norm_axes(axes, c.rank()));
  c.a()["axes"] = Attr::Ints(axes);
  return Status::Ok();
}

Status unsqueeze(Cn& c) {
  TSR_RETURN_IF_ERROR(c.want("axes", Attr::kInts));
  if (!attr_has(c.a(), "axes")) return c.err("axes are required");
  const auto axes = attr_ints(c.a(), "axes");
  TSR_ASSIGN_OR_RETURN(auto v, c.norm_axes(axes, c.rank() + static_cast<int64_t>(axes.size())));
  c.a()["axes"] = Attr::Ints(v);
  return Status::Ok();
}

Status split(Cn& c) {
  TSR_RETURN_IF_ERROR(c.norm_axis_attr("axis", 0, c.rank()));
  const int64_t dim = c.shape()[c.a()["axis"].i];
  const int64_t n = static_cast<int64_t>(c.p.outputs.size());
  if (!attr_has(c.a(), "split")) {
    const int64_t parts = attr_int(c.a(), "num_outputs", n);
    if (parts != n || n < 1) return c.err("num_outputs {} but the node has {} outputs", parts, n);
    if (dim % n != 0 && c.c.opset < 18)
      return c.err("dim {} does not split evenly into {} outputs", dim, n);
    const int64_t chunk = (dim + n - 1) / n;  // opset 18: last chunk smaller
    std::vector<int64_t> sizes(n, chunk);
    sizes.back() = dim - chunk * (n - 1);
    if (sizes.back() < 0)
      return c.err("dim {} cannot be split into {} chunks of {}", dim, n, chunk);
    c.a()["split"] = Attr::Ints(sizes);
  }
  c.a().erase("num_outputs");
  return c.want("split", Attr::kInts);
}

// Per the spec: negative bounds count from the end, then clamp to [0, dim] for positive steps
// and [0, dim-1] / [-1, dim-1] (start / end) for negative ones.
Status slice(Cn& c) {
  auto st = attr_ints(c.a(), "starts"), en = attr_ints(c.a(), "ends");
  if (st.size() != en.size()) return c.err("starts has {} entries, ends {}", st.size(), en.size());
  std::vector<int64_t> ax = attr_ints(c.a(), "axes"), sp = attr_ints(c.a(), "steps");
  if (!attr_has(c.a(), "axes"))
    for (size_t i = 0; i < st.size(); ++i) ax.push_back(static_cast<int64_t>(i));
  if (!attr_has(c.a(), "steps")) sp.assign(st.size(), 1);
  if (ax.size() != st.size() || sp.size() != st.size())
    return c.err("starts/axes/steps sizes differ");
  for (size_t i = 0; i < st.size(); ++i) {
    TSR_ASSIGN_OR_RETURN(ax[i], c.norm("axis", ax[i], c.rank()));
    if (sp[i] == 0) return c.err("step 0 on axis {}", ax[i]);
    const int64_t d = c.shape()[ax[i]];
    auto fix = [d](int64_t x, int64_t lo, int64_t hi) {
      return std::min(std::max(x < 0 ? x + d : x, lo), hi);
    };
    st[i] = sp[i] > 0 ? fix(st[i], 0, d) : fix(st[i], 0, d - 1);
    en[i] = sp[i] > 0 ? fix(en[i], 0, d) : fix(en[i], -1, d - 1);
  }
  std::vector<int64_t> sorted = ax;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    return c.err("axes repeat an axis");
  c.a()["starts"] = Attr::Ints(st);
  c.a()["ends"] = Attr::Ints(en);
  c.a()["axes"] = Attr::Ints(ax);
  c.a()["steps"] = Attr::Ints(sp);
  return Status::Ok();
}

Status pad(Cn& c) {
  if (c.c.opset < 11 && attr_has(c.a(), "value")) {
    c.a()["constant_value"] = c.a()["value"];
    c.a().erase("value");
  }
  TSR_RETURN_IF_ERROR(c.want("pads", Attr::kInts));
  TSR_RETURN_IF_ERROR(c.set_float_default("constant_value", 0.0));
  if (!attr_has(c.a(), "mode")) c.a()["mode"] = Attr::Str("constant");
  const std::string mode = attr_str(c.a(), "mode", "");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    return c.err("mode '{}' is not valid", mode);
  std::vector<int64_t> pads = attr_ints(c.a(), "pads");
  std::vector<int64_t> axes = attr_ints(c.a(), "axes");
  const int64_t r = c.rank();
  if (!attr_has(c.a(), "axes"))
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  if (pads.size() != 2 * axes.size())
    return c.err("pads has {} entries for {} axes", pads.size(), axes.size());
  std::vector<int64_t> full(2 * r, 0);
  const size_t k = axes.size();
  for (size_t i = 0; i < k; ++i) {
    TSR_ASSIGN_OR_RETURN(int64_t x, c.norm("axis", axes[i], r));
    full[x] = pads[i];
    full[x + r] = pads[i + k];
  }
  c.a()["pads"] = Attr::Ints(full);
  c.a().erase("axes");
  return Status::Ok();
}

Status clip(Cn& c) {
  for (const char* k : {"min", "max"}) {
    if (attr_has(c.a(), k)) TSR_RETURN_IF_ERROR(c.set_float_default(k, 0.0));
  }
  return Status::Ok();
}

Status gemm(Cn& c) {
  TSR_RETURN_IF_ERROR(c.set_float_default("alpha", 1.0));
  TSR_RETURN_IF_ERROR(c.set_float_default("beta", 1.0));
  TSR_RETURN_IF_ERROR(c.set_int_default("transA", 0));
  return c.set_int_default("transB", 0);
}

Status transpose(Cn& c) {
  TSR_RETURN_IF_ERROR(c.want("perm", Attr::kInts));
  if (!attr_has(c.a(), "perm")) {
    std::vector<int64_t> perm;
    for (int64_t i = c.rank() - 1; i >= 0; --i) perm.push_back(i);
    c.a()["perm"] = Attr::Ints(perm);
  }
  return Status::Ok();
}

Status flatten(Cn& c) {
  TSR_RETURN_IF_ERROR(c.set_int_default("axis", 1));
  TSR_ASSIGN_OR_RETURN(c.a()["axis"].i, c.norm("axis", c.a()["axis"].i, c.rank() + 1));
  if (c.a()["axis"].i > c.rank()) return c.err("axis out of range");
  return Status::Ok();
}

Status axis0(Cn& c) { return c.norm_axis_attr("axis", 0, c.rank()); }
Status axis_last(Cn& c) { return c.norm_axis_attr("axis", -1, c.rank()); }

Status concat(Cn& c) {
  if (!attr_has(c.a(), "axis")) return c.err("attribute 'axis' is required");
  return axis0(c);
}

Status cumsum(Cn& c) {
  if (!attr_has(c.a(), "axis")) return c.err("input 'axis' is required");
  TSR_RETURN_IF_ERROR(axis0(c));
  TSR_RETURN_IF_ERROR(c.set_int_default("exclusive", 0));
  return c.set_int_default("reverse", 0);
}

Status trilu(Cn& c) {
  TSR_RETURN_IF_ERROR(c.set_int_default("upper", 1));
  return c.set_int_default("k", 0);
}

Status gather_nd(Cn& c) { return c.set_int_default("batch_dims", 0); }

Status cast(Cn& c) {
  if (!attr_has(c.a(), "to")) return c.err("attribute 'to' is required");
  c.a().erase("saturate");
  return c.want("to", Attr::kInt);
}

Status leaky_relu(Cn& c) { return c.set_float_default("alpha", 0.01); }

Status gelu(Cn& c) {
  if (!attr_has(c.a(), "approximate")) c.a()["approximate"] = Attr::Str("none");
  const std::string s = attr_str(c.a(), "approximate", "");
  if (s != "none" && s != "tanh") return c.err("approximate '{}' must be none or tanh", s);
  return Status::Ok();
}

Status batch_norm(Cn& c) {
  if (attr_int(c.a(), "training_mode", 0) != 0)
    return c.err("training_mode=1 is not supported (inference form only)");
  // momentum stays when given: train mode's running-statistics update reads it (default 0.9).
  for (const char* k : {"training_mode", "spatial", "is_test", "consumed_inputs"}) c.a().erase(k);
  return c.set_float_default("epsilon", 1e-5);
}

Status layer_norm(Cn& c) {
  c.a().erase("stash_type");
  TSR_RETURN_IF_ERROR(axis_last(c));
  return c.set_float_default("epsilon", 1e-5);
}

Status group_norm(Cn& c) {
  c.a().erase("stash_type");
  if (!attr_has(c.a(), "num_groups")) return c.err("attribute 'num_groups' is required");
  return c.set_float_default("epsilon", 1e-5);
}

}  // namespace

namespace {

struct Canon {
  const char* op;
  Status (*fn)(Cn&);
};

// Sorted by op; ops without an entry need no normalisation.
const Canon kCanon[] = {
    {"AveragePool", canon_window},
    {"BatchNormalization", batch_norm},
    {"Cast", cast},
    {"Clip", clip},
    {"Concat", concat},
    {"Conv", canon_window},
    {"ConvTranspose", canon_window},
    {"CumSum", cumsum},
    {"Expand", expand},
    {"Flatten", flatten},
    {"Gather", axis0},
    {"GatherElements", axis0},
    {"GatherND", gather_nd},
    {"Gelu", gelu},
    {"Gemm", gemm},
    {"GroupNormalization", group_norm},
    {"LayerNormalization", layer_norm},
    {"LeakyRelu", leaky_relu},
    {"LogSoftmax", softmax},
    {"MaxPool", canon_window},
    {"Pad", pad},
    {"ReduceMax", reduce},
    {"ReduceMean", reduce},
    {"ReduceMin", reduce},
    {"ReduceProd", reduce},
    {"ReduceSum", reduce},
    {"Reshape", reshape},
    {"Slice", slice},
    {"Softmax", softmax},
    {"Split", split},
    {"Squeeze", squeeze},
    {"Transpose", transpose},
    {"Trilu", trilu},
    {"Unsqueeze", unsqueeze},
};

}  // namespace

Status canonicalize(ImportCtx& c, PendingNode& p, const std::vector<ir::TypeShape>& in) {
  for (const Canon& k : kCanon) {
    if (p.n.op == k.op) {
      Cn cn{c, p, in};
      return k.fn(cn);
    }
  }
  return Status::Ok();
}

}  // namespace tessera::onnx_fe
