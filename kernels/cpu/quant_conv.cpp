// QConvI8: 2-D NCHW convolution on int8 with int32 accumulation. im2row (one K-contiguous int8
// row of Cg*kh*kw per output position, x_zero_point outside the image: the code of 0.0, which
// acc_offset = -zp * sum w cancels exactly) then
// int8 dot products against the [M, Cg*kh*kw] weight rows. The row buffer is OH*OW*Cg*kh*kw bytes
// per image and group, a quarter of what the float im2col costs.
#include <algorithm>
#include <string>

#include "cpu/kernel_util.h"
#include "cpu/quant_kernels.h"

namespace tessera::kernels::cpu {

Status qconv_geom(const AttrMap& attrs, const Shape& x, const Shape& w, quant::ConvGeom* g) {
  if (x.size() != 4 || w.size() != 4)
    return Unimplemented("QConvI8 is 2-D only: x " + shape_str(x) + ", w " + shape_str(w));
  const Shape wk = {w[2], w[3]};
  Window win;
  TSR_RETURN_IF_ERROR(parse_window(attrs, 2, &wk, &win));
  g->group = attr_int(attrs, "group", 1);
  if (g->group < 1 || x[1] != w[1] * g->group || w[0] % g->group != 0)
    return InvalidArgument("channels: x " + shape_str(x) + ", w " + shape_str(w) + ", group " +
                           std::to_string(g->group));
  g->B = x[0], g->C = x[1], g->H = x[2], g->W = x[3], g->M = w[0], g->kh = w[2], g->kw = w[3];
  g->sh = win.strides[0], g->sw = win.strides[1], g->dh = win.dilations[0];
  g->dw = win.dilations[1], g->pt = win.pads[0], g->pl = win.pads[1];
  const int64_t ph = g->H + win.pads[0] + win.pads[2], pw = g->W + win.pads[1] + win.pads[3];
  if (ph < win.span(0) || pw < win.span(1)) return InvalidArgument("window larger than input");
  g->OH = (ph - win.span(0)) / g->sh + 1;
  g->OW = (pw - win.span(1)) / g->sw + 1;
  return Status::Ok();
}

namespace {

// Rows [OH*OW][Cg*kh*kw] of image b, group gi.
void im2row(const int8_t* x, const quant::ConvGeom& g, int64_t b, int64_t gi, int8_t pad,
            int8_t* rows) {
  const int64_t cg = g.C / g.group, kk = cg * g.kh * g.kw;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      int8_t* r = rows + (oh * g.OW + ow) * kk;
      for (int64_t c = 0; c < cg; ++c) {
        const int8_t* img = x + ((b * g.C) + gi * cg + c) * g.H * g.W;
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t ih = oh * g.sh - g.pt + i * g.dh;
          for (int64_t j = 0; j < g.kw; ++j, ++r) {
            const int64_t iw = ow * g.sw - g.pl + j * g.dw;
            *r = (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) ? img[ih * g.W + iw] : pad;
          }
        }
      }
    }
  }
}

}  // namespace

// x [B,C,H,W] int8, w [M,C/g,kh,kw] int8, w_scale [M] f32, bias [M] f32 (optional),
// acc_offset [M] int32 (optional; required with x_zero_point != 0).
Status QConvI8(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 5, 1));
  TSR_RETURN_IF_ERROR(check_dtype(in[0], DType::kInt8, "x"));
  TSR_RETURN_IF_ERROR(check_dtype(in[1], DType::kInt8, "w"));
  quant::ConvGeom g{};
  TSR_RETURN_IF_ERROR(qconv_geom(attrs, in[0].shape, in[1].shape, &g));
  const int64_t cg = g.C / g.group, mg = g.M / g.group, kk = cg * g.kh * g.kw;
  TSR_RETURN_IF_ERROR(check_quant_channels(in, g.M));
  int32_t zp = 0;
  const int32_t* offset = nullptr;
  TSR_RETURN_IF_ERROR(quant_zero_point(attrs, in, kk, &zp, &offset));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {g.B, g.M, g.OH, g.OW}));
  float x_scale = 0, y_scale = 0;
  TSR_RETURN_IF_ERROR(quant_scales(attrs, &x_scale));
  TSR_RETURN_IF_ERROR(quant_epilogue_kind(attrs, out[0], &y_scale));
  const int8_t* w = in[1].as<const int8_t>();
  const float* ws = in[2].as<const float>();
  const float* bias = in.size() > 3 && in[3].present() ? in[3].as<const float>() : nullptr;
  const int64_t P = g.OH * g.OW;
  std::vector<int8_t> rows(static_cast<size_t>(P * kk));
  for (int64_t b = 0; b < g.B; ++b) {
    for (int64_t gi = 0; gi < g.group; ++gi) {
      im2row(in[0].as<const int8_t>(), g, b, gi, static_cast<int8_t>(zp), rows.data());
      for (int64_t mi = 0; mi < mg; ++mi) {
        const int64_t m = gi * mg + mi;
        const int8_t* wr = w + m * kk;
        const float combined = x_scale * ws[m];
        const int64_t o = (b * g.M + m) * P;
        for (int64_t p = 0; p < P; ++p) {
          const int8_t* r = rows.data() + p * kk;
          int32_t acc = offset ? offset[m] : 0;
          for (int64_t k = 0; k < kk; ++k) acc += int32_t{r[k]} * int32_t{wr[k]};
          const float v = quant::dequantize_acc(acc, combined, bias ? bias + m : nullptr);
          if (y_scale > 0)
            out[0].as<int8_t>()[o + p] = quant::quantize_value(v, y_scale);
          else
            out[0].as<float>()[o + p] = v;
        }
      }
    }
  }
  return Status::Ok();
}

}  // namespace tessera::kernels::cpu
