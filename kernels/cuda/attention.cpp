// FusedAttention and FusedAttentionGrad (docs/ops.md, "Attention ops") on CUDA: cuBLASLt
// strided-batched GEMMs over the N = prod(leading dims) batch-heads plus the row kernels of
// attention.cu, one chunk of R query rows at a time, the scores of a chunk in the op's `ws`
// outputs (arena scratch sized by the planner; nothing is allocated here).
//
// Forward, per chunk c:   ws = scale·q_c·kᵀ (GEMM, scale as alpha)
//                         ws = softmax(ws + mask, causal)            (row kernel, in place)
//                         y_c = ws·v                                  (GEMM)
// Backward, per chunk c:  ws_p = P_c recomputed as above; ws_dp = dy_c·vᵀ
//                         ws_dp = P∘(dP − rowsum(P∘dP)) = dS/scale   (row kernel, in place)
//                         dq_c = scale·dS'·k, dk (+)= scale·dS'ᵀ·q_c, dv (+)= Pᵀ·dy_c
// The scale multiplies only through alpha, exactly once per gradient; dk and dv start with
// beta = 0 and accumulate with beta = 1 (in their own dtype: 16-bit dk/dv round once per chunk).
// This path takes any float dtype and head sizes; only R×Sk scores per batch-head exist at a
// time. Costs: the scores cross HBM three times per chunk forward (GEMM write, row kernel
// read+write, GEMM read), which made it ~9x slower than flash attention at gpt2 size.
//
// f16/bf16 with D = Dv, D % 16 == 0 and D <= 128 take the flash kernels instead
// (flash_attention.h: no scores in memory, causal skips the masked key blocks);
// TESSERA_ATTENTION_KERNEL=gemm keeps this path for everything.
//
// Layout bshd (q, k, v, y, dy, dq, dk, dv as [B..,S,H,D]): the flash kernels take the row stride
// H·D and per-head offsets. cuBLASLt's strided batches have one stride, and the batch-heads of
// [B,S,H,D] need two (D between heads, S·H·D between batches), so each GEMM here runs once per
// batch over H heads (ld = H·D, batch stride D): B calls instead of one, no copies.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <string>
#include <utility>

#include "cuda/attention.h"
#include "cuda/flash_attention.h"
#include "cuda/lt_util.h"

namespace tessera::kernels::cuda {
namespace {

// Row-major C[M,N] = alpha·op(A)·op(B) + beta·C over `batch` matrices, `outer` times; an
// operand's matrices are `s*` elements apart within a call, `o*` elements apart between the
// outer calls, and its rows `ld*` elements apart (0: dense, its stored row length).
struct Mm {
  bool ta = false, tb = false;  // A stored [K,M], B stored [N,K]
  int64_t M = 0, N = 0, K = 0, batch = 1, outer = 1;
  const void *a = nullptr, *b = nullptr;
  void* c = nullptr;
  int64_t sa = 0, sb = 0, sc = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
  int64_t oa = 0, ob = 0, oc = 0;
  float alpha = 1.f, beta = 0.f;
};

// The alignment cuBLASLt may assume for every matrix of an operand: the base address's, the
// batch stride's, the row stride's and the outer stride's (bytes), whichever is smaller. Chunk
// offsets make them vary with the shapes.
uint32_t batch_alignment(const void* p, std::initializer_list<int64_t> strides_elems, int64_t es) {
  uint32_t a = lt_alignment(p);
  for (int64_t st : strides_elems)
    while (a > 1 && (st * es) % a != 0) a /= 2;
  return a;
}

Status lt_types(const CudaContext& ctx, DType dt, cudaDataType_t* t, cublasComputeType_t* ct) {
  *ct = CUBLAS_COMPUTE_32F;
  switch (dt) {
    case DType::kFloat32:
      *t = CUDA_R_32F;
      if (ctx.allow_tf32) *ct = CUBLAS_COMPUTE_32F_FAST_TF32;  // the session's policy, as MatMul
      return Status::Ok();
    case DType::kFloat16:
      *t = CUDA_R_16F;
      return Status::Ok();
    case DType::kBFloat16:
      *t = CUDA_R_16BF;
      return Status::Ok();
    default:
      return Unimplemented(std::string("attention of ") + dtype_name(dt) + " (f32, f16, bf16)");
  }
}

// K = 0 (head size or value size 0): the product is 0, which cuBLASLt does not compute.
Status zero_product(CudaContext& ctx, const Mm& g, int64_t es) {
  if (g.beta != 0.f) return Status::Ok();
  if (g.ldc == 0 || g.ldc == g.N) {  // dense matrices: one 2-D memset per outer call
    const size_t w = static_cast<size_t>(g.M * g.N * es);
    const size_t pitch = std::max(w, static_cast<size_t>(g.sc * es));  // sc = 0 for batch 1
    for (int64_t o = 0; o < g.outer; ++o)
      TSR_RETURN_IF_ERROR(
          cuda_status(cudaMemset2DAsync(static_cast<uint8_t*>(g.c) + o * g.oc * es, pitch, 0, w,
                                        static_cast<size_t>(g.batch), ctx.stream),
                      "cudaMemset2DAsync"));
    return Status::Ok();
  }
  for (int64_t o = 0; o < g.outer; ++o)  // rows ldc apart: one 2-D memset per matrix
    for (int64_t i = 0; i < g.batch; ++i)
      TSR_RETURN_IF_ERROR(cuda_status(
          cudaMemset2DAsync(static_cast<uint8_t*>(g.c) + (o * g.oc + i * g.sc) * es,
                            static_cast<size_t>(g.ldc * es), 0, static_cast<size_t>(g.N * es),
                            static_cast<size_t>(g.M), ctx.stream),
          "cudaMemset2DAsync"));
  return Status::Ok();
}

// Row-major as column-major, as gemm.cpp: C = A·B is computed as Cᵀ = Bᵀ·Aᵀ, no copies.
Status gemm(CudaContext& ctx, DType dt, const Mm& g) {
  if (g.M == 0 || g.N == 0 || g.batch == 0) return Status::Ok();
  const int64_t es = dtype_size(dt);
  if (g.K == 0) return zero_product(ctx, g, es);
  cudaDataType_t t;
  cublasComputeType_t ct;
  TSR_RETURN_IF_ERROR(lt_types(ctx, dt, &t, &ct));
  LtDescs d;
  TSR_LT(cublasLtMatmulDescCreate(&d.op, ct, CUDA_R_32F));
  const cublasOperation_t opa = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  const int64_t lda = g.lda ? g.lda : (g.ta ? g.M : g.K), ldb = g.ldb ? g.ldb : (g.tb ? g.K : g.N),
                ldc = g.ldc ? g.ldc : g.N;
  TSR_RETURN_IF_ERROR(lt_layout(&d.la, t, g.tb ? g.K : g.N, g.tb ? g.N : g.K, ldb, g.batch, g.sb));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lb, t, g.ta ? g.M : g.K, g.ta ? g.K : g.M, lda, g.batch, g.sa));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lc, t, g.N, g.M, ldc, g.batch, g.sc));
  char key[320];
  std::snprintf(
      key, sizeof key, "attn %d %d %d %d %lld %lld %lld %lld %lld %lld %lld %d %lld %lld %lld",
      static_cast<int>(dt), g.ta, g.tb, static_cast<int>(ct), (long long)g.M, (long long)g.N,
      (long long)g.K, (long long)g.batch, (long long)g.sa, (long long)g.sb, (long long)g.sc,
      g.beta != 0.f, (long long)lda, (long long)ldb, (long long)ldc);
  cublasLtMatmulAlgo_t algo;
  // cuBLASLt's A is our B (column-major view), so the alignments swap too.
  TSR_RETURN_IF_ERROR(lt_algo(ctx, key, d, &algo, batch_alignment(g.b, {g.sb, ldb, g.ob}, es),
                              batch_alignment(g.a, {g.sa, lda, g.oa}, es),
                              batch_alignment(g.c, {g.sc, ldc, g.oc}, es)));
  for (int64_t o = 0; o < g.outer; ++o) {
    const void* pa = static_cast<const uint8_t*>(g.a) + o * g.oa * es;
    const void* pb = static_cast<const uint8_t*>(g.b) + o * g.ob * es;
    void* pc = static_cast<uint8_t*>(g.c) + o * g.oc * es;
    TSR_LT(cublasLtMatmul(ctx.lt, d.op, &g.alpha, pb, d.la, pa, d.lb, &g.beta, pc, d.lc, pc, d.lc,
                          &algo, ctx.workspace, static_cast<size_t>(ctx.workspace_bytes),
                          ctx.stream));
  }
  return Status::Ok();
}

// One call's shapes: leading dims flattened to n batch-heads, r query rows per chunk. lead: the
// scores' leading dims (bshd: the batch dims and H).
struct Attn {
  DType dt = DType::kUndefined;
  Shape lead;
  bool bshd = false;
  int64_t heads = 1;  // bshd: H; the GEMMs then run n / H times over H heads
  int64_t n = 0, sq = 0, sk = 0, d = 0, dv = 0, r = 0;
  float scale = 1.f;
  bool causal = false;
  AttnMask mask;
};

Status mask_type(DType t, int* code) {
  switch (t) {
    case DType::kFloat32:
      *code = kMaskF32;
      return Status::Ok();
    case DType::kFloat16:
      *code = kMaskF16;
      return Status::Ok();
    case DType::kBFloat16:
      *code = kMaskBF16;
      return Status::Ok();
    case DType::kFloat64:
      *code = kMaskF64;
      return Status::Ok();
    default:
      return InvalidArgument(std::string("mask must be float (additive), got ") + dtype_name(t));
  }
}

// The mask's broadcast strides against the scores [lead.., Sq, Sk], split into the lead part
// (a Dims walked per batch-head) and the row and column strides.
Status setup_mask(const TensorRef& m, Attn* a) {
  TSR_RETURN_IF_ERROR(mask_type(m.dtype, &a->mask.dtype));
  Shape scores = a->lead;
  scores.push_back(a->sq);
  scores.push_back(a->sk);
  std::vector<int64_t> st;
  TSR_RETURN_IF_ERROR(cpu::broadcast_strides(m.shape, scores, &st));
  const size_t r = scores.size();
  a->mask.row_stride = st[r - 2];
  a->mask.col_stride = st[r - 1];
  st.resize(r - 2);
  TSR_RETURN_IF_ERROR(make_dims(a->lead, {st}, &a->mask.lead));
  a->mask.data = m.data;
  return Status::Ok();
}

// An operand's shape in bhsd order ([..,S,H,D] -> [..,H,S,D] under bshd; self-inverse).
Shape bhsd(bool bshd, Shape s) {
  if (bshd && s.size() >= 3) std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// Checks q, k, v (in[0..2]), the optional mask at in[mask_at] and the scratch `ws`.
Status setup(const AttrMap& attrs, const Ins& in, size_t mask_at, const TensorRef& ws, Attn* a) {
  const std::string layout = attr_str(attrs, "layout", "bhsd");
  if (layout != "bhsd" && layout != "bshd")
    return InvalidArgument("attribute 'layout' must be bhsd or bshd, got " + layout);
  a->bshd = layout == "bshd";
  if (a->bshd && in[0].shape.size() < 3)
    return InvalidArgument("layout bshd needs q of rank >= 3 ([..,S,H,D])");
  const Shape q = bhsd(a->bshd, in[0].shape), k = bhsd(a->bshd, in[1].shape),
              v = bhsd(a->bshd, in[2].shape);
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "k"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "v"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], ws, "ws"));
  const size_t rank = q.size();
  if (rank < 2 || k.size() != rank || v.size() != rank)
    return InvalidArgument("q, k, v must have the same rank >= 2");
  a->dt = in[0].dtype;
  a->lead.assign(q.begin(), q.end() - 2);
  if (Shape(k.begin(), k.end() - 2) != a->lead || Shape(v.begin(), v.end() - 2) != a->lead)
    return InvalidArgument("leading dims of q, k, v must be equal");
  a->n = num_elements(a->lead);
  a->heads = a->bshd ? q[rank - 3] : 1;
  a->sq = q[rank - 2], a->d = q[rank - 1], a->sk = k[rank - 2], a->dv = v[rank - 1];
  if (k[rank - 1] != a->d || v[rank - 2] != a->sk)
    return InvalidArgument("k must be [..,Sk,D] and v [..,Sk,Dv] for q [..,Sq,D]");
  if (!attr_has(attrs, "scale")) return InvalidArgument("missing attribute 'scale'");
  a->scale = static_cast<float>(attr_float(attrs, "scale", 1.0));
  a->causal = attr_int(attrs, "causal", 0) != 0;
  const int64_t chunk = attr_int(attrs, "chunk", 0);  // ir::attention_chunk_rows
  a->r = chunk <= 0 || chunk > a->sq ? a->sq : chunk;
  Shape want = a->lead;
  want.push_back(a->r);
  want.push_back(a->sk);
  TSR_RETURN_IF_ERROR(check_out_shape(ws, want, "ws"));
  if (in.size() > mask_at && in[mask_at].present()) TSR_RETURN_IF_ERROR(setup_mask(in[mask_at], a));
  return Status::Ok();
}

// The GEMMs' batching: all n batch-heads in one call (bhsd), or H heads per call, one call per
// batch (bshd).
void batches(const Attn& a, Mm* g) {
  g->batch = a.bshd ? a.heads : a.n;
  g->outer = a.bshd ? (a.heads > 0 ? a.n / a.heads : 0) : 1;
}

// Row stride of a q/k/v-like operand with rows of w elements.
int64_t row(const Attn& a, int64_t w) { return a.bshd ? a.heads * w : w; }

// Strides of a q/k/v-like operand of s rows of w elements: between the matrices of one call
// (st), rows (ld, 0 = dense) and calls (os). bhsd: dense [n, s, w]; bshd: heads w apart, rows
// H·w apart, batches s·H·w apart.
void view(const Attn& a, int64_t s, int64_t w, int64_t* st, int64_t* ld, int64_t* os) {
  *st = a.bshd ? w : s * w;
  *ld = a.bshd ? a.heads * w : 0;
  *os = a.bshd ? s * a.heads * w : 0;
}

// The scratch ws [n, R, Sk] (dense in both layouts).
void ws_view(const Attn& a, int64_t* st, int64_t* os) {
  *st = a.r * a.sk;
  *os = a.heads * a.r * a.sk;
}

// P of chunk rows [r0, r0 + rows) into ws: the scores GEMM, then the masked softmax.
Status probabilities(CudaContext& ctx, const Attn& a, const void* q, const void* k, void* ws,
                     int64_t r0, int64_t rows) {
  const int64_t es = dtype_size(a.dt);
  Mm s;
  s.tb = true;
  s.M = rows, s.N = a.sk, s.K = a.d;
  batches(a, &s);
  s.a = static_cast<const uint8_t*>(q) + r0 * row(a, a.d) * es;
  view(a, a.sq, a.d, &s.sa, &s.lda, &s.oa);
  s.b = k;
  view(a, a.sk, a.d, &s.sb, &s.ldb, &s.ob);
  s.c = ws;
  ws_view(a, &s.sc, &s.oc);
  s.alpha = a.scale;
  TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, s));
  const AttnRows rr{a.n, rows, r0, a.sk, a.r * a.sk};
  return attn_softmax_rows(ctx, a.dt, ws, rr, a.mask, a.causal);
}

Status zero(CudaContext& ctx, const TensorRef& t) {
  if (t.bytes() == 0) return Status::Ok();  // empty tensors may have no address
  return cuda_status(cudaMemsetAsync(t.data, 0, static_cast<size_t>(t.bytes()), ctx.stream),
                     "cudaMemsetAsync");
}

bool aligned16(const std::vector<const void*>& ps) {
  for (const void* p : ps)
    if (reinterpret_cast<uintptr_t>(p) % 16 != 0) return false;
  return true;
}

// The flash kernels' conditions besides the scratch: dtype and head sizes, the switch,
// 16-byte aligned tensors (they load rows as 16-byte vectors; D % 16 == 0 keeps every row so),
// and a device with the shared memory they need (else the GEMM path, not a launch error).
bool flash_applies(const Attn& a, const std::vector<const void*>& tensors, bool backward) {
  return flash_attention_fits(a.dt, a.d, a.dv) &&
         flash_attention_preferred(backward, a.mask.data != nullptr) && aligned16(tensors) &&
         flash_attention_smem_fits(a.d, backward);
}

FlashShape flash_shape(const Attn& a) {
  FlashShape s;
  s.n = a.n, s.sq = a.sq, s.sk = a.sk, s.d = a.d, s.scale = a.scale, s.causal = a.causal;
  s.heads = a.heads;
  s.mask = a.mask;
  return s;
}

Shape with_last2(Shape lead, int64_t a, int64_t b) {
  lead.push_back(a);
  lead.push_back(b);
  return lead;
}

// A q/k/v-like operand's shape in the call's layout: [lead.., s, w] or [batch.., s, H, w].
Shape operand_shape(const Attn& a, int64_t s, int64_t w) {
  return bhsd(a.bshd, with_last2(a.lead, s, w));
}

}  // namespace

Status FusedAttention(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 4, 2));
  Attn a;
  TSR_RETURN_IF_ERROR(setup(attrs, in, 3, out[1], &a));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "y"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], operand_shape(a, a.sq, a.dv), "y"));
  if (out[0].numel() == 0) return Status::Ok();
  if (a.sk == 0) return zero(ctx, out[0]);  // every key "masked": y = 0
  if (flash_applies(a, {in[0].data, in[1].data, in[2].data, out[0].data}, false))
    return flash_attention_forward(ctx, a.dt, flash_shape(a), in[0].data, in[1].data, in[2].data,
                                   out[0].data);
  const int64_t es = dtype_size(a.dt);
  for (int64_t r0 = 0; r0 < a.sq; r0 += a.r) {
    const int64_t rows = std::min(a.r, a.sq - r0);
    TSR_RETURN_IF_ERROR(probabilities(ctx, a, in[0].data, in[1].data, out[1].data, r0, rows));
    Mm y;
    y.M = rows, y.N = a.dv, y.K = a.sk;
    batches(a, &y);
    y.a = out[1].data;
    ws_view(a, &y.sa, &y.oa);
    y.b = in[2].data;
    view(a, a.sk, a.dv, &y.sb, &y.ldb, &y.ob);
    y.c = static_cast<uint8_t*>(out[0].data) + r0 * row(a, a.dv) * es;
    view(a, a.sq, a.dv, &y.sc, &y.ldc, &y.oc);
    TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, y));
  }
  return Status::Ok();
}

namespace {

// Gradients of chunk rows [r0, r0 + rows), P already in ws_p and dS/scale in ws_dp.
Status chunk_grads(CudaContext& ctx, const Attn& a, const Ins& in, const Ins& out, int64_t r0,
                   int64_t rows) {
  const int64_t es = dtype_size(a.dt);
  const auto at = [&](const TensorRef& t, int64_t cols) {
    return static_cast<uint8_t*>(t.data) + r0 * row(a, cols) * es;
  };
  Mm dq;  // dq_c = scale·dS'·k
  dq.M = rows, dq.N = a.d, dq.K = a.sk, dq.alpha = a.scale;
  batches(a, &dq);
  dq.a = out[4].data;
  ws_view(a, &dq.sa, &dq.oa);
  dq.b = in[1].data;
  view(a, a.sk, a.d, &dq.sb, &dq.ldb, &dq.ob);
  dq.c = at(out[0], a.d);
  view(a, a.sq, a.d, &dq.sc, &dq.ldc, &dq.oc);
  TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dq));
  const float beta = r0 == 0 ? 0.f : 1.f;
  Mm dk;  // dk (+)= scale·dS'ᵀ·q_c
  dk.ta = true;
  dk.M = a.sk, dk.N = a.d, dk.K = rows, dk.alpha = a.scale, dk.beta = beta;
  batches(a, &dk);
  dk.a = out[4].data;
  ws_view(a, &dk.sa, &dk.oa);
  dk.b = at(in[0], a.d);
  view(a, a.sq, a.d, &dk.sb, &dk.ldb, &dk.ob);
  dk.c = out[1].data;
  view(a, a.sk, a.d, &dk.sc, &dk.ldc, &dk.oc);
  TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dk));
  Mm dv;  // dv (+)= Pᵀ·dy_c
  dv.ta = true;
  dv.M = a.sk, dv.N = a.dv, dv.K = rows, dv.beta = beta;
  batches(a, &dv);
  dv.a = out[3].data;
  ws_view(a, &dv.sa, &dv.oa);
  dv.b = at(in[3], a.dv);
  view(a, a.sq, a.dv, &dv.sb, &dv.ldb, &dv.ob);
  dv.c = out[2].data;
  view(a, a.sk, a.dv, &dv.sc, &dv.ldc, &dv.oc);
  return gemm(ctx, a.dt, dv);
}

}  // namespace

Status FusedAttentionGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 4, 5, 5));
  Attn a;
  TSR_RETURN_IF_ERROR(setup(attrs, in, 4, out[3], &a));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[3], "dy"));
  TSR_RETURN_IF_ERROR(check_out_shape(in[3], operand_shape(a, a.sq, a.dv), "dy"));
  for (int i = 0; i < 3; ++i) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[i], out[i], "gradient"));
    TSR_RETURN_IF_ERROR(check_out_shape(out[i], in[i].shape, "gradient"));
  }
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[4], "ws_dp"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[4], out[3].shape, "ws_dp"));
  if (a.n == 0) return Status::Ok();
  if (a.sq == 0 || a.sk == 0) {  // no query rows or no keys: every gradient is 0
    for (int i = 0; i < 3; ++i) TSR_RETURN_IF_ERROR(zero(ctx, out[i]));
    return Status::Ok();
  }
  // The flash backward keeps the row statistics (log-sum-exp, rowsum(dy∘y): n·Sq floats each)
  // in ws_p and ws_dp, which hold n·R·Sk 16-bit elements: enough unless R·Sk < 2·Sq (tiny
  // chunks of short key sequences); then the GEMM path runs.
  const int64_t stats = a.n * a.sq * int64_t{sizeof(float)};
  if (out[3].bytes() >= stats && out[4].bytes() >= stats &&
      flash_applies(a,
                    {in[0].data, in[1].data, in[2].data, in[3].data, out[0].data, out[1].data,
                     out[2].data, out[3].data, out[4].data},
                    true))
    return flash_attention_backward(ctx, a.dt, flash_shape(a), in[0].data, in[1].data, in[2].data,
                                    in[3].data, out[0].data, out[1].data, out[2].data,
                                    static_cast<float*>(out[3].data),
                                    static_cast<float*>(out[4].data));
  const int64_t es = dtype_size(a.dt);
  for (int64_t r0 = 0; r0 < a.sq; r0 += a.r) {
    const int64_t rows = std::min(a.r, a.sq - r0);
    TSR_RETURN_IF_ERROR(probabilities(ctx, a, in[0].data, in[1].data, out[3].data, r0, rows));
    Mm dp;  // dP = dy_c·vᵀ
    dp.tb = true;
    dp.M = rows, dp.N = a.sk, dp.K = a.dv;
    batches(a, &dp);
    dp.a = static_cast<const uint8_t*>(in[3].data) + r0 * row(a, a.dv) * es;
    view(a, a.sq, a.dv, &dp.sa, &dp.lda, &dp.oa);
    dp.b = in[2].data;
    view(a, a.sk, a.dv, &dp.sb, &dp.ldb, &dp.ob);
    dp.c = out[4].data;
    ws_view(a, &dp.sc, &dp.oc);
    TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dp));
    const AttnRows rr{a.n, rows, r0, a.sk, a.r * a.sk};
    TSR_RETURN_IF_ERROR(attn_dsoftmax_rows(ctx, a.dt, out[3].data, out[4].data, rr));
    TSR_RETURN_IF_ERROR(chunk_grads(ctx, a, in, out, r0, rows));
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cuda
