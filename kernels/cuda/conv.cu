// 2-D convolution and pooling for NCHW f32/f16/bf16, plus inference BatchNormalization.
// Conv, ConvTranspose (Conv's input gradient) and ConvGradWeight go through cuDNN
// (cudnn_conv.h) when it takes the problem; the direct kernels here, one thread (ConvGradWeight:
// one block) per output element, are the fallback for what cuDNN refuses and for
// TESSERA_CUDNN=0: correct on any sm_80+, far from cuDNN's speed (no tiling, no tensor cores).
// MaxPoolGrad gathers per input element (no atomics), so it is deterministic.
#include <algorithm>
#include <cfloat>

#include "cuda/cuda_types.cuh"
#include "cuda/cudnn_conv.h"

namespace tessera::kernels::cuda {
namespace {

// In the forward convolution's terms: x [N,C,H,W], w [M,Cg,KH,KW], y [N,M,OH,OW], groups of
// Cg input and Mg output channels. ph/pw are the begin pads; the end pads (eh/ew) only matter
// to cuDNN, which checks them against the output size.
struct Conv2d {
  int64_t N, C, H, W, M, OH, OW, KH, KW, Cg, Mg;
  int64_t sh, sw, ph, pw, dh, dw, eh, ew;
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

// Conv's input gradient (ConvTranspose as the planner emits it): x[n,c,ih,iw] gathers
// y[n,m,oh,ow]·w[m,c%Cg,kh,kw] over the group's m and every (kh,kw) whose window lands on
// (ih,iw), plus an optional bias of x's channel. One thread per x element, no atomics.
template <class T>
__global__ void conv2d_data_grad_kernel(const T* __restrict__ y, const T* __restrict__ w,
                                        const T* __restrict__ b, T* __restrict__ x, Conv2d p,
                                        int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % p.W, ih = (e / p.W) % p.H, c = (e / (p.W * p.H)) % p.C,
                  nn = e / (p.W * p.H * p.C);
    const int64_t g = c / p.Cg, cl = c % p.Cg;
    float acc = b ? to_f(b[c]) : 0.f;
    for (int64_t m = g * p.Mg; m < (g + 1) * p.Mg; ++m) {
      const T* yp = y + (nn * p.M + m) * p.OH * p.OW;
      const T* wp = w + (m * p.Cg + cl) * p.KH * p.KW;
      for (int64_t kh = 0; kh < p.KH; ++kh) {
        const int64_t th = ih + p.ph - kh * p.dh;
        if (th < 0 || th % p.sh || th / p.sh >= p.OH) continue;
        for (int64_t kw = 0; kw < p.KW; ++kw) {
          const int64_t tw = iw + p.pw - kw * p.dw;
          if (tw < 0 || tw % p.sw || tw / p.sw >= p.OW) continue;
          acc += to_f(yp[(th / p.sh) * p.OW + tw / p.sw]) * to_f(wp[kh * p.KW + kw]);
        }
      }
    }
    x[e] = from_f<T>(acc);
  }
}

// ConvGradWeight: one block per dw element, its threads striding over (n, oh, ow), then one
// block reduction (fixed order: deterministic). Slow for big images (the fallback only).
template <class T>
__global__ void conv2d_weight_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                          T* __restrict__ dw, Conv2d p, int64_t n) {
  const int64_t per = p.N * p.OH * p.OW;
  for (int64_t e = blockIdx.x; e < n; e += gridDim.x) {
    const int64_t kw = e % p.KW, kh = (e / p.KW) % p.KH, cl = (e / (p.KW * p.KH)) % p.Cg,
                  m = e / (p.KW * p.KH * p.Cg);
    const int64_t c = (m / p.Mg) * p.Cg + cl;
    float acc = 0.f;
    for (int64_t j = threadIdx.x; j < per; j += blockDim.x) {
      const int64_t ow = j % p.OW, oh = (j / p.OW) % p.OH, nn = j / (p.OW * p.OH);
      const int64_t ih = oh * p.sh - p.ph + kh * p.dh, iw = ow * p.sw - p.pw + kw * p.dw;
      if (ih < 0 || ih >= p.H || iw < 0 || iw >= p.W) continue;
      acc += to_f(dy[((nn * p.M + m) * p.OH + oh) * p.OW + ow]) *
             to_f(x[((nn * p.C + c) * p.H + ih) * p.W + iw]);
    }
    acc = block_reduce<false>(acc);
    if (threadIdx.x == 0) dw[e] = from_f<T>(acc);
  }
}

template <class T>
__global__ void channel_bias_kernel(T* __restrict__ y, const T* __restrict__ b, int64_t C,
                                    int64_t sp, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x)
    y[e] = from_f<T>(to_f(y[e]) + to_f(b[(e / sp) % C]));
}

// Flat index (in the plane) of window (oh, ow)'s first maximum in kernel order, -1 when the
// window lies wholly in the padding: the CPU reference's rule (strict >, so ties keep the first).
template <class T>
__device__ int64_t window_argmax(const T* __restrict__ xp, const Conv2d& p, int64_t oh,
                                 int64_t ow) {
  int64_t best = -1;
  float bv = 0.f;
  for (int64_t kh = 0; kh < p.KH; ++kh) {
    const int64_t ih = oh * p.sh - p.ph + kh * p.dh;
    if (ih < 0 || ih >= p.H) continue;
    for (int64_t kw = 0; kw < p.KW; ++kw) {
      const int64_t iw = ow * p.sw - p.pw + kw * p.dw;
      if (iw < 0 || iw >= p.W) continue;
      const float v = to_f(xp[ih * p.W + iw]);
      if (best < 0 || v > bv) best = ih * p.W + iw, bv = v;
    }
  }
  return best;
}

// MaxPoolGrad per input element: the dy of every window containing it whose first maximum it
// is, summed in output order (kh, kw descending = oh, ow ascending), as the CPU scatters.
// Costs a window re-scan per (element, window): ~KH·KW·(KH/sh)·(KW/sw) loads, from cache.
template <class T>
__global__ void maxpool2d_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                      T* __restrict__ dx, Conv2d p, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t iw = e % p.W, ih = (e / p.W) % p.H, plane = e / (p.W * p.H);
    const T* xp = x + plane * p.H * p.W;
    const T* dyp = dy + plane * p.OH * p.OW;
    float acc = 0.f;
    for (int64_t kh = p.KH - 1; kh >= 0; --kh) {
      const int64_t th = ih + p.ph - kh * p.dh;
      if (th < 0 || th % p.sh || th / p.sh >= p.OH) continue;
      for (int64_t kw = p.KW - 1; kw >= 0; --kw) {
        const int64_t tw = iw + p.pw - kw * p.dw;
        if (tw < 0 || tw % p.sw || tw / p.sw >= p.OW) continue;
        const int64_t oh = th / p.sh, ow = tw / p.sw;
        if (window_argmax(xp, p, oh, ow) == ih * p.W + iw) acc += to_f(dyp[oh * p.OW + ow]);
      }
    }
    dx[e] = from_f<T>(acc);
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
  p->eh = win.pads[2], p->ew = win.pads[3];
  p->dh = win.dilations[0], p->dw = win.dilations[1];
  if (y.shape[0] != p->N) return InvalidArgument("batch of Y differs from X");
  return check_same_dtype(x, y, "output");
}

// The cuDNN problem of p (forward terms) with the given end pads.
ConvProblem problem(ConvKind kind, DType dt, const Conv2d& p, int64_t eh, int64_t ew) {
  ConvProblem q;
  q.kind = kind;
  q.dt = dt;
  const int64_t x[4] = {p.N, p.C, p.H, p.W}, w[4] = {p.M, p.Cg, p.KH, p.KW},
                y[4] = {p.N, p.M, p.OH, p.OW};
  std::copy(x, x + 4, q.x), std::copy(w, w + 4, q.w), std::copy(y, y + 4, q.y);
  q.pre[0] = p.ph, q.pre[1] = p.pw, q.post[0] = eh, q.post[1] = ew;
  q.stride[0] = p.sh, q.stride[1] = p.sw, q.dil[0] = p.dh, q.dil[1] = p.dw;
  return q;
}

// Whether cuDNN can be asked: no empty dims (cuDNN calls them bad parameters) and y's size
// is what x, the pads and the window give (cuDNN checks that too; ConvTranspose's
// output_padding can break it).
bool dim_fits(const ConvProblem& q, int d) {
  return q.post[d] >= 0 && conv_out_dim(q.x[d + 2], q.w[d + 2], q.pre[d], q.post[d], q.stride[d],
                                        q.dil[d]) == q.y[d + 2];
}
bool cudnn_fits(const ConvProblem& q) {
  for (int i = 0; i < 4; ++i)
    if (q.x[i] <= 0 || q.w[i] <= 0 || q.y[i] <= 0) return false;
  return dim_fits(q, 0) && dim_fits(q, 1);
}

// y += b[channel] (cuDNN's path; the direct kernels add the bias themselves).
Status add_channel_bias(CudaContext& ctx, const TensorRef& y, const TensorRef& b) {
  const int64_t n = y.numel(), C = y.shape[1], sp = y.shape[2] * y.shape[3];
  return dispatch_float(y.dtype, [&](auto tag) {
    using T = decltype(tag);
    channel_bias_kernel<T>
        <<<grid_for(n), kThreads, 0, ctx.stream>>>(y.as<T>(), b.as<const T>(), C, sp, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

// Group count of a weight [M or C, per-group channels, KH, KW]; checked against both sides.
Status conv_groups(const AttrMap& attrs, const Shape& ws, Conv2d* p) {
  const int64_t g = attr_int(attrs, "group", 1);
  if (g < 1 || p->C % g || p->M % g || ws[1] * g != p->C || ws[0] != p->M)
    return InvalidArgument("weight " + shape_str(ws) + " does not fit " + std::to_string(p->C) +
                           " input and " + std::to_string(p->M) + " output channels with group " +
                           std::to_string(g));
  p->Cg = p->C / g;
  p->Mg = p->M / g;
  return Status::Ok();
}

Status check_bias(const Ins& in, int64_t channels, const TensorRef& y, bool* has_b) {
  *has_b = in.size() > 2 && in[2].present();
  if (!*has_b) return Status::Ok();
  TSR_RETURN_IF_ERROR(check_same_dtype(y, in[2], "B"));
  if (in[2].shape != Shape{channels})
    return InvalidArgument("B must have shape [" + std::to_string(channels) + "]");
  return Status::Ok();
}

}  // namespace

Status Conv(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape& ws = in[1].shape;
  if (ws.size() != 4) return Unimplemented("only 2-D convolution on CUDA");
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "W"));
  const Shape wk(ws.begin() + 2, ws.end());
  Conv2d p;
  TSR_RETURN_IF_ERROR(window2d(attrs, &wk, in[0], out[0], &p));
  TSR_RETURN_IF_ERROR(conv_groups(attrs, ws, &p));
  bool has_b = false;
  TSR_RETURN_IF_ERROR(check_bias(in, p.M, out[0], &has_b));
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  const ConvProblem q = problem(ConvKind::kForward, in[0].dtype, p, p.eh, p.ew);
  bool ran = false;
  if (cudnn_fits(q))
    TSR_RETURN_IF_ERROR(cudnn_conv(ctx, q, in[0].data, in[1].data, out[0].data, &ran));
  if (ran) return has_b ? add_channel_bias(ctx, out[0], in[2]) : Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    conv2d_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), has_b ? in[2].as<const T>() : nullptr,
        out[0].as<T>(), p, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

// ConvTranspose(x, w) = the input gradient of a Conv whose input has ConvTranspose's output
// shape: cuDNN's backward data. The end pad that conv would need is the attribute's, or less by
// output_padding (the rows the forward's floor dropped); when neither reproduces x's size (an
// output_padding of at least the stride), the direct kernel runs.
Status ConvTranspose(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  const Shape& ws = in[1].shape;
  if (ws.size() != 4 || in[0].shape.size() != 4)
    return Unimplemented("only 2-D ConvTranspose on CUDA");
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "W"));
  const Shape wk(ws.begin() + 2, ws.end());
  Conv2d p;  // forward terms: x = this op's output, y = its input
  TSR_RETURN_IF_ERROR(window2d(attrs, &wk, out[0], in[0], &p));
  TSR_RETURN_IF_ERROR(conv_groups(attrs, ws, &p));  // w [M, C/g, ...] in forward terms too
  const auto opad = attr_ints(attrs, "output_padding", std::vector<int64_t>(2, 0));
  if (opad.size() != 2) return InvalidArgument("output_padding must have 2 values");
  Shape want = {p.N, p.C};
  const int64_t ins[2] = {p.OH, p.OW}, k[2] = {p.KH, p.KW}, st[2] = {p.sh, p.sw},
                dl[2] = {p.dh, p.dw}, pb[2] = {p.ph, p.pw}, pe[2] = {p.eh, p.ew};
  for (int d = 0; d < 2; ++d)
    want.push_back(st[d] * (ins[d] - 1) + opad[d] + (k[d] - 1) * dl[d] + 1 - pb[d] - pe[d]);
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], want));
  bool has_b = false;
  TSR_RETURN_IF_ERROR(check_bias(in, p.C, out[0], &has_b));
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  ConvProblem q = problem(ConvKind::kBackwardData, in[0].dtype, p, p.eh, p.ew);
  for (int d = 0; d < 2; ++d)
    if (!dim_fits(q, d)) q.post[d] = std::max<int64_t>(0, pe[d] - opad[d]);
  bool ran = false;
  if (cudnn_fits(q))
    TSR_RETURN_IF_ERROR(cudnn_conv(ctx, q, out[0].data, in[1].data, in[0].data, &ran));
  if (ran) return has_b ? add_channel_bias(ctx, out[0], in[2]) : Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    conv2d_data_grad_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), has_b ? in[2].as<const T>() : nullptr,
        out[0].as<T>(), p, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

// ConvGradWeight(dy, x) → dw [M, C/g, KH, KW]: cuDNN's backward filter, else one block per
// weight element.
Status ConvGradWeight(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  const Shape ws = attr_ints(attrs, "w_shape");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], ws, "dw"));
  if (ws.size() != 4) return Unimplemented("only 2-D ConvGradWeight on CUDA");
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], out[0], "dw"));
  const Shape wk(ws.begin() + 2, ws.end());
  Conv2d p;
  TSR_RETURN_IF_ERROR(window2d(attrs, &wk, in[1], in[0], &p));
  TSR_RETURN_IF_ERROR(conv_groups(attrs, ws, &p));
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  const ConvProblem q = problem(ConvKind::kBackwardFilter, in[0].dtype, p, p.eh, p.ew);
  bool ran = false;
  if (cudnn_fits(q))
    TSR_RETURN_IF_ERROR(cudnn_conv(ctx, q, in[1].data, out[0].data, in[0].data, &ran));
  if (ran) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(n, 65535 * 8));
    conv2d_weight_grad_kernel<T><<<blocks, kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), p, n);
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

Status MaxPoolGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[1], out[0], "dx"));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape, "dx"));
  Conv2d p;
  TSR_RETURN_IF_ERROR(window2d(attrs, nullptr, in[1], in[0], &p));
  if (p.M != p.C) return InvalidArgument("channels of dy differ from x");
  const int64_t n = out[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    maxpool2d_grad_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), p, n);
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
