// Shape and dtype inference for the quantized ops. Scales are attributes (x_scale, y_scale,
// scale: per-tensor, decided by calibration) or f32 vectors (w_scale, bias, smooth_inv: one per
// channel, so they shard with their channel dim; per-token row scales: one per row of x, computed
// at run time by QuantizeI8 per_token=1 and read by QMatMulI8 as input 5). y_scale present = int8
// out (fused requantization), absent = f32 out (fused dequantization). Asymmetric activations:
// QuantizeI8's zero_point and the layer's x_zero_point (int attributes, default 0) with the int32
// [n] input 4 acc_offset = -x_zero_point * sum_k w[n,k], added to the accumulator
// (docs/quantization.md).
#include "ir/quant_ops.h"

#include "ir/shape_fns.h"

namespace tessera::ir {
namespace {

using fns::fail;
using fns::In;
using fns::Out;
using fns::shp;

Status need(const In& in, size_t i, DType t, const char* what) {
  if (in[i].first != t)
    return fail("{} must be {}, got {}", what, dtype_name(t), dtype_name(in[i].first));
  return Status::Ok();
}
Status positive(const Node& n, const char* key) {
  if (!attr_has(n.attrs, key) || !(attr_float(n.attrs, key, 0) > 0))
    return fail("attribute '{}' must be a positive float", key);
  return Status::Ok();
}
bool present(const In& in, size_t i) { return in.size() > i && in[i].first != DType::kUndefined; }
Status zero_point(const Node& n, const char* key) {
  const int64_t zp = attr_int(n.attrs, key, 0);
  if (zp < -128 || zp > 127) return fail("attribute '{}' {} is not in [-128, 127]", key, zp);
  return Status::Ok();
}
// w_scale (input 2) and the optional bias (input 3): f32 [n]; the optional acc_offset (input 4):
// int32 [n], required when x_zero_point != 0.
Status channels(const Node& nd, const In& in, int64_t n) {
  TSR_RETURN_IF_ERROR(need(in, 2, DType::kFloat32, "w_scale"));
  if (in[2].second != Shape{n}) return fail("w_scale {} must be [{}]", shp(in[2].second), n);
  if (present(in, 3)) {
    TSR_RETURN_IF_ERROR(need(in, 3, DType::kFloat32, "bias"));
    if (in[3].second != Shape{n}) return fail("bias {} must be [{}]", shp(in[3].second), n);
  }
  TSR_RETURN_IF_ERROR(zero_point(nd, "x_zero_point"));
  if (present(in, 4)) {
    TSR_RETURN_IF_ERROR(need(in, 4, DType::kInt32, "acc_offset"));
    if (in[4].second != Shape{n}) return fail("acc_offset {} must be [{}]", shp(in[4].second), n);
  } else if (attr_int(nd.attrs, "x_zero_point", 0) != 0) {
    return fail("x_zero_point needs the acc_offset input");
  }
  return Status::Ok();
}
// Float out is f32 unless the precision pass asked for bf16/f16 (attribute out_dtype, a DType
// code): the epilogue then writes the 16-bit type directly instead of f32 plus a Cast.
DType out_type(const Node& n) {
  if (attr_has(n.attrs, "y_scale")) return DType::kInt8;
  return static_cast<DType>(attr_int(n.attrs, "out_dtype", static_cast<int64_t>(DType::kFloat32)));
}
bool float_act(DType t) {
  return t == DType::kFloat32 || t == DType::kBFloat16 || t == DType::kFloat16;
}
Status check_out_dtype(const Node& n) {
  if (attr_has(n.attrs, "y_scale") || float_act(out_type(n))) return Status::Ok();
  return fail("attribute 'out_dtype' {} is not f32, bf16 or f16",
              attr_int(n.attrs, "out_dtype", 0));
}

bool per_token(const Node& n) { return attr_int(n.attrs, "per_token", 0) != 0; }
Shape rows_of(const Shape& x) { return Shape(x.begin(), x.end() - 1); }

// (x f32|bf16|f16, [smooth_inv f32 [K]]) -> int8, attrs scale, [zero_point]; per_token=1:
// -> (int8, row scales f32 [...]: x's shape without K), no scale, zero point 0.
Status quantize(const Node& n, const In& in, Out& out) {
  if (!float_act(in[0].first))
    return fail("x must be f32, bf16 or f16, got {}", dtype_name(in[0].first));
  const Shape& x = in[0].second;
  if (present(in, 1)) {
    TSR_RETURN_IF_ERROR(need(in, 1, DType::kFloat32, "smooth_inv"));
    if (x.empty() || in[1].second != Shape{x.back()})
      return fail("smooth_inv {} must be [K] for x {}", shp(in[1].second), shp(x));
  }
  if (out.size() != (per_token(n) ? 2u : 1u))
    return fail("has {} outputs; 1, or 2 with per_token (int8 and the row scales)", out.size());
  out[0] = {DType::kInt8, x};
  if (!per_token(n)) {
    TSR_RETURN_IF_ERROR(positive(n, "scale"));
    return zero_point(n, "zero_point");
  }
  if (x.empty()) return fail("per_token needs x of rank >= 1");
  if (attr_int(n.attrs, "zero_point", 0) != 0) return fail("per_token needs zero_point 0");
  out[1] = {DType::kFloat32, rows_of(x)};
  return Status::Ok();
}

// int8 -> f32, attr scale
Status dequantize(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need(in, 0, DType::kInt8, "x"));
  TSR_RETURN_IF_ERROR(positive(n, "scale"));
  TSR_RETURN_IF_ERROR(check_out_dtype(n));
  out[0] = {out_type(n), in[0].second};
  return Status::Ok();
}

// The activation scale of QMatMulI8: attribute x_scale, or with per_token=1 the f32 row scales
// [...] (x's shape without K) at input 5, produced by a per-token QuantizeI8.
Status act_scale(const Node& n, const In& in) {
  if (!per_token(n)) {
    if (present(in, 5)) return fail("input 5 (row scales) needs per_token=1");
    return positive(n, "x_scale");
  }
  if (!present(in, 5)) return fail("per_token needs the row scales (input 5)");
  TSR_RETURN_IF_ERROR(need(in, 5, DType::kFloat32, "row scales"));
  if (in[5].second != rows_of(in[0].second))
    return fail("row scales {} must be {} for x {}", shp(in[5].second), shp(rows_of(in[0].second)),
                shp(in[0].second));
  if (attr_int(n.attrs, "x_zero_point", 0) != 0) return fail("per_token needs x_zero_point 0");
  return Status::Ok();
}

// (x int8 [...,K], w int8 [N,K], w_scale [N], [bias [N]], [acc_offset i32 [N]],
//  [row scales f32 [...]]) -> [...,N]
Status qmatmul(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need(in, 0, DType::kInt8, "x"));
  TSR_RETURN_IF_ERROR(need(in, 1, DType::kInt8, "w"));
  if (attr_has(n.attrs, "y_scale")) TSR_RETURN_IF_ERROR(positive(n, "y_scale"));
  const Shape &x = in[0].second, &w = in[1].second;
  if (x.empty() || w.size() != 2 || w[1] != x.back())
    return fail("x {} and w {} must be [...,K] and [N,K]", shp(x), shp(w));
  TSR_RETURN_IF_ERROR(act_scale(n, in));
  TSR_RETURN_IF_ERROR(channels(n, in, w[0]));
  Shape y(x.begin(), x.end() - 1);
  y.push_back(w[0]);
  TSR_RETURN_IF_ERROR(check_out_dtype(n));
  out[0] = {out_type(n), y};
  return Status::Ok();
}

// (x int8 NCHW, w int8 [M,C/g,kh,kw], w_scale [M], [bias [M]], [acc_offset i32 [M]]) -> NCHW;
// geometry as Conv's.
Status qconv(const Node& n, const In& in, Out& out) {
  TSR_RETURN_IF_ERROR(need(in, 0, DType::kInt8, "x"));
  TSR_RETURN_IF_ERROR(need(in, 1, DType::kInt8, "w"));
  if (per_token(n)) return fail("per_token is QMatMulI8's (rows of NCHW are not tokens)");
  TSR_RETURN_IF_ERROR(positive(n, "x_scale"));
  if (attr_has(n.attrs, "y_scale")) TSR_RETURN_IF_ERROR(positive(n, "y_scale"));
  if (in[0].second.size() != 4 || in[1].second.size() != 4)
    return fail("x {} and w {} must be 4-D (2-D convolution)", shp(in[0].second),
                shp(in[1].second));
  TSR_RETURN_IF_ERROR(channels(n, in, in[1].second[0]));
  const In conv_in = {in[0], in[1]};
  TSR_RETURN_IF_ERROR(fns::conv(n, conv_in, out));
  TSR_RETURN_IF_ERROR(check_out_dtype(n));
  out[0].first = out_type(n);
  return Status::Ok();
}

}  // namespace

const std::vector<OpInfo>& quant_op_table() {
  static const std::vector<OpInfo> table = {
      {"DequantizeI8", 1, 1, 1, dequantize, {}},
      {"QConvI8", 3, 5, 1, qconv, {}},
      {"QMatMulI8", 3, 6, 1, qmatmul, {}},
      {"QuantizeI8", 1, 2, -1, quantize, {}},
  };
  return table;
}

const OpInfo* find_quant_op(std::string_view name) { return find_in_table(quant_op_table(), name); }

}  // namespace tessera::ir
