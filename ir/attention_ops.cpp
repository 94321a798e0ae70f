// Shape and dtype inference for FusedAttention and FusedAttentionGrad (ir/attention_ops.h).
#include "ir/attention_ops.h"

#include <utility>

#include "ir/shape_fns.h"

namespace tessera::ir {
namespace {

using fns::fail;
using fns::In;
using fns::Out;
using fns::shp;

bool present(const In& in, size_t i) { return in.size() > i && in[i].first != DType::kUndefined; }

// Checks q, k, v (and the optional additive mask at `mask_at`); returns the workspace shape.
// Under layout bshd the checks run on the operands' bhsd views (the messages say so).
Status check_qkv(const Node& n, const In& in, size_t mask_at, Shape* ws) {
  const std::string layout = attr_str(n.attrs, "layout", "bhsd");
  if (layout != "bhsd" && layout != "bshd")
    return fail("attribute 'layout' must be bhsd or bshd, got '{}'", layout);
  if (layout == "bshd" && in[0].second.size() < 3)
    return fail("layout bshd needs q of rank >= 3 ([..,S,H,D]), got {}", shp(in[0].second));
  const Shape q = attention_bhsd_shape(n.attrs, in[0].second),
              k = attention_bhsd_shape(n.attrs, in[1].second),
              v = attention_bhsd_shape(n.attrs, in[2].second);
  const DType t = in[0].first;
  if (!dtype_is_float(t)) return fail("q must be float, got {}", dtype_name(t));
  if (in[1].first != t || in[2].first != t)
    return fail("q, k, v must share a dtype, got {}, {}, {}", dtype_name(t),
                dtype_name(in[1].first), dtype_name(in[2].first));
  const size_t r = q.size();
  if (r < 2 || k.size() != r || v.size() != r)
    return fail("q {}, k {}, v {} must have the same rank >= 2", shp(q), shp(k), shp(v));
  for (size_t d = 0; d + 2 < r; ++d)
    if (q[d] != k[d] || q[d] != v[d])
      return fail("leading dims of q {}, k {}, v {} must be equal", shp(q), shp(k), shp(v));
  if (q[r - 1] != k[r - 1]) return fail("q {} and k {} differ in head size", shp(q), shp(k));
  if (k[r - 2] != v[r - 2]) return fail("k {} and v {} differ in key count", shp(k), shp(v));
  if (!attr_has(n.attrs, "scale")) return fail("missing attribute 'scale'");
  const int64_t causal = attr_int(n.attrs, "causal", 0), chunk = attr_int(n.attrs, "chunk", 0);
  if (causal != 0 && causal != 1) return fail("attribute 'causal' must be 0 or 1, got {}", causal);
  if (chunk < 0) return fail("attribute 'chunk' must be >= 0, got {}", chunk);
  if (present(in, mask_at)) {
    const Shape& m = in[mask_at].second;
    if (!dtype_is_float(in[mask_at].first))
      return fail("mask must be float (additive), got {}", dtype_name(in[mask_at].first));
    Shape s = q;
    s[r - 1] = k[r - 2];
    if (m.size() > r) return fail("mask {} has a higher rank than the scores {}", shp(m), shp(s));
    for (size_t d = 0; d < m.size(); ++d) {
      const int64_t sd = s[r - m.size() + d];
      if (m[d] != 1 && m[d] != sd)
        return fail("mask {} does not broadcast to the scores {}", shp(m), shp(s));
    }
  }
  *ws = q;
  ws->back() = k[r - 2];
  (*ws)[r - 2] = attention_chunk_rows(n.attrs, q[r - 2]);
  return Status::Ok();
}

Status attention(const Node& n, const In& in, Out& out) {
  Shape ws;
  TSR_RETURN_IF_ERROR(check_qkv(n, in, 3, &ws));
  if (out.size() != 2) return fail("expects 2 outputs (y, ws), got {}", out.size());
  Shape y = in[0].second;  // q's shape in either layout, with v's head size
  y.back() = in[2].second.back();
  out[0] = {in[0].first, y};
  out[1] = {in[0].first, ws};
  return Status::Ok();
}

Status attention_grad(const Node& n, const In& in, Out& out) {
  Shape ws;
  TSR_RETURN_IF_ERROR(check_qkv(n, in, 4, &ws));
  Shape y = in[0].second;
  y.back() = in[2].second.back();
  if (in[3].first != in[0].first || in[3].second != y)
    return fail("dy {} {} must be {} {}", dtype_name(in[3].first), shp(in[3].second),
                dtype_name(in[0].first), shp(y));
  if (out.size() != 5)
    return fail("expects 5 outputs (dq, dk, dv, ws_p, ws_dp), got {}", out.size());
  for (int i = 0; i < 3; ++i) out[i] = in[i];
  out[3] = out[4] = {in[0].first, ws};
  return Status::Ok();
}

}  // namespace

int64_t attention_chunk_rows(const AttrMap& attrs, int64_t sq) {
  const int64_t c = attr_int(attrs, "chunk", 0);
  return c <= 0 || c > sq ? sq : c;
}

bool attention_bshd(const AttrMap& attrs) { return attr_str(attrs, "layout", "bhsd") == "bshd"; }

int attention_seq_dim(const AttrMap& attrs, size_t rank) {
  return static_cast<int>(rank) - (attention_bshd(attrs) ? 3 : 2);
}

Shape attention_bhsd_shape(const AttrMap& attrs, Shape s) {
  if (attention_bshd(attrs) && s.size() >= 3) std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

const std::vector<OpInfo>& attention_op_table() {
  static const std::vector<OpInfo> table = {
      {"FusedAttention", 3, 4, 2, attention, {}},
      {"FusedAttentionGrad", 4, 5, 5, attention_grad, {}},
  };
  return table;
}

const OpInfo* find_attention_op(std::string_view name) {
  return find_in_table(attention_op_table(), name);
}

}  // namespace tessera::ir
