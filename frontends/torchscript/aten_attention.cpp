// aten::scaled_dot_product_attention decomposed into MatMul / Softmax (the sharding rules and
// kernels know these; a fused attention op can be recovered later by pattern).
#include <cmath>
#include <limits>

#include "frontends/torchscript/aten_util.h"

namespace tessera::ts_fe {
namespace {

// The causal mask as a bool constant [L, S]: query i sees keys j <= i (top-left aligned, as
// torch's is_causal).
int causal_mask(Importer& c, int64_t l, int64_t s) {
  auto d = std::make_shared<ir::TensorData>();
  d->dtype = DType::kBool;
  d->shape = {l, s};
  d->bytes.resize(l * s);
  for (int64_t i = 0; i < l; ++i) {
    for (int64_t j = 0; j < s; ++j) d->bytes[i * s + j] = j <= i;
  }
  return c.constant(d, "causal_mask");
}

}  // namespace

Status cv_sdpa(Importer& c, const Args& a, TsVal& out) {
  TSR_ASSIGN_OR_RETURN(int q, arg_tensor(c, a, 0, "query"));
  TSR_ASSIGN_OR_RETURN(int k, arg_tensor(c, a, 1, "key"));
  TSR_ASSIGN_OR_RETURN(int v, arg_tensor(c, a, 2, "value"));
  int r = c.rank(q);
  if (r < 2 || c.rank(k) != r) return c.fail("scaled_dot_product_attention: bad ranks");
  const TsVal* gqa = a.get(7, "enable_gqa");
  if (given(gqa) && gqa->i && c.shape(q)[r - 3] != c.shape(k)[r - 3]) {
    return c.fail("scaled_dot_product_attention with enable_gqa is not supported");
  }
  double scale = 1.0 / std::sqrt(static_cast<double>(c.shape(q)[r - 1]));
  if (given(a.get(6, "scale"))) {
    TSR_ASSIGN_OR_RETURN(scale, c.to_double(*a.get(6, "scale")));
  }
  std::vector<int64_t> perm;
  for (int i = 0; i < r; ++i) perm.push_back(i);
  std::swap(perm[r - 1], perm[r - 2]);
  TSR_ASSIGN_OR_RETURN(int kt, c.emit1("Transpose", {k}, {{"perm", Attr::Ints(perm)}}));
  TSR_ASSIGN_OR_RETURN(int s, c.emit1("MatMul", {q, kt}));
  TSR_ASSIGN_OR_RETURN(s, c.emit1("Mul", {s, c.scalar(c.dtype(s), scale)}));
  const TsVal* mask = a.get(3, "attn_mask");
  const TsVal* causal = a.get(5, "is_causal");
  int neg_inf = c.scalar(c.dtype(s), -std::numeric_limits<double>::infinity());
  if (given(causal) && causal->i) {
    int m = causal_mask(c, c.shape(q)[r - 2], c.shape(k)[r - 2]);
    TSR_ASSIGN_OR_RETURN(s, c.emit1("Where", {m, s, neg_inf}));
  }
  if (given(mask)) {
    TSR_ASSIGN_OR_RETURN(int m, c.tensor_arg(mask, "attn_mask"));
    if (c.dtype(m) == DType::kBool) {
      TSR_ASSIGN_OR_RETURN(s, c.emit1("Where", {m, s, neg_inf}));
    } else {
      TSR_ASSIGN_OR_RETURN(m, c.cast(m, c.dtype(s)));
      TSR_ASSIGN_OR_RETURN(s, c.emit1("Add", {s, m}));
    }
  }
  TSR_ASSIGN_OR_RETURN(int p, c.emit1("Softmax", {s}, {{"axis", Attr::Int(r - 1)}}));
  return set_tensor(c.emit1("MatMul", {p, v}), out);
}

}  // namespace tessera::ts_fe
