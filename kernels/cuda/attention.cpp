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
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>

#include "cuda/attention.h"
#include "cuda/flash_attention.h"
#include "cuda/lt_util.h"

namespace tessera::kernels::cuda {
namespace {

// Row-major C[M,N] = alpha·op(A)·op(B) + beta·C over `batch` matrices; every matrix is dense
// (leading dimension = its stored row length) and the batches are `s*` elements apart.
struct Mm {
  bool ta = false, tb = false;  // A stored [K,M], B stored [N,K]
  int64_t M = 0, N = 0, K = 0, batch = 1;
  const void *a = nullptr, *b = nullptr;
  void* c = nullptr;
  int64_t sa = 0, sb = 0, sc = 0;
  float alpha = 1.f, beta = 0.f;
};

// The alignment cuBLASLt may assume for every batch of an operand: the base address's and the
// batch stride's (bytes), whichever is smaller. Chunk offsets make both vary with the shapes.
uint32_t batch_alignment(const void* p, int64_t stride_elems, int64_t es) {
  uint32_t a = lt_alignment(p);
  const int64_t bytes = stride_elems * es;
  while (a > 1 && bytes % a != 0) a /= 2;
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
  const size_t w = static_cast<size_t>(g.M * g.N * es);
  const size_t pitch = std::max(w, static_cast<size_t>(g.sc * es));  // sc = 0 for batch 1
  return cuda_status(cudaMemset2DAsync(g.c, pitch, 0, w, static_cast<size_t>(g.batch), ctx.stream),
                     "cudaMemset2DAsync");
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
  TSR_RETURN_IF_ERROR(
      lt_layout(&d.la, t, g.tb ? g.K : g.N, g.tb ? g.N : g.K, g.tb ? g.K : g.N, g.batch, g.sb));
  TSR_RETURN_IF_ERROR(
      lt_layout(&d.lb, t, g.ta ? g.M : g.K, g.ta ? g.K : g.M, g.ta ? g.M : g.K, g.batch, g.sa));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lc, t, g.N, g.M, g.N, g.batch, g.sc));
  char key[256];
  std::snprintf(key, sizeof key, "attn %d %d %d %d %lld %lld %lld %lld %lld %lld %lld %d",
                static_cast<int>(dt), g.ta, g.tb, static_cast<int>(ct), (long long)g.M,
                (long long)g.N, (long long)g.K, (long long)g.batch, (long long)g.sa,
                (long long)g.sb, (long long)g.sc, g.beta != 0.f);
  cublasLtMatmulAlgo_t algo;
  // cuBLASLt's A is our B (column-major view), so the alignments swap too.
  TSR_RETURN_IF_ERROR(lt_algo(ctx, key, d, &algo, batch_alignment(g.b, g.sb, es),
                              batch_alignment(g.a, g.sa, es), batch_alignment(g.c, g.sc, es)));
  TSR_LT(cublasLtMatmul(ctx.lt, d.op, &g.alpha, g.b, d.la, g.a, d.lb, &g.beta, g.c, d.lc, g.c, d.lc,
                        &algo, ctx.workspace, static_cast<size_t>(ctx.workspace_bytes),
                        ctx.stream));
  return Status::Ok();
}

// One call's shapes: leading dims flattened to n batch-heads, r query rows per chunk.
struct Attn {
  DType dt = DType::kUndefined;
  Shape lead;
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

// Checks q, k, v (in[0..2]), the optional mask at in[mask_at] and the scratch `ws`.
Status setup(const AttrMap& attrs, const Ins& in, size_t mask_at, const TensorRef& ws, Attn* a) {
  const Shape &q = in[0].shape, &k = in[1].shape, &v = in[2].shape;
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

// P of chunk rows [r0, r0 + rows) into ws: the scores GEMM, then the masked softmax.
Status probabilities(CudaContext& ctx, const Attn& a, const void* q, const void* k, void* ws,
                     int64_t r0, int64_t rows) {
  const int64_t es = dtype_size(a.dt);
  Mm s;
  s.tb = true;
  s.M = rows, s.N = a.sk, s.K = a.d, s.batch = a.n;
  s.a = static_cast<const uint8_t*>(q) + r0 * a.d * es, s.sa = a.sq * a.d;
  s.b = k, s.sb = a.sk * a.d;
  s.c = ws, s.sc = a.r * a.sk;
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
  s.mask = a.mask;
  return s;
}

Shape with_last2(Shape lead, int64_t a, int64_t b) {
  lead.push_back(a);
  lead.push_back(b);
  return lead;
}

}  // namespace

Status FusedAttention(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 4, 2));
  Attn a;
  TSR_RETURN_IF_ERROR(setup(attrs, in, 3, out[1], &a));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "y"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], with_last2(a.lead, a.sq, a.dv), "y"));
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
    y.M = rows, y.N = a.dv, y.K = a.sk, y.batch = a.n;
    y.a = out[1].data, y.sa = a.r * a.sk;
    y.b = in[2].data, y.sb = a.sk * a.dv;
    y.c = static_cast<uint8_t*>(out[0].data) + r0 * a.dv * es, y.sc = a.sq * a.dv;
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
    return static_cast<uint8_t*>(t.data) + r0 * cols * es;
  };
  Mm dq;  // dq_c = scale·dS'·k
  dq.M = rows, dq.N = a.d, dq.K = a.sk, dq.batch = a.n, dq.alpha = a.scale;
  dq.a = out[4].data, dq.sa = a.r * a.sk;
  dq.b = in[1].data, dq.sb = a.sk * a.d;
  dq.c = at(out[0], a.d), dq.sc = a.sq * a.d;
  TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dq));
  const float beta = r0 == 0 ? 0.f : 1.f;
  Mm dk;  // dk (+)= scale·dS'ᵀ·q_c
  dk.ta = true;
  dk.M = a.sk, dk.N = a.d, dk.K = rows, dk.batch = a.n, dk.alpha = a.scale, dk.beta = beta;
  dk.a = out[4].data, dk.sa = a.r * a.sk;
  dk.b = at(in[0], a.d), dk.sb = a.sq * a.d;
  dk.c = out[1].data, dk.sc = a.sk * a.d;
  TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dk));
  Mm dv;  // dv (+)= Pᵀ·dy_c
  dv.ta = true;
  dv.M = a.sk, dv.N = a.dv, dv.K = rows, dv.batch = a.n, dv.beta = beta;
  dv.a = out[3].data, dv.sa = a.r * a.sk;
  dv.b = at(in[3], a.dv), dv.sb = a.sq * a.dv;
  dv.c = out[2].data, dv.sc = a.sk * a.dv;
  return gemm(ctx, a.dt, dv);
}

}  // namespace

Status FusedAttentionGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 4, 5, 5));
  Attn a;
  TSR_RETURN_IF_ERROR(setup(attrs, in, 4, out[3], &a));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[3], "dy"));
  TSR_RETURN_IF_ERROR(check_out_shape(in[3], with_last2(a.lead, a.sq, a.dv), "dy"));
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
    dp.M = rows, dp.N = a.sk, dp.K = a.dv, dp.batch = a.n;
    dp.a = static_cast<const uint8_t*>(in[3].data) + r0 * a.dv * es, dp.sa = a.sq * a.dv;
    dp.b = in[2].data, dp.sb = a.sk * a.dv;
    dp.c = out[4].data, dp.sc = a.r * a.sk;
    TSR_RETURN_IF_ERROR(gemm(ctx, a.dt, dp));
    const AttnRows rr{a.n, rows, r0, a.sk, a.r * a.sk};
    TSR_RETURN_IF_ERROR(attn_dsoftmax_rows(ctx, a.dt, out[3].data, out[4].data, rr));
    TSR_RETURN_IF_ERROR(chunk_grads(ctx, a, in, out, r0, rows));
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cuda
