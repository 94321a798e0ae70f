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

// x [..., K] f32, optional smooth_inv [K] f32 (SmoothQuant: x * smooth_inv before quantizing);
// attribute zero_point (default 0: symmetric).
Status QuantizeI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 2, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kFloat32, "input"));
  TSR_RETURN_IF_ERROR(check_dtype(out[0], DType::kInt8, "output"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[0].shape));
  float scale = 0;
  TSR_RETURN_IF_ERROR(positive_attr(attrs, "scale", &scale));
  int32_t zp = 0;
  TSR_RETURN_IF_ERROR(zero_point_attr(attrs, "zero_point", &zp));
  const float* x = in[0].as<const float>();
  int8_t* y = out[0].as<int8_t>();
  const int64_t n = in[0].numel();
  if (in.size() < 2 || !in[1].present()) {
    for (int64_t i = 0; i < n; ++i) y[i] = quant::quantize_value(x[i], scale, zp);
    return Status::Ok();
  }
  const int64_t K = in[0].shape.empty() ? 1 : in[0].shape.back();
  TSR_RETURN_IF_ERROR(check_channel_vec(in[1], K, "smooth_inv"));
  const float* s = in[1].as<const float>();
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

// x [..., K] int8, w [N, K] int8, w_scale [N] f32, bias [N] f32 (optional), acc_offset [N]
// int32 (optional; required with x_zero_point != 0) -> y [..., N].
Status QMatMulI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 5, 1));
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
  TSR_RETURN_IF_ERROR(quant_scales(attrs, &x_scale));
  TSR_RETURN_IF_ERROR(quant_epilogue_kind(attrs, out[0], &y_scale));
  const int8_t* x = in[0].as<const int8_t>();
  const int8_t* w = in[1].as<const int8_t>();
  const float* ws = in[2].as<const float>();
  const float* bias = in.size() > 3 && in[3].present() ? in[3].as<const float>() : nullptr;
  std::vector<float> combined(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) combined[n] = x_scale * ws[n];
  for (int64_t m = 0; m < M; ++m) {
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
