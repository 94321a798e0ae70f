// Host side of the quantized ops on CUDA (docs/quantization.md): QuantizeI8, DequantizeI8 and
// QMatMulI8. QMatMulI8 is cuBLASLt's int8 tensor-core GEMM in the one layout Hopper runs fast
// (both operands K-contiguous, "TN"; notes §3.1: ~1350-1470 TOP/s against ~800 TFLOP/s bf16)
// into int32 accumulators, then an epilogue kernel: dequantize per channel, add the bias, write
// f32/bf16/f16 (or requantize to int8); the activation scale is per tensor or, per-token, per
// row (QuantizeI8 per_token=1 computes the row scales: one block per row, abs-max then
// quantize). cuBLASLt's int8 kernels cannot write float, so the accumulators go through
// CudaContext::i32_scratch, tile by tile over M. That round trip (4 bytes written and read per
// output) is what keeps an 8192^3 QMatMulI8 near 1.1 TOP/s instead of cuBLASLt's 1.4
// (benchmarks/RESULTS.md). QConvI8 is im2row into int8 rows (K padded to a multiple of 4) and
// the same GEMM with the weights as the left operand, so the accumulators come out
// channel-major and its epilogue writes NCHW directly (QConvI8 below).
#include <cublasLt.h>

#include <algorithm>
#include <cstdio>

#include "cpu/kernel_util.h"
#include "cpu/quant_kernels.h"
#include "cuda/lt_util.h"
#include "cuda/quant_cuda.h"

namespace tessera::kernels::cuda {
namespace {

Status positive(const AttrMap& attrs, const char* key, float* v) {
  *v = static_cast<float>(attr_float(attrs, key, 0));
  if (!attr_has(attrs, key) || !(*v > 0))
    return InvalidArgument(std::string("attribute '") + key + "' must be a positive float");
  return Status::Ok();
}

Status channel_vec(const TensorRef& t, int64_t n, const char* what) {
  if (t.dtype != DType::kFloat32 || t.shape != Shape{n})
    return InvalidArgument(std::string(what) + " must be f32 [" + std::to_string(n) + "], got " +
                           dtype_name(t.dtype) + " " + shape_str(t.shape));
  return Status::Ok();
}

}  // namespace

// acc[rows, N] (col-major [N, rows]) = x[rows, K] · w[N, K]ᵀ: cuBLAS A = w (op T), B = x.
Status igemm(CudaContext& ctx, const int8_t* x, const int8_t* w, int64_t rows, int64_t N, int64_t K,
             int32_t* acc) {
  if (K % 4 != 0) return launch_igemm_naive(ctx, x, w, rows, N, K, acc);
  LtDescs d;
  TSR_LT(cublasLtMatmulDescCreate(&d.op, CUBLAS_COMPUTE_32I, CUDA_R_32I));
  const cublasOperation_t opa = CUBLAS_OP_T, opb = CUBLAS_OP_N;
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa));
  TSR_LT(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb));
  TSR_RETURN_IF_ERROR(lt_layout(&d.la, CUDA_R_8I, K, N, K));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lb, CUDA_R_8I, K, rows, K));
  TSR_RETURN_IF_ERROR(lt_layout(&d.lc, CUDA_R_32I, N, rows, N));
  char key[128];
  std::snprintf(key, sizeof key, "i8 TN %lld %lld %lld", (long long)rows, (long long)N,
                (long long)K);
  cublasLtMatmulAlgo_t algo;
  TSR_RETURN_IF_ERROR(
      lt_algo(ctx, key, d, &algo, lt_alignment(w), lt_alignment(x), lt_alignment(acc)));
  const int32_t one = 1, zero = 0;
  TSR_LT(cublasLtMatmul(ctx.lt, d.op, &one, w, d.la, x, d.lb, &zero, acc, d.lc, acc, d.lc, &algo,
                        ctx.workspace, static_cast<size_t>(ctx.workspace_bytes), ctx.stream));
  return Status::Ok();
}

namespace {

// Per-token row scales: f32 of x's shape without its last dim.
Status row_vec(const TensorRef& t, const Shape& x, const char* what) {
  const Shape rows(x.begin(), x.end() - 1);
  if (t.dtype != DType::kFloat32 || t.shape != rows)
    return InvalidArgument(std::string(what) + " must be f32 " + shape_str(rows) + ", got " +
                           dtype_name(t.dtype) + " " + shape_str(t.shape));
  return Status::Ok();
}

// QuantizeI8 per_token=1: output 1 holds one scale per row (launch_quantize_rows).
Status quantize_per_token(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out,
                          const float* smooth) {
  if (in[0].shape.empty()) return InvalidArgument("per_token needs x of rank >= 1");
  if (attr_int(attrs, "zero_point", 0) != 0)
    return InvalidArgument("per_token scales are symmetric (zero_point 0)");
  TSR_RETURN_IF_ERROR(row_vec(out[1], in[0].shape, "output 1 (row scales)"));
  return launch_quantize_rows(ctx, in[0], smooth, out[0].as<int8_t>(), out[1].as<float>());
}

}  // namespace

Status QuantizeI8(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  const bool per_token = cpu::per_token_attr(attrs);
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 2, per_token ? 2 : 1));
  if (!is_cuda_float(in[0].dtype))
    return InvalidArgument(std::string("input must be f32, bf16 or f16, got ") +
                           dtype_name(in[0].dtype));
  if (out[0].dtype != DType::kInt8) return InvalidArgument("output must be int8");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const float* smooth = nullptr;
  if (in.size() > 1 && in[1].present()) {
    TSR_RETURN_IF_ERROR(
        channel_vec(in[1], in[0].shape.empty() ? 1 : in[0].shape.back(), "smooth_inv"));
    smooth = in[1].as<const float>();
  }
  if (per_token) return quantize_per_token(ctx, attrs, in, out, smooth);
  float scale = 0;
  TSR_RETURN_IF_ERROR(positive(attrs, "scale", &scale));
  int32_t zp = 0;
  TSR_RETURN_IF_ERROR(cpu::zero_point_attr(attrs, "zero_point", &zp));
  return launch_quantize(ctx, in[0], smooth, scale, zp, out[0].as<int8_t>());
}

Status DequantizeI8(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  if (in[0].dtype != DType::kInt8) return InvalidArgument("input must be int8");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  float scale = 0;
  TSR_RETURN_IF_ERROR(positive(attrs, "scale", &scale));
  return launch_dequantize(ctx, in[0].as<const int8_t>(), scale, out[0]);
}

// x [..., K] int8, w [N, K] int8, w_scale [N] f32, bias [N] f32 (optional), acc_offset [N] int32
// (optional; required with x_zero_point != 0), per_token=1: row scales [...] f32 at input 5
// instead of x_scale -> y [..., N]: float (f32, bf16, f16: the output's dtype) or int8 with
// attribute y_scale.
Status QMatMulI8(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 6, 1));
  if (in[0].dtype != DType::kInt8 || in[1].dtype != DType::kInt8)
    return InvalidArgument("x and w must be int8");
  const Shape& xs = in[0].shape;
  if (xs.empty() || in[1].shape.size() != 2 || in[1].shape[1] != xs.back())
    return InvalidArgument("x " + shape_str(xs) + " and w " + shape_str(in[1].shape) +
                           " must be [...,K] and [N,K]");
  const int64_t K = xs.back(), N = in[1].shape[0], M = in[0].numel() / std::max<int64_t>(K, 1);
  TSR_RETURN_IF_ERROR(channel_vec(in[2], N, "w_scale"));
  const bool has_bias = in.size() > 3 && in[3].present();
  if (has_bias) TSR_RETURN_IF_ERROR(channel_vec(in[3], N, "bias"));
  int32_t zp = 0;
  TSR_RETURN_IF_ERROR(cpu::zero_point_attr(attrs, "x_zero_point", &zp));
  const int32_t* offset = nullptr;
  if (in.size() > 4 && in[4].present()) {
    if (in[4].dtype != DType::kInt32 || in[4].shape != Shape{N})
      return InvalidArgument("acc_offset must be int32 [" + std::to_string(N) + "], got " +
                             dtype_name(in[4].dtype) + " " + shape_str(in[4].shape));
    offset = in[4].as<const int32_t>();
  }
  if (zp != 0 && offset == nullptr)
    return InvalidArgument("x_zero_point " + std::to_string(zp) + " needs the acc_offset input");
  // |x - zp| <= 255 with a zero point: K <= 2^16 keeps the corrected sum inside int32.
  const int64_t limit = zp != 0 ? int64_t{1} << 16 : int64_t{1} << 17;
  if (K > limit)
    return Unimplemented("reduction " + std::to_string(K) + " overflows int32 (limit " +
                         std::to_string(limit) + ")");
  Shape ys(xs.begin(), xs.end() - 1);
  ys.push_back(N);
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], ys));
  float x_scale = 0, y_scale = 0;
  const float* x_rows = nullptr;
  if (cpu::per_token_attr(attrs)) {
    if (in.size() < 6 || !in[5].present() || zp != 0)
      return InvalidArgument("per_token needs the row scales (input 5) and x_zero_point 0");
    TSR_RETURN_IF_ERROR(row_vec(in[5], xs, "row scales (input 5)"));
    x_rows = in[5].as<const float>();
  } else {
    TSR_RETURN_IF_ERROR(positive(attrs, "x_scale", &x_scale));
  }
  if (attr_has(attrs, "y_scale")) {
    TSR_RETURN_IF_ERROR(positive(attrs, "y_scale", &y_scale));
    if (out[0].dtype != DType::kInt8) return InvalidArgument("output must be int8 with y_scale");
  } else if (!is_cuda_float(out[0].dtype)) {
    return InvalidArgument(std::string("output must be f32, bf16 or f16, got ") +
                           dtype_name(out[0].dtype));
  }
  if (M == 0 || N == 0) return Status::Ok();
  const int64_t tile = std::min<int64_t>(M, ctx.i32_scratch_bytes / (4 * N));
  if (tile < 1)
    return Internal("int32 scratch of " + std::to_string(ctx.i32_scratch_bytes) +
                    " bytes holds no row of N = " + std::to_string(N));
  const int8_t* x = in[0].as<const int8_t>();
  auto* acc = static_cast<int32_t*>(ctx.i32_scratch);
  const int64_t es = dtype_size(out[0].dtype);
  for (int64_t r0 = 0; r0 < M; r0 += tile) {
    const int64_t rows = std::min(tile, M - r0);
    TSR_RETURN_IF_ERROR(igemm(ctx, x + r0 * K, in[1].as<const int8_t>(), rows, N, K, acc));
    TSR_RETURN_IF_ERROR(launch_qepilogue(
        ctx, acc, rows, N, x_scale, x_rows ? x_rows + r0 : nullptr, in[2].as<const float>(),
        has_bias ? in[3].as<const float>() : nullptr, offset, y_scale, out[0].dtype,
        static_cast<uint8_t*>(out[0].data) + r0 * N * es));
  }
  return Status::Ok();
}

namespace {

// QConvI8's use of CudaContext::i32_scratch (kernels never allocate): [padded weights of one
// group | rows tile | int32 tile], each 256-byte aligned. tpad positions per tile (a multiple
// of 4: cuBLASLt's int8 kernels want the GEMM's M, here positions, and ldc in multiples of 4).
struct ConvScratch {
  int8_t* wpad = nullptr;  // nullptr when K needs no padding (the weight is used in place)
  int8_t* rows = nullptr;
  int32_t* acc = nullptr;
  int64_t tpad = 0;
};

int64_t align256(int64_t n) { return (n + 255) / 256 * 256; }

Status conv_scratch(CudaContext& ctx, int64_t mg, int64_t kk, int64_t kp, int64_t positions,
                    ConvScratch* s) {
  auto* base = static_cast<int8_t*>(ctx.i32_scratch);
  const int64_t wbytes = kp != kk ? align256(mg * kp) : 0;
  const int64_t left = ctx.i32_scratch_bytes - wbytes - 512;  // two alignment gaps
  int64_t tpad = left > 0 ? left / (kp + 4 * mg) / 4 * 4 : 0;
  tpad = std::min(tpad, (positions + 3) / 4 * 4);
  if (base == nullptr || tpad < 4)
    return Internal("int32 scratch of " + std::to_string(ctx.i32_scratch_bytes) +
                    " bytes holds no 4 output positions of " + std::to_string(mg) +
                    " channels and K = " + std::to_string(kp));
  s->wpad = wbytes ? base : nullptr;
  s->rows = base + wbytes;
  s->acc = reinterpret_cast<int32_t*>(base + wbytes + align256(tpad * kp));
  s->tpad = tpad;
  return Status::Ok();
}

// The epilogue's output kind, as QMatMulI8: y_scale -> int8, else f32, bf16 or f16.
Status conv_out_kind(const AttrMap& attrs, const TensorRef& out, float* y_scale) {
  if (!attr_has(attrs, "y_scale")) {
    if (is_cuda_float(out.dtype)) return Status::Ok();
    return InvalidArgument(std::string("output must be f32, bf16 or f16, got ") +
                           dtype_name(out.dtype));
  }
  TSR_RETURN_IF_ERROR(positive(attrs, "y_scale", y_scale));
  if (out.dtype != DType::kInt8) return InvalidArgument("output must be int8 with y_scale");
  return Status::Ok();
}

}  // namespace

// x [B,C,H,W] int8, w [M,C/g,kh,kw] int8, w_scale [M] f32, bias [M] f32 (optional), acc_offset
// [M] int32 (optional; required with x_zero_point != 0) -> y [B,M,OH,OW] (float, or int8 with
// y_scale). Per group and tile of output positions: im2row (int8, K = C/g*kh*kw padded to kp, a
// multiple of 4), acc[mg, tile] = w_g · rowsᵀ on cuBLASLt (weights as cuBLAS's B operand, both
// K-contiguous), epilogue into NCHW. Costs beyond the GEMM: the rows (kp bytes per position,
// kh*kw times the input) and the int32 round trip, as in QMatMulI8.
Status QConvI8(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 5, 1));
  if (in[0].dtype != DType::kInt8 || in[1].dtype != DType::kInt8)
    return InvalidArgument("x and w must be int8");
  quant::ConvGeom g{};
  TSR_RETURN_IF_ERROR(cpu::qconv_geom(attrs, in[0].shape, in[1].shape, &g));
  const int64_t mg = g.M / g.group, kk = g.C / g.group * g.kh * g.kw, kp = (kk + 3) / 4 * 4;
  TSR_RETURN_IF_ERROR(cpu::check_quant_channels(in, g.M));
  int32_t zp = 0;
  const int32_t* offset = nullptr;
  TSR_RETURN_IF_ERROR(cpu::quant_zero_point(attrs, in, kk, &zp, &offset));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {g.B, g.M, g.OH, g.OW}));
  float x_scale = 0, y_scale = 0;
  TSR_RETURN_IF_ERROR(cpu::quant_scales(attrs, &x_scale));
  TSR_RETURN_IF_ERROR(conv_out_kind(attrs, out[0], &y_scale));
  const int64_t positions = g.B * g.OH * g.OW;
  if (positions == 0 || g.M == 0) return Status::Ok();
  ConvScratch s;
  TSR_RETURN_IF_ERROR(conv_scratch(ctx, mg, kk, kp, positions, &s));
  const auto* w = in[1].as<const int8_t>();
  const float* bias = in.size() > 3 && in[3].present() ? in[3].as<const float>() : nullptr;
  for (int64_t gi = 0; gi < g.group; ++gi) {
    const int8_t* wg = w + gi * mg * kk;
    if (s.wpad) {
      TSR_RETURN_IF_ERROR(launch_pad_rows(ctx, wg, mg, kk, kp, s.wpad));
      wg = s.wpad;
    }
    for (int64_t t0 = 0; t0 < positions; t0 += s.tpad) {
      const int64_t valid = std::min(s.tpad, positions - t0);
      const int64_t tpad = (valid + 3) / 4 * 4;
      TSR_RETURN_IF_ERROR(launch_qconv_im2row(ctx, in[0].as<const int8_t>(), g, gi, t0, valid, tpad,
                                              kp, zp, s.rows));
      TSR_RETURN_IF_ERROR(igemm(ctx, wg, s.rows, mg, tpad, kp, s.acc));
      TSR_RETURN_IF_ERROR(launch_qconv_epilogue(ctx, s.acc, g, gi, t0, valid, tpad, x_scale,
                                                in[2].as<const float>(), bias, offset, y_scale,
                                                out[0].dtype, out[0].data));
    }
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cuda
