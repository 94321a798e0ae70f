// MatMul and Gemm through cuBLASLt. Row-major C = A·B is computed as the column-major product
// Cᵀ = Bᵀ·Aᵀ, so no operand is copied. f32 (optionally TF32 tensor cores), f16 and bf16 with
// f32 accumulation. Batched MatMul uses strided batches (stride 0 for a broadcast operand); a
// 2-D right operand folds the left batch into M (one large GEMM instead of many small ones).
// Gemm's bias vector goes into cuBLASLt's BIAS epilogue; other C shapes are copied into Y first
// and accumulated with beta.
#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdlib>
#include <cstring>

#include "cuda/lt_util.h"

namespace tessera::kernels::cuda {
namespace {

struct GemmArgs {
  bool ta = false, tb = false;  // row-major operands stored transposed
  int64_t M = 0, N = 0, K = 0, batch = 1;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;  // elements between batches
  const void *a = nullptr, *b = nullptr, *bias = nullptr;
  void* c = nullptr;
  float alpha = 1.f, beta = 0.f;
  DType dt = DType::kFloat32;
};

Status run_lt(CudaContext& ctx, const GemmArgs& g, int64_t lda, int64_t ldb, int64_t ldc) {
  cudaDataType_t t;
  cublasComputeType_t ct = CUBLAS_COMPUTE_32F;
  switch (g.dt) {
    case DType::kFloat32:
      t = CUDA_R_32F;
      if (ctx.allow_tf32) ct = CUBLAS_COMPUTE_32F_FAST_TF32;
      break;
    case DType::kFloat16:
      t = CUDA_R_16F;
      break;
    case DType::kBFloat16:
      t = CUDA_R_16BF;
      break;
    default:
      return Unimplemented(std::string("GEMM of ") + dtype_name(g.dt) +
                           " on CUDA (f32, f16, bf16)");
  }
  if (g.K == 0) return Unimplemented("GEMM with K = 0 on CUDA");
  LtDescs d;
  TSR_LT(cublasLtMatmulDescCreate(&d.op, ct, CUDA_R_32F));
  // cuBLAS's A is our B and its B our A (column-major view of row-major data).
  const cublasOperation_t opa = g.tb ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t opb = g.ta ? CUBLAS_OP_T : CUBLAS_OP_N;
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  if (g.bias) {
    const cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_BIAS;
    TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep));
    TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &g.bias,
                                          sizeof g.bias));
  }
  TSR_RETURN_IF_ERROR(
      lt_layout(&d.la, t, g.tb ? g.K : g.N, g.tb ? g.N : g.K, ldb, g.batch, g.stride_b));
  TSR_RETURN_IF_ERROR(
      lt_layout(&d.lb, t, g.ta ? g.M : g.K, g.ta ? g.K : g.M, lda, g.batch, g.stride_a));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lc, t, g.N, g.M, ldc, g.batch, g.stride_c));

  char key[256];
  std::snprintf(key, sizeof key,
                "%d %d %d %d %lld %lld %lld %lld %lld %lld %lld %d %d %lld %lld %lld",
                static_cast<int>(g.dt), g.ta, g.tb, static_cast<int>(ct), (long long)g.M,
                (long long)g.N, (long long)g.K, (long long)g.batch, (long long)g.stride_a,
                (long long)g.stride_b, (long long)g.stride_c, g.bias != nullptr, g.beta != 0.f,
                (long long)lda, (long long)ldb, (long long)ldc);
  cublasLtMatmulAlgo_t algo;
  TSR_RETURN_IF_ERROR(lt_algo(ctx, key, d, &algo));
  TSR_LT(cublasLtMatmul(ctx.lt, d.op, &g.alpha, g.b, d.la, g.a, d.lb, &g.beta, g.c, d.lc, g.c, d.lc,
                        &algo, ctx.workspace, static_cast<size_t>(ctx.workspace_bytes),
                        ctx.stream));
  return Status::Ok();
}

// Leading dimensions (elements) of the row-major operands as stored.
int64_t ld_a(const GemmArgs& g) { return g.ta ? g.M : g.K; }
int64_t ld_b(const GemmArgs& g) { return g.tb ? g.K : g.N; }

// Hopper's fast cuBLASLt kernels (TMA) need every row to start 16-byte aligned; a leading
// dimension like gpt2's vocabulary (50257 bf16) drops a GEMM to kernels with 2-byte loads at
// ~125 TFLOP/s (benchmarks/RESULTS.md, session 5). For a large enough GEMM it pays to copy each
// misaligned operand into ctx.pad_scratch with its rows padded to 16 bytes (K, M, N unchanged:
// only the stride grows, so no zero fill) and copy the output back: the copies cost
// ~2 bytes of traffic per element, the GEMM 2K FLOPs per output element.
struct PadPlan {
  int64_t lda = 0, ldb = 0, ldc = 0;              // strides the GEMM uses
  int64_t a_bytes = 0, b_bytes = 0, c_bytes = 0;  // scratch per padded operand (0: none)
  int64_t total() const { return a_bytes + b_bytes + c_bytes; }
};

int64_t round16(int64_t ld, int64_t es) {
  const int64_t unit = 16 / es;
  return (ld + unit - 1) / unit * unit;
}

// TESSERA_GEMM_PAD=0 turns padding off; read once per process (pad_plan runs on every GEMM).
bool padding_enabled() {
  static const bool on = [] {
    const char* env = std::getenv("TESSERA_GEMM_PAD");
    return !(env && std::string(env) == "0");
  }();
  return on;
}

PadPlan pad_plan(const GemmArgs& g) {
  PadPlan p;
  p.lda = ld_a(g), p.ldb = ld_b(g), p.ldc = g.N;
  const int64_t es = dtype_size(g.dt);
  if (g.batch != 1 || es < 2 || es > 4 || !padding_enabled()) return p;
  const double flops =
      2.0 * static_cast<double>(g.M) * static_cast<double>(g.N) * static_cast<double>(g.K);
  PadPlan q = p;
  q.lda = round16(p.lda, es), q.ldb = round16(p.ldb, es), q.ldc = round16(p.ldc, es);
  const int64_t rows_a = g.ta ? g.K : g.M, rows_b = g.tb ? g.N : g.K;
  auto bytes = [&](int64_t rows, int64_t ld) { return (rows * ld * es + 255) / 256 * 256; };
  if (q.lda != p.lda) q.a_bytes = bytes(rows_a, q.lda);
  if (q.ldb != p.ldb) q.b_bytes = bytes(rows_b, q.ldb);
  if (q.ldc != p.ldc) q.c_bytes = bytes(g.M, q.ldc);
  // Worth it above ~1 GFLOP and when the GEMM does >= 256 FLOPs per byte copied (the copies
  // then cost under a tenth of what the misaligned kernels lose).
  const double copied = 2.0 * static_cast<double>(q.total());
  if (q.total() == 0 || flops < 1e9 || flops < 256.0 * copied) return p;
  return q;
}

Status run_gemm(CudaContext& ctx, const GemmArgs& g_in) {
  if (g_in.M == 0 || g_in.N == 0 || g_in.batch == 0) return Status::Ok();
  GemmArgs g = g_in;
  PadPlan pp = pad_plan(g);
  if (pp.total() > ctx.pad_scratch_bytes) pp = PadPlan{ld_a(g), ld_b(g), g.N};  // not sized
  const int64_t es = dtype_size(g.dt);
  uint8_t* scratch = static_cast<uint8_t*>(ctx.pad_scratch);
  auto repack = [&](const void* src, int64_t rows, int64_t cols, int64_t ld_src, void* dst,
                    int64_t ld_dst) {
    return strided_copy(ctx, src, 0, {ld_src, 1}, dst, 0, {ld_dst, 1}, {rows, cols}, es);
  };
  if (pp.a_bytes) {
    const int64_t rows = g.ta ? g.K : g.M;
    TSR_RETURN_IF_ERROR(repack(g.a, rows, ld_a(g), ld_a(g), scratch, pp.lda));
    g.a = scratch;
  }
  if (pp.b_bytes) {
    void* dst = scratch + pp.a_bytes;
    TSR_RETURN_IF_ERROR(repack(g.b, g.tb ? g.N : g.K, ld_b(g), ld_b(g), dst, pp.ldb));
    g.b = dst;
  }
  if (pp.c_bytes) {
    void* dst = scratch + pp.a_bytes + pp.b_bytes;
    if (g.beta != 0.f) TSR_RETURN_IF_ERROR(repack(g.c, g.M, g.N, g.N, dst, pp.ldc));
    g.c = dst;
  }
  TSR_RETURN_IF_ERROR(run_lt(ctx, g, pp.lda, pp.ldb, pp.ldc));
  if (pp.c_bytes) TSR_RETURN_IF_ERROR(repack(g.c, g.M, g.N, pp.ldc, g_in.c, g.N));
  return Status::Ok();
}

// Batch dims of one operand, left-padded with 1s to rank r.
Shape batch_of(const Shape& s, size_t r) {
  Shape b(s.begin(), s.end() - 2);
  b.insert(b.begin(), r - b.size(), 1);
  return b;
}

}  // namespace

Status lt_algo(CudaContext& ctx, const std::string& key_in, LtDescs& d, cublasLtMatmulAlgo_t* algo,
               uint32_t align_a, uint32_t align_b, uint32_t align_c) {
  const bool aligned = align_a == 256 && align_b == 256 && align_c == 256;
  const std::string key = aligned ? key_in
                                  : key_in + " align " + std::to_string(align_a) + " " +
                                        std::to_string(align_b) + " " + std::to_string(align_c);
  auto it = ctx.algo_cache.find(key);
  if (it != ctx.algo_cache.end()) {
    std::memcpy(algo, it->second.data(), sizeof *algo);
    return Status::Ok();
  }
  TSR_LT(cublasLtMatmulPreferenceCreate(&d.pref));
  const uint64_t ws = static_cast<uint64_t>(ctx.workspace_bytes);
  TSR_LT(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                              sizeof ws));
  if (!aligned) {
    TSR_LT(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES,
                                                &align_a, sizeof align_a));
    TSR_LT(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
                                                &align_b, sizeof align_b));
    TSR_LT(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES,
                                                &align_c, sizeof align_c));
    TSR_LT(cublasLtMatmulPreferenceSetAttribute(d.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES,
                                                &align_c, sizeof align_c));
  }
  cublasLtMatmulHeuristicResult_t h;
  int found = 0;
  TSR_LT(cublasLtMatmulAlgoGetHeuristic(ctx.lt, d.op, d.la, d.lb, d.lc, d.ld ? d.ld : d.lc, d.pref,
                                        1, &h, &found));
  if (found == 0) return Unimplemented("cuBLASLt has no algorithm for " + key);
  *algo = h.algo;
  std::vector<uint8_t> bytes(sizeof *algo);
  std::memcpy(bytes.data(), algo, sizeof *algo);
  ctx.algo_cache.emplace(key, std::move(bytes));
  return Status::Ok();
}

namespace {

Status matmul_args(const Ins& in, const Ins& out, GemmArgs* gp) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  Shape as = in[0].shape, bs = in[1].shape;
  if (as.empty() || bs.empty()) return InvalidArgument("MatMul operands must have rank >= 1");
  const bool a1 = as.size() == 1, b1 = bs.size() == 1;
  if (a1) as.insert(as.begin(), 1);
  if (b1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  if (bs[bs.size() - 2] != K)
    return InvalidArgument("inner dims differ: " + shape_str(in[0].shape) + " x " +
                           shape_str(in[1].shape));
  const size_t r = std::max(as.size(), bs.size()) - 2;
  const Shape ab = batch_of(as, r), bb = batch_of(bs, r);
  Shape full(r);
  for (size_t i = 0; i < r; ++i) {
    if (ab[i] != bb[i] && ab[i] != 1 && bb[i] != 1)
      return InvalidArgument("batch dims do not broadcast: " + shape_str(in[0].shape) + " x " +
                             shape_str(in[1].shape));
    full[i] = std::max(ab[i], bb[i]);
  }
  Shape want = full;
  if (!a1) want.push_back(M);
  if (!b1) want.push_back(N);
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  GemmArgs& g = *gp;
  g.dt = in[0].dtype;
  g.a = in[0].data, g.b = in[1].data, g.c = out[0].data;
  g.K = K, g.N = N;
  const int64_t nb = num_elements(full), na = num_elements(ab), nbb = num_elements(bb);
  if (nbb == 1) {  // one right operand: fold every left batch into M
    g.M = na * M;
    if (na != nb) return Unimplemented("left batch broadcast against a single right matrix");
    return Status::Ok();
  }
  // Strided batches need each operand to be either complete or a single matrix.
  if ((na != nb && na != 1) || (nbb != nb))
    return Unimplemented("partially broadcast batch dims " + shape_str(in[0].shape) + " x " +
                         shape_str(in[1].shape) + " on CUDA");
  g.M = M;
  g.batch = nb;
  g.stride_a = na == 1 ? 0 : M * K;
  g.stride_b = K * N;
  g.stride_c = M * N;
  return Status::Ok();
}

// Gemm's operands; *c_copy says C must be copied into Y (broadcast) before the GEMM runs.
Status gemm_args(const AttrMap& attrs, const Ins& in, const Ins& out, GemmArgs* gp,
                 std::vector<int64_t>* c_copy) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  if (in[0].shape.size() != 2 || in[1].shape.size() != 2)
    return InvalidArgument("A and B must be 2-D");
  GemmArgs& g = *gp;
  g.ta = attr_int(attrs, "transA", 0) != 0, g.tb = attr_int(attrs, "transB", 0) != 0;
  g.M = in[0].shape[g.ta ? 1 : 0], g.K = in[0].shape[g.ta ? 0 : 1];
  g.N = in[1].shape[g.tb ? 0 : 1];
  if (in[1].shape[g.tb ? 1 : 0] != g.K) return InvalidArgument("inner dims differ");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {g.M, g.N}));
  g.dt = in[0].dtype;
  g.a = in[0].data, g.b = in[1].data, g.c = out[0].data;
  g.alpha = static_cast<float>(attr_float(attrs, "alpha", 1.0));
  const float beta = static_cast<float>(attr_float(attrs, "beta", 1.0));
  if (in.size() > 2 && in[2].present() && beta != 0.f) {
    const TensorRef& c = in[2];
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], c, "C"));
    const bool vec = c.numel() == g.N && (c.shape == Shape{g.N} || c.shape == Shape{1, g.N});
    if (vec && beta == 1.f) {
      g.bias = c.data;  // fused: one pass over Y instead of a copy plus a read-modify-write
    } else {
      TSR_RETURN_IF_ERROR(cpu::broadcast_strides(c.shape, {g.M, g.N}, c_copy));
      g.beta = beta;
    }
  }
  return Status::Ok();
}

}  // namespace

Status MatMul(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  GemmArgs g;
  TSR_RETURN_IF_ERROR(matmul_args(in, out, &g));
  return run_gemm(ctx, g);
}

Status Gemm(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  GemmArgs g;
  std::vector<int64_t> c_copy;
  TSR_RETURN_IF_ERROR(gemm_args(attrs, in, out, &g, &c_copy));
  if (!c_copy.empty())
    TSR_RETURN_IF_ERROR(strided_copy(ctx, in[2].data, 0, c_copy, g.c, 0, {g.N, 1}, {g.M, g.N},
                                     dtype_size(in[2].dtype)));
  return run_gemm(ctx, g);
}

int64_t gemm_pad_scratch_bytes(std::string_view op, const AttrMap& attrs, const Ins& in,
                               const Ins& out) {
  GemmArgs g;
  std::vector<int64_t> c_copy;
  Status st = op == "MatMul" ? matmul_args(in, out, &g)
              : op == "Gemm" ? gemm_args(attrs, in, out, &g, &c_copy)
                             : InvalidArgument("not a GEMM");
  return st.ok() ? pad_plan(g).total() : 0;
}

}  // namespace tessera::kernels::cuda
