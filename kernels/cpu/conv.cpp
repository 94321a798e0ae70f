// Conv and ConvTranspose, N-d, with groups, strides, dilations and pads: im2col + gemm (BLAS),
// and gemm + col2im for the transpose. The column buffer is Cg*prod(k)*prod(out) elements,
// allocated once per call; 1x1/stride-1/unpadded convs skip it.
#include <algorithm>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {

Status parse_window(const AttrMap& attrs, int nd, const Shape* weight_k, Window* w) {
  w->nd = nd;
  w->k = attr_ints(attrs, "kernel_shape");
  if (weight_k != nullptr) {
    if (w->k.empty()) w->k = *weight_k;
    if (w->k != *weight_k) {
      return InvalidArgument("kernel_shape " + shape_str(w->k) + " differs from weight's " +
                             shape_str(*weight_k));
    }
  }
  w->strides = attr_ints(attrs, "strides", std::vector<int64_t>(nd, 1));
  w->dilations = attr_ints(attrs, "dilations", std::vector<int64_t>(nd, 1));
  w->pads = attr_ints(attrs, "pads", std::vector<int64_t>(2 * nd, 0));
  const size_t n = static_cast<size_t>(nd);
  if (w->k.size() != n)
    return InvalidArgument("kernel_shape must have " + std::to_string(nd) + " values");
  if (w->strides.size() != n)
    return InvalidArgument("strides must have " + std::to_string(nd) + " values");
  if (w->dilations.size() != n)
    return InvalidArgument("dilations must have " + std::to_string(nd) + " values");
  if (w->pads.size() != 2 * n)
    return InvalidArgument("pads must have " + std::to_string(2 * nd) + " values");
  for (size_t d = 0; d < n; ++d) {
    if (w->k[d] < 1 || w->strides[d] < 1 || w->dilations[d] < 1) {
      return InvalidArgument("kernel_shape, strides and dilations must be >= 1");
    }
    if (w->pads[d] < 0 || w->pads[d + n] < 0) return InvalidArgument("pads must be >= 0");
  }
  return Status::Ok();
}

namespace {

// Image <-> columns walk. The image has `ch` channels of spatial dims `img`; the columns have
// one row per (channel, kernel offset) and one column per window position (`pos` dims).
// Window position p, kernel offset q touch image coordinate p*s - pad + q*dil (per dim).
// kToCols copies image -> columns (zero outside); otherwise it adds columns into the image.
struct Walk {
  Shape img, pos, k;
  std::vector<int64_t> s, pad, dil;
  int64_t ch = 0;
};

template <class T, bool kToCols>
void walk(const Walk& g, T* img, T* col) {
  const int nd = static_cast<int>(g.img.size());
  const int64_t img_sp = num_elements(g.img), pos_sp = num_elements(g.pos);
  const int64_t ksz = num_elements(g.k), inner = g.pos[nd - 1],
                rows = pos_sp / std::max<int64_t>(inner, 1);
  std::vector<int64_t> kk(nd), pi(nd);
  for (int64_t c = 0; c < g.ch; ++c) {
    for (int64_t kr = 0; kr < ksz; ++kr) {
      int64_t rem = kr;
      for (int d = nd - 1; d >= 0; --d) {  // unravel the kernel offset
        kk[d] = rem % g.k[d];
        rem /= g.k[d];
      }
      T* cp = col + (c * ksz + kr) * pos_sp;
      T* ip = img + c * img_sp;
      std::fill(pi.begin(), pi.end(), 0);
      const int64_t s = g.s[nd - 1], off = kk[nd - 1] * g.dil[nd - 1] - g.pad[nd - 1];
      const int64_t len = g.img[nd - 1];
      for (int64_t r = 0; r < rows; ++r, cp += inner) {
        int64_t base = 0;
        bool ok = true;
        for (int d = 0; d < nd - 1; ++d) {
          const int64_t i = pi[d] * g.s[d] - g.pad[d] + kk[d] * g.dil[d];
          ok = ok && i >= 0 && i < g.img[d];
          base = base * g.img[d] + i;
        }
        base *= len;
        for (int64_t o = 0; o < inner; ++o) {
          const int64_t i = o * s + off;
          const bool in = ok && i >= 0 && i < len;
          if constexpr (kToCols) {
            cp[o] = in ? ip[base + i] : T(0);
          } else {
            if (in) ip[base + i] += cp[o];
          }
        }
        for (int d = nd - 2; d >= 0; --d) {  // odometer over outer window positions
          if (++pi[d] < g.pos[d]) break;
          pi[d] = 0;
        }
      }
    }
  }
}

struct ConvDims {
  int64_t N, C, M, G, Cg, Mg, in_sp, out_sp, ksz;
};

template <class T>
void add_bias(const TensorRef& b, const ConvDims& d, T* y) {
  if (!b.present()) return;
  const T* pb = b.as<const T>();
  for (int64_t n = 0; n < d.N; ++n)
    for (int64_t m = 0; m < d.M; ++m) {
      T* p = y + (n * d.M + m) * d.out_sp;
      for (int64_t i = 0; i < d.out_sp; ++i) p[i] += pb[m];
    }
}

template <class T>
Status conv_typed(const Walk& g, const ConvDims& d, const Ins& in, const TensorRef& o) {
  const T* x = in[0].as<const T>();
  const T* w = in[1].as<const T>();
  T* y = o.as<T>();
  bool direct = true;  // 1x1, stride 1, no pad: the image already is the column matrix
  for (size_t i = 0; i < g.k.size(); ++i) {
    direct = direct && g.k[i] == 1 && g.s[i] == 1 && g.pad[i] == 0 && g.pad[i + g.k.size()] == 0;
  }
  std::vector<T> col(direct ? 0 : static_cast<size_t>(d.Cg * d.ksz * d.out_sp));
  const int64_t kdim = d.Cg * d.ksz;
  for (int64_t n = 0; n < d.N; ++n) {
    for (int64_t gi = 0; gi < d.G; ++gi) {
      const T* xg = x + (n * d.C + gi * d.Cg) * d.in_sp;
      const T* cols = xg;
      if (!direct) {
        walk<T, true>(g, const_cast<T*>(xg), col.data());  // reads only when kToCols
        cols = col.data();
      }
      TSR_RETURN_IF_ERROR(gemm<T>(false, false, d.Mg, d.out_sp, kdim, T(1), w + gi * d.Mg * kdim,
                                  kdim, cols, d.out_sp, T(0), y + (n * d.M + gi * d.Mg) * d.out_sp,
                                  d.out_sp));
    }
  }
  add_bias(in.size() > 2 ? in[2] : TensorRef{}, d, y);
  return Status::Ok();
}

template <class T>
Status conv_transpose_typed(const Walk& g, const ConvDims& d, const Ins& in, const TensorRef& o) {
  const T* x = in[0].as<const T>();
  const T* w = in[1].as<const T>();
  T* y = o.as<T>();
  std::fill(y, y + o.numel(), T(0));
  std::vector<T> col(static_cast<size_t>(d.Mg * d.ksz * d.in_sp));
  const int64_t rows = d.Mg * d.ksz;
  for (int64_t n = 0; n < d.N; ++n) {
    for (int64_t gi = 0; gi < d.G; ++gi) {
      // col[Mg*k, in_sp] = W_g^T[Mg*k, Cg] * x_g[Cg, in_sp]
      TSR_RETURN_IF_ERROR(gemm<T>(true, false, rows, d.in_sp, d.Cg, T(1), w + gi * d.Cg * rows,
                                  rows, x + (n * d.C + gi * d.Cg) * d.in_sp, d.in_sp, T(0),
                                  col.data(), d.in_sp));
      walk<T, false>(g, y + (n * d.M + gi * d.Mg) * d.out_sp, col.data());
    }
  }
  add_bias(in.size() > 2 ? in[2] : TensorRef{}, d, y);
  return Status::Ok();
}

// Shared checks of Conv and ConvTranspose. `transpose` swaps the roles of w's first two dims.
Status conv_setup(const AttrMap& attrs, const Ins& in, const Ins& out, bool transpose, Window* win,
                  ConvDims* d) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape &xs = in[0].shape, &ws = in[1].shape;
  if (xs.size() < 3 || ws.size() != xs.size()) {
    return InvalidArgument("X " + shape_str(xs) + " and W " + shape_str(ws) +
                           " must have the same rank >= 3");
  }
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "W"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const int nd = static_cast<int>(xs.size()) - 2;
  const Shape wk(ws.begin() + 2, ws.end());
  TSR_RETURN_IF_ERROR(parse_window(attrs, nd, &wk, win));
  d->G = attr_int(attrs, "group", 1);
  d->N = xs[0];
  d->C = xs[1];
  if (d->G < 1 || d->C % d->G != 0) return InvalidArgument("group must divide the channels");
  d->Cg = d->C / d->G;
  if (transpose) {
    if (ws[0] != d->C) return InvalidArgument("W dim 0 must equal input channels");
    d->Mg = ws[1];
  } else {
    if (ws[0] % d->G != 0) return InvalidArgument("group must divide W dim 0");
    if (ws[1] != d->Cg) return InvalidArgument("W dim 1 must be channels / group");
    d->Mg = ws[0] / d->G;
  }
  d->M = d->Mg * d->G;
  if (in.size() > 2 && in[2].present()) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "B"));
    if (in[2].shape != Shape{d->M})
      return InvalidArgument("B must have shape " + std::to_string(d->M));
  }
  d->ksz = num_elements(win->k);
  d->in_sp = num_elements(Shape(xs.begin() + 2, xs.end()));
  return Status::Ok();
}

template <class F>
Status dispatch_float(const TensorRef& t, F&& f) {
  if (t.dtype == DType::kFloat32) return f(float{});
  if (t.dtype == DType::kFloat64) return f(double{});
  return unsupported_dtype(t, "X");
}

}  // namespace

Status Conv(const AttrMap& attrs, const Ins& in, const Ins& out) {
  Window win;
  ConvDims d;
  TSR_RETURN_IF_ERROR(conv_setup(attrs, in, out, false, &win, &d));
  const int nd = win.nd;
  Walk g{Shape(in[0].shape.begin() + 2, in[0].shape.end()),
         {},
         win.k,
         win.strides,
         win.pads,
         win.dilations,
         d.Cg};
  Shape want = {d.N, d.M};
  for (int i = 0; i < nd; ++i) {
    const int64_t span = g.img[i] + win.pads[i] + win.pads[i + nd] - win.span(i);
    if (span < 0)
      return InvalidArgument("kernel larger than padded input on spatial dim " + std::to_string(i));
    g.pos.push_back(span / win.strides[i] + 1);
    want.push_back(g.pos.back());
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  d.out_sp = num_elements(g.pos);
  return dispatch_float(in[0],
                        [&](auto tag) { return conv_typed<decltype(tag)>(g, d, in, out[0]); });
}

Status ConvTranspose(const AttrMap& attrs, const Ins& in, const Ins& out) {
  Window win;
  ConvDims d;
  TSR_RETURN_IF_ERROR(conv_setup(attrs, in, out, true, &win, &d));
  const int nd = win.nd;
  const auto opad = attr_ints(attrs, "output_padding", std::vector<int64_t>(nd, 0));
  if (opad.size() != static_cast<size_t>(nd))
    return InvalidArgument("output_padding must have one value per spatial dim");
  Walk g{{},       Shape(in[0].shape.begin() + 2, in[0].shape.end()),
         win.k,    win.strides,
         win.pads, win.dilations,
         d.Mg};
  Shape want = {d.N, d.M};
  for (int i = 0; i < nd; ++i) {
    const int64_t o =
        win.strides[i] * (g.pos[i] - 1) + opad[i] + win.span(i) - win.pads[i] - win.pads[i + nd];
    if (o < 0 || opad[i] < 0)
      return InvalidArgument("negative output size on spatial dim " + std::to_string(i));
    g.img.push_back(o);
    want.push_back(o);
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  d.out_sp = num_elements(g.img);
  return dispatch_float(
      in[0], [&](auto tag) { return conv_transpose_typed<decltype(tag)>(g, d, in, out[0]); });
}

}  // namespace tessera::kernels::cpu
