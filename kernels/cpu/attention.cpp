// FusedAttention and FusedAttentionGrad on the CPU (docs/ops.md, "Attention ops"): operand
// checks, dtype dispatch and the kernel table; the chunk loops are in attention_math.cpp.
// f32 and f64 compute in their own type. bf16/f16 operands are widened to f32 (one copy of q, k,
// v, dy, as every CPU kernel does) and the loops round scores, probabilities, dP and dS to the
// 16-bit dtype where the unfused 16-bit graph stores them; outputs are rounded once on store.
#include "cpu/attention_kernels.h"

#include <utility>

#include "cpu/attention_impl.h"

namespace tessera::kernels {
namespace cpu {
namespace {

bool is_float(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat64 || t == DType::kBFloat16 ||
         t == DType::kFloat16;
}

Status bad(const std::string& what) { return InvalidArgument(what); }

// Attribute layout: bhsd (default) or bshd ([..,S,H,D] operands, ir/attention_ops.h).
Status check_layout(const AttrMap& a, const Ins& in, bool* bshd) {
  const std::string l = attr_str(a, "layout", "bhsd");
  if (l != "bhsd" && l != "bshd") return bad("attribute 'layout' must be bhsd or bshd, got " + l);
  *bshd = l == "bshd";
  if (*bshd && in[0].shape.size() < 3)
    return bad("layout bshd needs q of rank >= 3 ([..,S,H,D]), got " + shape_str(in[0].shape));
  return Status::Ok();
}

// An operand's shape in bhsd order: [..,S,H,D] -> [..,H,S,D] under bshd (self-inverse).
Shape bhsd(bool bshd, Shape s) {
  if (bshd && s.size() >= 3) std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// q, k, v: one float dtype, one rank >= 2, equal leading dims, matching D and Sk (checked on
// their bhsd views; under bshd their heads dim joins the batch-heads).
Status check_qkv(const AttrMap& a, const Ins& in, AttnDims* d) {
  const TensorRef &q = in[0], &k = in[1], &v = in[2];
  if (!is_float(q.dtype)) return unsupported_dtype(q, "q");
  TSR_RETURN_IF_ERROR(check_same_dtype(q, k, "k"));
  TSR_RETURN_IF_ERROR(check_same_dtype(q, v, "v"));
  bool bshd = false;
  TSR_RETURN_IF_ERROR(check_layout(a, in, &bshd));
  const Shape qs = bhsd(bshd, q.shape), ks = bhsd(bshd, k.shape), vs = bhsd(bshd, v.shape);
  const size_t r = qs.size();
  const std::string qkv = "q " + shape_str(q.shape) + ", k " + shape_str(k.shape) + ", v " +
                          shape_str(v.shape) + (bshd ? " (layout bshd)" : "");
  if (r < 2 || ks.size() != r || vs.size() != r) return bad(qkv + " must have the same rank >= 2");
  d->n = 1;
  for (size_t i = 0; i + 2 < r; ++i) {
    if (qs[i] != ks[i] || qs[i] != vs[i]) return bad(qkv + ": leading dims must be equal");
    d->n *= qs[i];
  }
  d->bshd = bshd;
  d->heads = bshd ? qs[r - 3] : 1;
  d->sq = qs[r - 2];
  d->d = qs[r - 1];
  d->sk = ks[r - 2];
  d->dv = vs[r - 1];
  if (ks[r - 1] != d->d) return bad(qkv + ": q and k differ in head size");
  if (vs[r - 2] != d->sk) return bad(qkv + ": k and v differ in key count");
  return Status::Ok();
}

// scale (required), causal (0/1), chunk (>= 0) -> R rows per chunk.
Status check_attrs(const AttrMap& a, AttnDims* d) {
  if (!attr_has(a, "scale")) return bad("missing attribute 'scale'");
  d->scale = attr_float(a, "scale", 1.0);
  const int64_t causal = attr_int(a, "causal", 0), chunk = attr_int(a, "chunk", 0);
  if (causal != 0 && causal != 1)
    return bad("attribute 'causal' must be 0 or 1, got " + std::to_string(causal));
  if (chunk < 0) return bad("attribute 'chunk' must be >= 0, got " + std::to_string(chunk));
  d->causal = causal == 1;
  d->rows = chunk == 0 || chunk > d->sq ? d->sq : chunk;  // ir::attention_chunk_rows
  return Status::Ok();
}

// The optional additive mask: any float dtype, numpy-broadcast to the scores [..,Sq,Sk]
// (q's bhsd view with Sk keys, in either layout).
Status check_mask(const Ins& in, size_t at, AttnDims* d) {
  if (in.size() <= at || !in[at].present()) return Status::Ok();
  const TensorRef& m = in[at];
  if (!is_float(m.dtype)) return unsupported_dtype(m, "mask (additive, float)");
  Shape s = bhsd(d->bshd, in[0].shape);
  s.back() = d->sk;
  std::vector<int64_t> st;
  if (!broadcast_strides(m.shape, s, &st).ok())
    return bad("mask " + shape_str(m.shape) + " does not broadcast to the scores " + shape_str(s));
  const size_t r = s.size();
  d->mask = &m;
  d->mask_rs = st[r - 2];
  d->mask_cs = st[r - 1];
  d->mask_off.assign(static_cast<size_t>(d->n), 0);
  for (int64_t b = 0; b < d->n; ++b) {  // unravel b over the leading dims
    int64_t rest = b, off = 0;
    for (size_t i = r - 2; i-- > 0;) {
      off += (rest % s[i]) * st[i];
      rest /= s[i];
    }
    d->mask_off[static_cast<size_t>(b)] = off;
  }
  return Status::Ok();
}

// Output `o` must be q's dtype with shape `want`.
Status check_out(const Ins& in, const TensorRef& o, const Shape& want, const char* what) {
  TSR_RETURN_IF_ERROR(check_dtype(o, in[0].dtype, what));
  return check_out_shape(o, want, what);
}

// y's shape: q's (either layout) with v's head size.
Shape with_dv(Shape s, int64_t dv) {
  s.back() = dv;
  return s;
}

Shape with_last_two(Shape s, int64_t a, int64_t b) {
  s[s.size() - 2] = a;
  s.back() = b;
  return s;
}

Status check_forward(const AttrMap& a, const Ins& in, const Ins& out, AttnDims* d) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 4, 2));
  TSR_RETURN_IF_ERROR(check_qkv(a, in, d));
  TSR_RETURN_IF_ERROR(check_attrs(a, d));
  TSR_RETURN_IF_ERROR(check_mask(in, 3, d));
  TSR_RETURN_IF_ERROR(check_out(in, out[0], with_dv(in[0].shape, d->dv), "y"));
  return check_out(in, out[1], with_last_two(bhsd(d->bshd, in[0].shape), d->rows, d->sk), "ws");
}

Status check_backward(const AttrMap& a, const Ins& in, const Ins& out, AttnDims* d) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 4, 5, 5));
  TSR_RETURN_IF_ERROR(check_qkv(a, in, d));
  TSR_RETURN_IF_ERROR(check_attrs(a, d));
  TSR_RETURN_IF_ERROR(check_mask(in, 4, d));
  const Shape y = with_dv(in[0].shape, d->dv);
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[3], "dy"));
  if (in[3].shape != y)
    return bad("dy shape is " + shape_str(in[3].shape) + ", expected " + shape_str(y));
  TSR_RETURN_IF_ERROR(check_out(in, out[0], in[0].shape, "dq"));
  TSR_RETURN_IF_ERROR(check_out(in, out[1], in[1].shape, "dk"));
  TSR_RETURN_IF_ERROR(check_out(in, out[2], in[2].shape, "dv"));
  const Shape ws = with_last_two(bhsd(d->bshd, in[0].shape), d->rows, d->sk);
  TSR_RETURN_IF_ERROR(check_out(in, out[3], ws, "ws_p"));
  return check_out(in, out[4], ws, "ws_dp");
}

using CheckFn = Status (*)(const AttrMap&, const Ins&, const Ins&, AttnDims*);

// Checks, then runs the f32 or f64 loops; `round` is the 16-bit dtype the operands had before
// run_widened made them f32 (kUndefined otherwise).
template <CheckFn check, bool grad>
Status run_typed(const AttrMap& a, const Ins& in, const Ins& out, DType round) {
  AttnDims d;
  TSR_RETURN_IF_ERROR(check(a, in, out, &d));
  d.round = round;
  if (in[0].dtype == DType::kFloat32)
    return grad ? attention_backward<float>(d, in, out) : attention_forward<float>(d, in, out);
  if (in[0].dtype == DType::kFloat64)
    return grad ? attention_backward<double>(d, in, out) : attention_forward<double>(d, in, out);
  return unsupported_dtype(in[0], "q");
}

// The f32 loops on f32 copies of 16-bit operands, rounding to dtype R inside (a KernelFn for
// run_widened, which cannot pass the original dtype along).
template <CheckFn check, bool grad, DType R>
Status run_rounded(const AttrMap& a, const Ins& in, const Ins& out) {
  return run_typed<check, grad>(a, in, out, R);
}

// Checks the operands as given (so a bf16 q with an f16 k is refused before both are widened).
template <CheckFn check, bool grad>
Status run(const AttrMap& a, const Ins& in, const Ins& out) {
  AttnDims d;
  TSR_RETURN_IF_ERROR(check(a, in, out, &d));
  if (in[0].dtype == DType::kBFloat16)
    return run_widened(run_rounded<check, grad, DType::kBFloat16>, a, in, out);
  if (in[0].dtype == DType::kFloat16)
    return run_widened(run_rounded<check, grad, DType::kFloat16>, a, in, out);
  return run_typed<check, grad>(a, in, out, DType::kUndefined);
}

}  // namespace

Status FusedAttention(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<check_forward, false>(a, in, out);
}

Status FusedAttentionGrad(const AttrMap& a, const Ins& in, const Ins& out) {
  return run<check_backward, true>(a, in, out);
}

}  // namespace cpu

const std::vector<KernelEntry>& cpu_attention_kernel_table() {
  static const std::vector<KernelEntry> table = {
      {"FusedAttention", cpu::FusedAttention},
      {"FusedAttentionGrad", cpu::FusedAttentionGrad},
  };
  return table;
}

KernelFn find_cpu_attention_kernel(std::string_view op) {
  return find_in_table(cpu_attention_kernel_table(), op);
}

}  // namespace tessera::kernels
