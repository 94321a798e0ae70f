// Internal: helpers shared by the per-op canonicalisers (canonicalize*.cpp).
#pragma once
#include <algorithm>

#include "frontends/onnx/import_internal.h"

namespace tessera::onnx_fe {

struct Cn {
  ImportCtx& c;
  PendingNode& p;
  const std::vector<ir::TypeShape>& in;
  AttrMap& a() { return p.n.attrs; }
  int64_t rank(size_t i = 0) const { return static_cast<int64_t>(in[i].second.size()); }
  const Shape& shape(size_t i = 0) const { return in[i].second; }
  template <class... A>
  Status err(fmt::format_string<A...> f, A&&... args) {
    return invalid("node '{}' ({}): {}", p.n.name, p.n.op,
                   fmt::format(f, std::forward<A>(args)...));
  }
  // A present attribute must have the expected kind; absent ones get `dflt` when given.
  Status want(const char* key, Attr::Kind kind) {
    auto it = a().find(key);
    if (it != a().end() && it->second.kind != kind)
      return err("attribute '{}' has the wrong type", key);
    return Status::Ok();
  }
  Status set_int_default(const char* key, int64_t dflt) {
    TSR_RETURN_IF_ERROR(want(key, Attr::kInt));
    a().emplace(key, Attr::Int(dflt));
    return Status::Ok();
  }
  Status set_float_default(const char* key, double dflt) {
    auto it = a().find(key);
    if (it != a().end() && it->second.kind == Attr::kInt)
      it->second = Attr::Float(static_cast<double>(it->second.i));
    TSR_RETURN_IF_ERROR(want(key, Attr::kFloat));
    a().emplace(key, Attr::Float(dflt));
    return Status::Ok();
  }
  StatusOr<int64_t> norm(const char* what, int64_t x, int64_t r) {
    if (x < -r || x >= r) return err("{} {} out of range for rank {}", what, x, r);
    return x < 0 ? x + r : x;
  }
  // Normalises an int attribute axis in place (default applied first).
  Status norm_axis_attr(const char* key, int64_t dflt, int64_t r) {
    TSR_RETURN_IF_ERROR(set_int_default(key, dflt));
    TSR_ASSIGN_OR_RETURN(a()[key].i, norm(key, a()[key].i, r));
    return Status::Ok();
  }
  StatusOr<std::vector<int64_t>> norm_axes(std::vector<int64_t> axes, int64_t r) {
    for (int64_t& x : axes) {
      TSR_ASSIGN_OR_RETURN(x, norm("axis", x, r));
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      return err("axes repeat an axis");
    return axes;
  }
};

// Conv, ConvTranspose, MaxPool, AveragePool: explicit window attributes, auto_pad -> pads.
Status canon_window(Cn& c);

}  // namespace tessera::onnx_fe
