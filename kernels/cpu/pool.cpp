// MaxPool, AveragePool (N-d, pads, dilations, ceil_mode, count_include_pad) and
// GlobalAveragePool. A direct window loop per output element over a precomputed table of kernel
// offsets; sums in double. MaxPool's optional second output holds flat NCHW input indices.
#include <cmath>
#include <limits>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {
namespace {

struct PoolGeom {
  Window win;
  Shape in, out;              // spatial dims
  std::vector<int64_t> koff;  // ksz x nd kernel offsets (q * dilation)
  int64_t planes = 0;         // N * C
};

Status pool_setup(const AttrMap& attrs, const Ins& in, const Ins& out, size_t max_out,
                  PoolGeom* g) {
  if (out.size() < 1 || out.size() > max_out) return InvalidArgument("wrong number of outputs");
  TSR_RETURN_IF_ERROR(check_arity(in, {out[0]}, 1, 1, 1));
  const Shape& xs = in[0].shape;
  if (xs.size() < 3) return InvalidArgument("X must have rank >= 3, got " + shape_str(xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const int nd = static_cast<int>(xs.size()) - 2;
  TSR_RETURN_IF_ERROR(parse_window(attrs, nd, nullptr, &g->win));
  const bool ceil_mode = attr_int(attrs, "ceil_mode", 0) != 0;
  g->in.assign(xs.begin() + 2, xs.end());
  g->planes = xs[0] * xs[1];
  Shape want = {xs[0], xs[1]};
  for (int d = 0; d < nd; ++d) {
    const int64_t s = g->win.strides[d], pb = g->win.pads[d];
    const int64_t span = g->in[d] + pb + g->win.pads[d + nd] - g->win.span(d);
    if (span < 0)
      return InvalidArgument("kernel larger than padded input on spatial dim " + std::to_string(d));
    int64_t o = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    if (ceil_mode && (o - 1) * s >= g->in[d] + pb) --o;  // last window may not start in the pad
    g->out.push_back(o);
    want.push_back(o);
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  if (out.size() == 2) {
    TSR_RETURN_IF_ERROR(check_dtype(out[1], DType::kInt64, "Indices"));
    TSR_RETURN_IF_ERROR(check_out_shape(out[1], want, "Indices"));
  }
  const int64_t ksz = num_elements(g->win.k);
  g->koff.resize(static_cast<size_t>(ksz * nd));
  for (int64_t kr = 0; kr < ksz; ++kr) {
    int64_t rem = kr;
    for (int d = nd - 1; d >= 0; --d) {
      g->koff[kr * nd + d] = (rem % g->win.k[d]) * g->win.dilations[d];
      rem /= g->win.k[d];
    }
  }
  return Status::Ok();
}

// Calls f(plane, out_index, start coords) for every output element; start = p*s - pad_begin.
template <class F>
void for_each_window(const PoolGeom& g, F&& f) {
  const int nd = g.win.nd;
  const int64_t out_sp = num_elements(g.out);
  std::vector<int64_t> p(nd), start(nd);
  for (int64_t pl = 0; pl < g.planes; ++pl) {
    std::fill(p.begin(), p.end(), 0);
    for (int64_t o = 0; o < out_sp; ++o) {
      for (int d = 0; d < nd; ++d) start[d] = p[d] * g.win.strides[d] - g.win.pads[d];
      f(pl, pl * out_sp + o, start.data());
      for (int d = nd - 1; d >= 0; --d) {
        if (++p[d] < g.out[d]) break;
        p[d] = 0;
      }
    }
  }
}

// Flat spatial index of start+koff[kr], or -1 when outside [lo_d, hi_d) for some dim.
inline int64_t window_index(const PoolGeom& g, const int64_t* start, int64_t kr, bool* in_image) {
  const int nd = g.win.nd;
  int64_t idx = 0;
  *in_image = true;
  for (int d = 0; d < nd; ++d) {
    const int64_t i = start[d] + g.koff[kr * nd + d];
    if (i < 0 || i >= g.in[d]) *in_image = false;
    idx = idx * g.in[d] + i;
  }
  return idx;
}

template <class T>
void max_pool(const PoolGeom& g, const TensorRef& x, const Ins& out) {
  const T* px = x.as<const T>();
  T* py = out[0].as<T>();
  int64_t* pidx = out.size() == 2 ? out[1].as<int64_t>() : nullptr;
  const int64_t in_sp = num_elements(g.in), ksz = num_elements(g.win.k);
  for_each_window(g, [&](int64_t pl, int64_t oi, const int64_t* start) {
    T best = -std::numeric_limits<T>::infinity();
    int64_t best_i = -1;
    for (int64_t kr = 0; kr < ksz; ++kr) {
      bool inside;
      const int64_t i = window_index(g, start, kr, &inside);
      if (!inside) continue;
      const T v = px[pl * in_sp + i];
      if (best_i < 0 || v > best || std::isnan(v)) {
        best = v;
        best_i = i;
        if (std::isnan(v)) break;
      }
    }
    py[oi] = best;
    if (pidx) pidx[oi] = best_i < 0 ? -1 : pl * in_sp + best_i;
  });
}

template <class T>
void avg_pool(const PoolGeom& g, bool count_pad, const TensorRef& x, const TensorRef& y) {
  const T* px = x.as<const T>();
  T* py = y.as<T>();
  const int nd = g.win.nd;
  const int64_t in_sp = num_elements(g.in), ksz = num_elements(g.win.k);
  for_each_window(g, [&](int64_t pl, int64_t oi, const int64_t* start) {
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t kr = 0; kr < ksz; ++kr) {
      bool inside;
      const int64_t i = window_index(g, start, kr, &inside);
      if (inside) {
        sum += px[pl * in_sp + i];
        ++cnt;
      } else if (count_pad) {  // padding counts, positions past the end pad (ceil_mode) do not
        bool in_padded = true;
        for (int d = 0; d < nd; ++d) {
          const int64_t c = start[d] + g.koff[kr * nd + d];
          in_padded = in_padded && c >= -g.win.pads[d] && c < g.in[d] + g.win.pads[d + nd];
        }
        cnt += in_padded;
      }
    }
    py[oi] =
        cnt ? static_cast<T>(sum / static_cast<double>(cnt)) : std::numeric_limits<T>::quiet_NaN();
  });
}

}  // namespace

Status MaxPool(const AttrMap& attrs, const Ins& in, const Ins& out) {
  PoolGeom g;
  TSR_RETURN_IF_ERROR(pool_setup(attrs, in, out, 2, &g));
  if (attr_int(attrs, "storage_order", 0) != 0) return Unimplemented("storage_order=1");
  if (in[0].dtype == DType::kFloat32) return max_pool<float>(g, in[0], out), Status::Ok();
  if (in[0].dtype == DType::kFloat64) return max_pool<double>(g, in[0], out), Status::Ok();
  return unsupported_dtype(in[0], "X");
}

Status AveragePool(const AttrMap& attrs, const Ins& in, const Ins& out) {
  PoolGeom g;
  TSR_RETURN_IF_ERROR(pool_setup(attrs, in, out, 1, &g));
  const bool cp = attr_int(attrs, "count_include_pad", 0) != 0;
  if (in[0].dtype == DType::kFloat32) return avg_pool<float>(g, cp, in[0], out[0]), Status::Ok();
  if (in[0].dtype == DType::kFloat64) return avg_pool<double>(g, cp, in[0], out[0]), Status::Ok();
  return unsupported_dtype(in[0], "X");
}

Status GlobalAveragePool(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  const Shape& xs = in[0].shape;
  if (xs.size() < 3) return InvalidArgument("X must have rank >= 3, got " + shape_str(xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  Shape want(xs.size(), 1);
  want[0] = xs[0];
  want[1] = xs[1];
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const int64_t planes = xs[0] * xs[1], sp = num_elements(Shape(xs.begin() + 2, xs.end()));
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const T* x = in[0].as<const T>();
    T* y = out[0].as<T>();
    for (int64_t p = 0; p < planes; ++p) {
      double s = 0;
      for (int64_t i = 0; i < sp; ++i) s += x[p * sp + i];
      y[p] = static_cast<T>(s / static_cast<double>(sp));
    }
    return Status::Ok();
  };
  if (in[0].dtype == DType::kFloat32) return run(float{});
  if (in[0].dtype == DType::kFloat64) return run(double{});
  return unsupported_dtype(in[0], "X");
}

}  // namespace tessera::kernels::cpu
