// 2-D convolution and pooling for NCHW f32/f16/bf16, plus inference BatchNormalization.
// Direct kernels, one thread per output element: correct on any sm_80+, far from cuDNN's speed
// (no tiling, no tensor cores). They exist so CNN plans run end to end on the GPU; cuDNN's
// graph API is the planned replacement (docs/cuda-backend.md).
#include <cfloat>

#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

struct Conv2d {
  int64_t N, C, H, W, M, OH, OW, KH, KW, Cg, Mg;
  int64_t sh, sw, ph, pw, dh, dw;
};

template <class T>
__global__ void conv2d_kernel(const T* __restrict__ x, const T* __restrict__ w,
                              const T* __restrict__ b, T* __restrict__ y, Conv2d p, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % p.OW, oh = (e / p.OW) % p.OH, m = (e / (p.OW * p.OH)) % p.M,
                  nn = e / (p.OW * p.OH * p.M);
    const int64_t g = m / p.Mg;
    float acc = b ? to_f(b[m]) : 0.f;
    for (int64_t c = 0; c < p.Cg; ++c) {
      const T* xp = x + ((nn * p.C) + g * p.Cg + c) * p.H * p.W;
      const T* wp = w + (m * p.Cg + c) * p.KH * p.KW;
      for (int64_t kh = 0; kh < p.KH; ++kh) {
        const int64_t ih = oh * p.sh - p.ph + kh * p.dh;
        if (ih < 0 || ih >= p.H) continue;
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t iw = ow * p.sw - p.pw + kw * p.dw;
          if (iw < 0 || iw >= p.W) continue;
          acc += to_f(xp[ih * p.W + iw]) * to_f(wp[kh * p.KW + kw]);
        }
      }
    }
    y[e] = from_f<T>(acc);
  }
}

template <class T>
__global__ void maxpool2d_kernel(const T* __restrict__ x, T* __restrict__ y, Conv2d p, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ow = e % p.OW, oh = (e / p.OW) % p.OH, plane = e / (p.OW * p.OH);
    const T* xp = x + plane * p.H * p.W;
    float m = -FLT_MAX;
    for (int64_t kh = 0; kh < p.KH; ++kh) {
      const int64_t ih = oh * p.sh - p.ph + kh * p.dh;
      if (ih < 0 || ih >= p.H) continue;
      for (int64_t kw = 0; kw < p.KW; ++kw) {
        const int64_t iw = ow * p.sw - p.pw + kw * p.dw;
        if (iw >= 0 && iw < p.W) m = fmaxf(m, to_f(xp[ih * p.W + iw]));
      }
    }
    y[e] = from_f<T>(m);
  }
}

template <class T>
__global__ void plane_mean_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t sp,
                                  int64_t planes) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < planes;
       e += int64_t(gridDim.x) * blockDim.x) {
    float s = 0.f;
    for (int64_t i = 0; i < sp; ++i) s += to_f(x[e * sp + i]);
    y[e] = from_f<T>(s / static_cast<float>(sp));
  }
}

template <class T>
__global__ void batchnorm_kernel(const T* __restrict__ x, const T* __restrict__ sc,
                                 const T* __restrict__ bi, const T* __restrict__ mu,
                                 const T* __restrict__ var, T* __restrict__ y, int64_t C,
                                 int64_t sp, float eps, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = (e / sp) % C;
    const float k = to_f(sc[c]) * rsqrtf(to_f(var[c]) + eps);
    y[e] = from_f<T>((to_f(x[e]) - to_f(mu[c])) * k + to_f(bi[c]));
  }
}

// Window attributes for 2-D ops; output spatial dims come from the (compiler-checked) output.
Status window2d(const AttrMap& attrs, const Shape* wk, const TensorRef& x, const TensorRef& y,
                Conv2d* p) {
  if (x.shape.size() != 4 || y.shape.size() != 4)
    return Unimplemented("only 2-D (NCHW) windows on CUDA, got X " + shape_str(x.shape));
  cpu::Window win;
  TSR_RETURN_IF_ERROR(cpu::parse_window(attrs, 2, wk, &win));
  p->N = x.shape[0], p->C = x.shape[1], p->H = x.shape[2], p->W = x.shape[3];
  p->M = y.shape[1], p->OH = y.shape[2], p->OW = y.shape[3];
  p->KH = win.k[0], p->KW = win.k[1];
  p->sh = win.strides[0], p->sw = win.strides[1];
  p->ph = win.pads[0], p->pw = win.pads[1];
  p->dh = win.dilations[0], p->dw = win.dilations[1];
  if (y.shape[0] != p->N) return InvalidArgument("batch of Y differs from X");
  return check_same_dtype(x, y, "output");
}

}  // namespace

Status Conv(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape& ws = in[1].shape;
  if (ws.size() != 4) return Unimplemented("only 2-D convolution on CUDA");
  const Shape wk(ws.begin() + 2, ws.end());
  Conv2d p;
  TSR_RETURN_IF_ERROR(window2d(attrs, &wk, in[0], out[0], &p));
  const int64_t groups = attr_int(attrs, "group", 1);
  if (groups < 1 || p.C % groups || ws[0] % groups || ws[1] * groups != p.C || ws[0] != p.M)
    return InvalidArgument("weight " + shape_str(ws) + " does not fit X " + shape_str(in[0].shape) +
                           " with group " + std::to_string(groups));
  p.Cg = p.C / groups;
  p.Mg = p.M / groups;
  const bool has_b = in.size() > 2 && in[2].present();
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    conv2d_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), has_b ? in[2].as<const T>() : nullptr,
        out[0].as<T>(), p, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status MaxPool(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (out.size() != 1) return Unimplemented("MaxPool Indices output on CUDA");
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  Conv2d p;
  TSR_RETURN_IF_ERROR(window2d(attrs, nullptr, in[0], out[0], &p));
  if (p.M != p.C) return InvalidArgument("channels of Y differ from X");
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    maxpool2d_kernel<T>
        <<<grid_for(n), kThreads, 0, ctx.stream>>>(in[0].as<const T>(), out[0].as<T>(), p, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status GlobalAveragePool(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 1, 1, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const Shape& xs = in[0].shape;
  if (xs.size() < 3) return InvalidArgument("X must have rank >= 3");
  Shape want(xs.size(), 1);
  want[0] = xs[0], want[1] = xs[1];
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  const int64_t planes = xs[0] * xs[1], sp = planes ? in[0].numel() / planes : 0;
  if (planes == 0 || sp == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    plane_mean_kernel<T><<<grid_for(planes), kThreads, 0, ctx.stream>>>(in[0].as<const T>(),
                                                                        out[0].as<T>(), sp, planes);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status BatchNormalization(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (out.size() != 1) return Unimplemented("only the inference form (one output) is supported");
  TSR_RETURN_IF_ERROR(check_arity(in, out, 5, 5, 1));
  const Shape& xs = in[0].shape;
  if (xs.size() < 2) return InvalidArgument("X must have rank >= 2");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], xs));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  const int64_t C = xs[1];
  for (int i = 1; i < 5; ++i) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], "parameter"));
    if (in[i].shape != Shape{C}) return InvalidArgument("parameters must have shape [C]");
  }
  const int64_t n = in[0].numel(), sp = C ? n / std::max<int64_t>(xs[0] * C, 1) : 0;
  if (n == 0) return Status::Ok();
  const float eps = static_cast<float>(attr_float(attrs, "epsilon", 1e-5));
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    batchnorm_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), in[2].as<const T>(), in[3].as<const T>(),
        in[4].as<const T>(), out[0].as<T>(), C, sp, eps, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace tessera::kernels::cuda
