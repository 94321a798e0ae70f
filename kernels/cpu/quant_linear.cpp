// QuantizeI8, DequantizeI8 and QMatMulI8 (docs/quantization.md). QMatMulI8 takes the weight as
// [N,K] ("TN": both operands K-contiguous, the layout cuBLASLt's int8 tensor-core kernels need on
// Hopper), so each output element is one contiguous int8 dot product the compiler vectorises.
#include <algorithm>
#include <string>

#include "cpu/kernel_util.h"
#include "cpu/quant_kernels.h"

namespace tessera::kernels::cpu {
namespace {

Status positive_attr(const AttrMap& attrs, const char* key, float* v) {
  if (!attr_has(attrs, key)) return InvalidArgument(std::string("missing attribute '") + key + "'");
  *v = static_cast<float>(attr_float(attrs, key, 0.0));
  if (!(*v > 0) || !std::isfinite(*v))
    return InvalidArgument(std::string("attribute '") + key + "' must be a positive finite float");
  return Status::Ok();
}

// Per-channel vectors ([N] float) of QMatMulI8 / QConvI8.
Status check_channel_vec(const TensorRef& t, int64_t n, const char* what) {
  TSR_RETURN_IF_ERROR(check_dtype(t, DType::kFloat32, what));
  if (t.shape != Shape{n})
    return InvalidArgument(std::string(what) + " must be [" + std::to_string(n) + "], got " +
                           shape_str(t.shape));
  return Status::Ok();
}

}  // namespace

Status zero_point_attr(const AttrMap& attrs, const char* key, int32_t* zp) {
  const int64_t v = attr_int(attrs, key, 0);
  if (v < -128 || v > 127)
    return InvalidArgument(std::string("attribute '") + key + "' must be in [-128, 127]");
  *zp = static_cast<int32_t>(v);
  return Status::Ok();
}

// Shared by QMatMulI8 and QConvI8: y_scale present -> int8 out, else float out.
Status quant_epilogue_kind(const AttrMap& attrs, const TensorRef& out, float* y_scale) {
  *y_scale = 0;
  if (attr_has(attrs, "y_scale")) {
    TSR_RETURN_IF_ERROR(positive_attr(attrs, "y_scale", y_scale));
    return check_dtype(out, DType::kInt8, "output (y_scale given)");
  }
  return check_dtype(out, DType::kFloat32, "output");
}

Status quant_scales(const AttrMap& attrs, float* x_scale) {
  return positive_attr(attrs, "x_scale", x_scale);
}

Status check_quant_channels(const std::vector<TensorRef>& in, int64_t n) {
  TSR_RETURN_IF_ERROR(check_channel_vec(in[2], n, "w_scale"));
  if (in.size() > 3 && in[3].present()) TSR_RETURN_IF_ERROR(check_channel_vec(in[3], n, "bias"));
  if (in.size() > 4 && in[4].present()) {
    TSR_RETURN_IF_ERROR(check_dtype(in[4], DType::kInt32, "acc_offset"));
    if (in[4].shape != Shape{n})
      return InvalidArgument("acc_offset must be [" + std::to_string(n) + "], got " +
                             shape_str(in[4].shape));
  }
  return Status::Ok();
}

Status quant_zero_point(const AttrMap& attrs, const std::vector<TensorRef>& in, int64_t k,
                        int32_t* zp, const int32_t** acc_offset) {
  TSR_RETURN_IF_ERROR(zero_point_attr(attrs, "x_zero_point", zp));
  *acc_offset = in.size() > 4 && in[4].present() ? in[4].as<const int32_t>() : nullptr;
  if (*zp != 0 && *acc_offset == nullptr)
    return InvalidArgument("x_zero_point " + std::to_string(*zp) + " needs the acc_offset input");
  const int64_t limit = *zp != 0 ? quant::kMaxKZeroPoint : quant::kMaxK;
  if (k > limit)
    return Unimplemented("reduction " + std::to_string(k) + " overflows int32 (limit " +
                         std::to_string(limit) + ")");
  return Status::Ok();
}

namespace {

// Per-token quantization (quant_kernels.h, row_scale): per row, the abs-max of the (smoothed)
// values, then the quantizer with that row's scale. Two passes over the row; the second finds it
// in L1 for any K a transformer has (K floats: 3 KiB at K = 768).
void quantize_rows(const float* x, const float* smooth_inv, int64_t rows, int64_t K, int8_t* y,
                   float* scales) {
  for (int64_t m = 0; m < rows; ++m) {
    const float* xr = x + m * K;
    float amax = 0;
    if (smooth_inv) {
      for (int64_t k = 0; k < K; ++k) amax = quant::row_absmax_step(amax, xr[k] * smooth_inv[k]);
    } else {
      for (int64_t k = 0; k < K; ++k) amax = quant::row_absmax_step(amax, xr[k]);
    }
    const float scale = quant::row_scale(amax);
    scales[m] = scale;
    int8_t* yr = y + m * K;
    if (smooth_inv) {
      for (int64_t k = 0; k < K; ++k) yr[k] = quant::quantize_value(xr[k] * smooth_inv[k], scale);
    } else {
      for (int64_t k = 0; k < K; ++k) yr[k] = quant::quantize_value(xr[k], scale);
    }
  }
}

// The per-token scale vector: f32 of x's leading shape (one scale per row).
Status check_row_scales(const TensorRef& t, const Shape& x, const char* what) {
  TSR_RETURN_IF_ERROR(check_dtype(t, DType::kFloat32, what));
  const Shape rows(x.begin(), x.end() - 1);
  if (t.shape != rows)
    return InvalidArgument(std::string(what) + " must be " + shape_str(rows) + " (x " +
                           shape_str(x) + " without its last dim), got " + shape_str(t.shape));
  return Status::Ok();
}

}  // namespace

bool per_token_attr(const AttrMap& attrs) { return attr_int(attrs, "per_token", 0) != 0; }

// x [..., K] f32, optional smooth_inv [K] f32 (SmoothQuant: x * smooth_inv before quantizing).
// Static: attributes scale and zero_point (default 0: symmetric), one output. per_token=1: no
// scale attribute, zero point 0, and a second output, the f32 row scales [...] (x's shape
// without K) computed here from each row's abs-max.
Status QuantizeI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  const bool per_token = per_token_attr(attrs);
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 2, per_token ? 2 : 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kFloat32, "input"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kInt8, "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  const int64_t K = in[0].shape.empty() ? 1 : in[0].shape.back();
  const float* s = nullptr;
  if (in.size() > 1 && in[1].present()) {
    TSR_RETURN_IF_ERROR(check_channel_vec(in[1], K, "smooth_inv"));
    s = in[1].as<const float>();
  }
  const float* x = in[0].as<const float>();
  int8_t* y = out[0].as<int8_t>();
  const int64_t n = in[0].numel();
  if (per_token) {
    if (in[0].shape.empty()) return InvalidArgument("per_token needs x of rank >= 1");
    if (attr_int(attrs, "zero_point", 0) != 0)
      return InvalidArgument("per_token scales are symmetric (zero_point 0)");
    TSR_RETURN_IF_ERROR(check_row_scales(out[1], in[0].shape, "output 1 (row scales)"));
    quantize_rows(x, s, K > 0 ? n / K : 0, K, y, out[1].as<float>());
    return Status::Ok();
  }
  float scale = 0;
  TSR_RETURN_IF_ERROR(positive_attr(attrs, "scale", &scale));
  int32_t zp = 0;
  TSR_RETURN_IF_ERROR(zero_point_attr(attrs, "zero_point", &zp));
  if (!s) {
    for (int64_t i = 0; i < n; ++i) y[i] = quant::quantize_value(x[i], scale, zp);
    return Status::Ok();
  }
  for (int64_t i = 0; i < n; ++i) y[i] = quant::quantize_value(x[i] * s[i % K], scale, zp);
  return Status::Ok();
}

Status DequantizeI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kInt8, "input"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kFloat32, "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  float scale = 0;
  TSR_RETURN_IF_ERROR(positive_attr(attrs, "scale", &scale));
  const int8_t* x = in[0].as<const int8_t>();
  float* y = out[0].as<float>();
  for (int64_t i = 0, n = in[0].numel(); i < n; ++i) y[i] = quant::dequantize_value(x[i], scale);
  return Status::Ok();
}

Status activation_scale(const AttrMap& attrs, const Ins& in, float* x_scale,
                        const float** row_scales) {
  *row_scales = nullptr;
  if (!per_token_attr(attrs)) return quant_scales(attrs, x_scale);
  if (in.size() < 6 || !in[5].present())
    return InvalidArgument("per_token needs the row scales (input 5)");
  if (attr_int(attrs, "x_zero_point", 0) != 0)
    return InvalidArgument("per_token scales are symmetric (x_zero_point 0)");
  TSR_RETURN_IF_ERROR(check_row_scales(in[5], in[0].shape, "row scales (input 5)"));
  *row_scales = in[5].as<const float>();
  return Status::Ok();
}

// x [..., K] int8, w [N, K] int8, w_scale [N] f32, bias [N] f32 (optional), acc_offset [N]
// int32 (optional; required with x_zero_point != 0), with per_token=1 row scales [...] f32 at
// input 5 instead of the x_scale attribute -> y [..., N].
Status QMatMulI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 6, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kInt8, "x"));
  TSR_RETURN_IF_ERROR(check_dtype(in[1], DType::kInt8, "w"));
  const Shape& xs = in[0].shape;
  if (xs.empty() || in[1].shape.size() != 2 || in[1].shape[1] != xs.back())
    return InvalidArgument("x " + shape_str(xs) + " and w " + shape_str(in[1].shape) +
                           " must be [...,K] and [N,K]");
  const int64_t K = xs.back(), N = in[1].shape[0], M = in[0].numel() / std::max<int64_t>(K, 1);
  TSR_RETURN_IF_ERROR(check_quant_channels(in, N));
  int32_t zp = 0;
  const int32_t* offset = nullptr;
  TSR_RETURN_IF_ERROR(quant_zero_point(attrs, in, K, &zp, &offset));
  Shape ys(xs.begin(), xs.end() - 1);
  ys.push_back(N);
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], ys));
  float x_scale = 0, y_scale = 0;
  const float* row_scales = nullptr;
  TSR_RETURN_IF_ERROR(activation_scale(attrs, in, &x_scale, &row_scales));
  TSR_RETURN_IF_ERROR(quant_epilogue_kind(attrs, out[0], &y_scale));
  const int8_t* x = in[0].as<const int8_t>();
  const int8_t* w = in[1].as<const int8_t>();
  const float* ws = in[2].as<const float>();
  const float* bias = in.size() > 3 && in[3].present() ? in[3].as<const float>() : nullptr;
  // x_scale * w_scale[n], once per layer (per-tensor) or once per row (per-token: N products
  // against the row's K*N multiply-adds).
  std::vector<float> combined(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) combined[n] = x_scale * ws[n];
  for (int64_t m = 0; m < M; ++m) {
    if (row_scales)
      for (int64_t n = 0; n < N; ++n) combined[n] = row_scales[m] * ws[n];
    const int8_t* xr = x + m * K;
    for (int64_t n = 0; n < N; ++n) {
      const int8_t* wr = w + n * K;
      int32_t acc = offset ? offset[n] : 0;
      for (int64_t k = 0; k < K; ++k) acc += int32_t{xr[k]} * int32_t{wr[k]};
      const float v = quant::dequantize_acc(acc, combined[n], bias ? bias + n : nullptr);
      if (y_scale > 0)
        out[0].as<int8_t>()[m * N + n] = quant::quantize_value(v, y_scale);
      else
        out[0].as<float>()[m * N + n] = v;
    }
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
