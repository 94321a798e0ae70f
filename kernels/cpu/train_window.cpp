// Gradients of the sliding-window ops: Conv's weight gradient and the pools' input gradients.
// (Conv's input gradient is ConvTranspose, a forward op.) Direct loops over output positions
// and a table of kernel offsets, N-d; the window rules (pads, dilations, ceil_mode,
// count_include_pad, first maximum wins) match the forward kernels in pool.cpp/conv.cpp.
#include <cmath>
#include <limits>

#include "cpu/train_util.h"

namespace tessera::kernels::cpu {
namespace {

struct Geom {
  Window win;
  Shape in, out;              // spatial dims of the forward input and output
  std::vector<int64_t> koff;  // ksz x nd offsets (q * dilation)
  int64_t ksz = 0;
};

Status make_geom(const AttrMap& attrs, const Shape& x, const Shape& y, const Shape* wk, Geom* g) {
  const int nd = static_cast<int>(x.size()) - 2;
  if (nd < 1 || y.size() != x.size())
    return InvalidArgument("x " + shape_str(x) + " and dy " + shape_str(y) +
                           " need equal rank >= 3");
  TSR_RETURN_IF_ERROR(parse_window(attrs, nd, wk, &g->win));
  g->in.assign(x.begin() + 2, x.end());
  g->out.assign(y.begin() + 2, y.end());
  g->ksz = num_elements(g->win.k);
  g->koff.resize(static_cast<size_t>(g->ksz * nd));
  for (int64_t kr = 0; kr < g->ksz; ++kr) {
    int64_t rem = kr;
    for (int d = nd - 1; d >= 0; --d) {
      g->koff[kr * nd + d] = (rem % g->win.k[d]) * g->win.dilations[d];
      rem /= g->win.k[d];
    }
  }
  return Status::Ok();
}

// f(output spatial index, window start coords) for every output position of one plane.
template <class F>
void for_each_out(const Geom& g, F&& f) {
  const int nd = g.win.nd;
  std::vector<int64_t> p(nd, 0), start(nd);
  for (int64_t o = 0, n = num_elements(g.out); o < n; ++o) {
    for (int d = 0; d < nd; ++d) start[d] = p[d] * g.win.strides[d] - g.win.pads[d];
    f(o, start.data());
    for (int d = nd - 1; d >= 0; --d) {
      if (++p[d] < g.out[d]) break;
      p[d] = 0;
    }
  }
}

// Flat input index of start + koff[kr]; -1 outside the image. `padded` says whether the
// position lies inside the padded extent (AveragePool's count_include_pad).
inline int64_t tap(const Geom& g, const int64_t* start, int64_t kr, bool* padded = nullptr) {
  const int nd = g.win.nd;
  int64_t idx = 0;
  bool inside = true, in_pad = true;
  for (int d = 0; d < nd; ++d) {
    const int64_t i = start[d] + g.koff[kr * nd + d];
    inside = inside && i >= 0 && i < g.in[d];
    in_pad = in_pad && i >= -g.win.pads[d] && i < g.in[d] + g.win.pads[d + nd];
    idx = idx * g.in[d] + i;
  }
  if (padded) *padded = in_pad;
  return inside ? idx : -1;
}

// dw[o, c, k] = sum_{n, p} dy[n, o, p] * x[n, grp(o)*cin_g + c, p*s - pad + k*d]
template <class T>
Status conv_grad_weight(const Geom& g, int64_t group, const TensorRef& dy, const TensorRef& x,
                        const TensorRef& dw) {
  const int64_t n = x.shape[0], cin = x.shape[1], cout = dy.shape[1];
  const int64_t cin_g = cin / group, cout_g = cout / group;
  const int64_t in_sp = num_elements(g.in), out_sp = num_elements(g.out);
  std::vector<double> acc(static_cast<size_t>(dw.numel()), 0.0);
  for (int64_t b = 0; b < n; ++b) {
    for (int64_t o = 0; o < cout; ++o) {
      const T* dyp = dy.as<const T>() + (b * cout + o) * out_sp;
      const int64_t c0 = (o / cout_g) * cin_g;
      for_each_out(g, [&](int64_t p, const int64_t* start) {
        const double v = dyp[p];
        if (v == 0) return;
        for (int64_t kr = 0; kr < g.ksz; ++kr) {
          const int64_t i = tap(g, start, kr);
          if (i < 0) continue;
          for (int64_t c = 0; c < cin_g; ++c)
            acc[(o * cin_g + c) * g.ksz + kr] +=
                v * double(x.as<const T>()[(b * cin + c0 + c) * in_sp + i]);
        }
      });
    }
  }
  for (size_t i = 0; i < acc.size(); ++i) dw.as<T>()[i] = T(acc[i]);
  return Status::Ok();
}

template <class T>
Status max_pool_grad(const Geom& g, const TensorRef& dy, const TensorRef& x, const TensorRef& dx) {
  const int64_t planes = x.shape[0] * x.shape[1];
  const int64_t in_sp = num_elements(g.in), out_sp = num_elements(g.out);
  std::fill(dx.as<T>(), dx.as<T>() + dx.numel(), T(0));
  for (int64_t pl = 0; pl < planes; ++pl) {
    const T* xp = x.as<const T>() + pl * in_sp;
    T* dxp = dx.as<T>() + pl * in_sp;
    for_each_out(g, [&](int64_t p, const int64_t* start) {
      int64_t best = -1;
      for (int64_t kr = 0; kr < g.ksz; ++kr) {
        const int64_t i = tap(g, start, kr);
        if (i >= 0 && (best < 0 || xp[i] > xp[best])) best = i;
      }
      if (best >= 0) dxp[best] += dy.as<const T>()[pl * out_sp + p];
    });
  }
  return Status::Ok();
}

template <class T>
Status avg_pool_grad(const Geom& g, bool count_pad, const TensorRef& dy, const TensorRef& dx) {
  const int64_t planes = dx.shape[0] * dx.shape[1];
  const int64_t in_sp = num_elements(g.in), out_sp = num_elements(g.out);
  std::vector<double> acc(static_cast<size_t>(dx.numel()), 0.0);
  std::vector<int64_t> taps(static_cast<size_t>(g.ksz));
  for (int64_t pl = 0; pl < planes; ++pl) {
    for_each_out(g, [&](int64_t p, const int64_t* start) {
      int64_t cnt = 0, nt = 0;
      for (int64_t kr = 0; kr < g.ksz; ++kr) {
        bool padded;
        const int64_t i = tap(g, start, kr, &padded);
        if (i >= 0) taps[nt++] = i;
        cnt += i >= 0 || (count_pad && padded);
      }
      if (!cnt) return;
      const double v = double(dy.as<const T>()[pl * out_sp + p]) / double(cnt);
      for (int64_t t = 0; t < nt; ++t) acc[pl * in_sp + taps[t]] += v;
    });
  }
  for (size_t i = 0; i < acc.size(); ++i) dx.as<T>()[i] = T(acc[i]);
  return Status::Ok();
}

}  // namespace

Status ConvGradWeight(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  const Shape ws = attr_ints(attrs, "w_shape");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], ws, "dw"));
  const int64_t group = attr_int(attrs, "group", 1);
  const Shape& x = in[1].shape;
  if (ws.size() != x.size() || group < 1 || x[1] % group || in[0].shape[1] != ws[0] ||
      ws[1] * group != x[1])
    return InvalidArgument("w_shape " + shape_str(ws) + " does not fit x " + shape_str(x) +
                           " and dy " + shape_str(in[0].shape));
  const Shape wk(ws.begin() + 2, ws.end());
  Geom g;
  TSR_RETURN_IF_ERROR(make_geom(attrs, x, in[0].shape, &wk, &g));
  return dispatch_float(in[0], "dy", [&](auto t) {
    return conv_grad_weight<decltype(t)>(g, group, in[0], in[1], out[0]);
  });
}

Status MaxPoolGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape, "dx"));
  Geom g;
  TSR_RETURN_IF_ERROR(make_geom(attrs, in[1].shape, in[0].shape, nullptr, &g));
  return dispatch_float(
      in[0], "dy", [&](auto t) { return max_pool_grad<decltype(t)>(g, in[0], in[1], out[0]); });
}

Status AveragePoolGrad(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  const Shape xs = attr_ints(attrs, "x_shape");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs, "dx"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "dx"));
  Geom g;
  TSR_RETURN_IF_ERROR(make_geom(attrs, xs, in[0].shape, nullptr, &g));
  const bool cp = attr_int(attrs, "count_include_pad", 0) != 0;
  return dispatch_float(in[0], "dy",
                        [&](auto t) { return avg_pool_grad<decltype(t)>(g, cp, in[0], out[0]); });
}

}  // namespace tessera::kernels::cpu
