// Training kernels on CUDA (the ops autodiff and the optimizer emit; CPU references in
// kernels/cpu/train_*.cpp): softmax cross-entropy and its gradient, LayerNormalization's
// gradient, GatherGrad (embedding backward), ReluGrad, training-mode Dropout, AdamW and SGD.
// f32/f16/bf16 storage, f32 arithmetic; the loss, its gradient and LayerNormalizationGrad also
// take the mixed-dtype forms (16-bit activations beside f32 weights, softmax and statistics;
// docs/ops.md). Per-row statistics go through CudaContext::i32_scratch
// (sized by the session). Two costs to know: GatherGrad scatters with float atomics, so repeated
// indices sum in a run-dependent order (last-bit differences between runs; PyTorch's default is the
// same), and invalid labels or indices cannot raise an error from the device: labels outside [0, C)
// make the loss NaN, indices outside the axis are skipped.
#include "cpu/philox.h"
#include "cpu/train_kernels.h"
#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

constexpr int kRow = 256;

__device__ __forceinline__ int64_t label_at(const void* l, bool i64, int64_t r) {
  return i64 ? static_cast<const int64_t*>(l)[r] : static_cast<const int32_t*>(l)[r];
}

// One block per row: softmax into p, the row's loss (logsumexp - x[label]) into row_loss.
// TX: the logits' storage (16-bit under the mixed-dtype form), TP the softmax's.
template <class TX, class TP>
__global__ void sce_rows_kernel(const TX* __restrict__ x, const void* labels, bool i64, int64_t c,
                                TP* __restrict__ p, float* __restrict__ row_loss) {
  const int64_t r = blockIdx.x;
  const TX* xr = x + r * c;
  float m = -FLT_MAX;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) m = fmaxf(m, to_f(xr[j]));
  m = block_reduce<true>(m);
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += __expf(to_f(xr[j]) - m);
  s = block_reduce<false>(s);
  const float inv = 1.f / s;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x)
    p[r * c + j] = from_f<TP>(__expf(to_f(xr[j]) - m) * inv);
  if (threadIdx.x == 0) {
    const int64_t l = label_at(labels, i64, r);
    row_loss[r] = (l < 0 || l >= c) ? __int_as_float(0x7fc00000) : m + logf(s) - to_f(xr[l]);
  }
}

// One block: the mean over `rows` (the global row count) of the n row losses, fixed order.
template <class T>
__global__ void sum_rows_kernel(const float* __restrict__ row_loss, int64_t n, float rows,
                                T* __restrict__ loss) {
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += row_loss[i];
  s = block_reduce<false>(s);
  if (threadIdx.x == 0) loss[0] = from_f<T>(rows > 0 ? s / rows : 0.f);
}

// TD: dlogits' storage (16-bit under the mixed-dtype form), rounded to nearest even.
template <class T, class TD>
__global__ void sce_grad_kernel(const T* __restrict__ dl, const T* __restrict__ p,
                                const void* labels, bool i64, int64_t c, float rows,
                                TD* __restrict__ dx, int64_t n) {
  const float scale = rows > 0 ? to_f(dl[0]) / rows : 0.f;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / c, j = i % c;
    const float one = j == label_at(labels, i64, r) ? 1.f : 0.f;
    dx[i] = from_f<TD>(scale * (to_f(p[i]) - one));
  }
}

// One block per row: dx, and the row's mean and rstd into stats for the column sums. dy, x, dx
// each f32 or 16-bit (mixed-dtype form), scale TW; arithmetic in f32 whatever the storage.
template <class TD, class TX, class TW, class TDX>
__global__ void ln_grad_rows_kernel(const TD* __restrict__ dy, const TX* __restrict__ x,
                                    const TW* __restrict__ sc, int64_t d, float eps,
                                    TDX* __restrict__ dx, float2* __restrict__ stats) {
  const int64_t r = blockIdx.x;
  const TX* xr = x + r * d;
  const TD* dyr = dy + r * d;
  float s = 0.f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) s += to_f(xr[j]);
  const float mean = block_reduce<false>(s) / static_cast<float>(d);
  float v = 0.f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float t = to_f(xr[j]) - mean;
    v += t * t;
  }
  const float rstd = rsqrtf(block_reduce<false>(v) / static_cast<float>(d) + eps);
  float mg = 0.f, mgx = 0.f;
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float g = to_f(dyr[j]) * to_f(sc[j]);
    mg += g;
    mgx += g * (to_f(xr[j]) - mean) * rstd;
  }
  mg = block_reduce<false>(mg) / static_cast<float>(d);
  mgx = block_reduce<false>(mgx) / static_cast<float>(d);
  for (int64_t j = threadIdx.x; j < d; j += blockDim.x) {
    const float xh = (to_f(xr[j]) - mean) * rstd;
    dx[r * d + j] = from_f<TDX>(rstd * (to_f(dyr[j]) * to_f(sc[j]) - mg - xh * mgx));
  }
  if (threadIdx.x == 0) stats[r] = make_float2(mean, rstd);
}

// dscale[j] = sum_r dy·x̂ and dbias[j] = sum_r dy in two deterministic passes: a 32x8 block
// sums its 32 columns over one chunk of kLnChunk rows (each of the 8 row-lanes strides the
// chunk, then a fixed shared-memory tree), writing per-chunk partials; then one thread per
// column adds the chunks in order. One thread per column over all rows (the first version)
// took 2.6 ms per call on gpt2-124m (8192 x 768), a third of the training step.
constexpr int kLnChunk = 256;

template <class TD, class TX>
__global__ void ln_grad_partial_kernel(const TD* __restrict__ dy, const TX* __restrict__ x,
                                       const float2* __restrict__ stats, int64_t rows, int64_t d,
                                       float2* __restrict__ partial) {
  __shared__ float2 acc[8][33];
  const int64_t j = blockIdx.x * 32 + threadIdx.x;
  const int64_t r0 = blockIdx.y * int64_t(kLnChunk);
  const int64_t r1 = r0 + kLnChunk < rows ? r0 + kLnChunk : rows;
  float ds = 0.f, db = 0.f;
  if (j < d)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const float g = to_f(dy[r * d + j]);
      ds += g * (to_f(x[r * d + j]) - stats[r].x) * stats[r].y;
      db += g;
    }
  acc[threadIdx.y][threadIdx.x] = make_float2(ds, db);
  __syncthreads();
  if (threadIdx.y == 0 && j < d) {
    float2 t = acc[0][threadIdx.x];
    for (int k = 1; k < 8; ++k) t.x += acc[k][threadIdx.x].x, t.y += acc[k][threadIdx.x].y;
    partial[blockIdx.y * d + j] = t;
  }
}

template <class T>
__global__ void ln_grad_cols_kernel(const float2* __restrict__ partial, int64_t chunks, int64_t d,
                                    T* __restrict__ dscale, T* __restrict__ dbias) {
  const int64_t j = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (j >= d) return;
  float ds = 0.f, db = 0.f;
  for (int64_t c = 0; c < chunks; ++c) ds += partial[c * d + j].x, db += partial[c * d + j].y;
  dscale[j] = from_f<T>(ds);
  if (dbias) dbias[j] = from_f<T>(db);
}

// ddata[o, idx[k], i] += dy[o, k, i]; ddata zeroed first.
template <class T>
__global__ void gather_grad_kernel(const T* __restrict__ dy, const void* idx, bool i64, int64_t kn,
                                   int64_t inner, int64_t dim, T* __restrict__ dd, int64_t n) {
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < n;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e % inner, k = (e / inner) % kn, o = e / (inner * kn);
    int64_t t = label_at(idx, i64, k);
    if (t < 0) t += dim;
    if (t < 0 || t >= dim) continue;
    atomicAdd(dd + (o * dim + t) * inner + i, dy[e]);
  }
}

template <class T>
__global__ void relu_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                 T* __restrict__ dx, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = to_f(x[i]) > 0.f ? dy[i] : from_f<T>(0.f);
}

// dy * Gelu'(x), erf form Φ(x) + x·φ(x) or the tanh form's derivative, in f32. Eight 16-bit
// (four f32) elements per thread where aligned: the op is pure bandwidth (two reads, one write).
template <bool kTanh>
__device__ __forceinline__ float gelu_slope(float x) {
  if constexpr (kTanh) {
    const float c = 0.7978845608028654f, u = c * (x + 0.044715f * x * x * x);
    const float t = tanhf(u);
    return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * c * (1.f + 3.f * 0.044715f * x * x);
  }
  return 0.5f * (1.f + erff(x * 0.70710678118654752f)) +
         x * 0.3989422804014327f * expf(-0.5f * x * x);
}

template <class T, bool kTanh>
__global__ void gelu_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                 T* __restrict__ dx, int64_t n, bool vec) {
  constexpr int kV = 16 / sizeof(T);
  struct alignas(16) V {
    T v[kV];
  };
  const int64_t nvec = vec ? n / kV : 0;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nvec;
       i += int64_t(gridDim.x) * blockDim.x) {
    const V a = reinterpret_cast<const V*>(dy)[i], b = reinterpret_cast<const V*>(x)[i];
    V r;
#pragma unroll
    for (int j = 0; j < kV; ++j) r.v[j] = from_f<T>(to_f(a.v[j]) * gelu_slope<kTanh>(to_f(b.v[j])));
    reinterpret_cast<V*>(dx)[i] = r;
  }
  for (int64_t i = nvec * kV + blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = from_f<T>(to_f(dy[i]) * gelu_slope<kTanh>(to_f(x[i])));
}

struct AdamHyper {
  float lr, b1, b2, eps, wd;
};

// The CPU's update in f32 (it uses double): decoupled decay, bias-corrected moments.
template <class T>
__global__ void adamw_kernel(const T* w, const T* g, const T* m, const T* v,
                             const int64_t* __restrict__ step, AdamHyper h, T* wo, T* mo, T* vo,
                             int64_t n) {
  const float t = static_cast<float>(step[0]);
  const float c1 = 1.f - powf(h.b1, t), c2 = 1.f - powf(h.b2, t);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float gi = to_f(g[i]);
    const float mi = h.b1 * to_f(m[i]) + (1.f - h.b1) * gi;
    const float vi = h.b2 * to_f(v[i]) + (1.f - h.b2) * gi * gi;
    const float wi = to_f(w[i]) * (1.f - h.lr * h.wd);
    wo[i] = from_f<T>(wi - h.lr * (mi / c1) / (sqrtf(vi / c2) + h.eps));
    mo[i] = from_f<T>(mi);
    vo[i] = from_f<T>(vi);
  }
}

template <class T>
__global__ void sgd_kernel(const T* w, const T* g, const T* buf, float lr, float mom, float wd,
                           T* wo, T* bo, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    float d = to_f(g[i]) + wd * to_f(w[i]);
    if (buf) {
      d = mom * to_f(buf[i]) + d;
      bo[i] = from_f<T>(d);
    }
    wo[i] = from_f<T>(to_f(w[i]) - lr * d);
  }
}

// Philox4x32-10 on the device: the same function as kernels/cpu/philox.h (tests compare the
// masks bit for bit), spelled with plain words because std::array is host-only.
__device__ __forceinline__ uint32_t philox_word(uint64_t blk, uint64_t step, uint32_t k0,
                                                uint32_t k1, int word) {
  uint32_t c0 = static_cast<uint32_t>(blk), c1 = static_cast<uint32_t>(blk >> 32),
           c2 = static_cast<uint32_t>(step), c3 = static_cast<uint32_t>(step >> 32);
  for (int round = 0; round < 10; ++round) {
    if (round > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    const uint32_t hi0 = __umulhi(0xD2511F53u, c0), lo0 = 0xD2511F53u * c0;
    const uint32_t hi1 = __umulhi(0xCD9E8D57u, c2), lo1 = 0xCD9E8D57u * c2;
    c0 = hi1 ^ c1 ^ k0, c1 = lo1, c2 = hi0 ^ c3 ^ k1, c3 = lo0;
  }
  return word == 0 ? c0 : word == 1 ? c1 : word == 2 ? c2 : c3;
}

// Local shape and the position vectors (global index = sum_d pos_d[i_d]; none: identity).
struct DropPos {
  const int64_t* pos[kMaxDims] = {};
  int64_t size[kMaxDims] = {};
  int rank = 0;
};

template <class T>
__global__ void dropout_kernel(const T* __restrict__ x, const int64_t* __restrict__ step, DropPos p,
                               uint32_t k0, uint32_t k1, uint32_t threshold, float scale,
                               T* __restrict__ y, uint8_t* __restrict__ mask, int64_t n) {
  const uint64_t st = static_cast<uint64_t>(step[0]);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t g = i;
    if (p.rank > 0) {
      g = 0;
      int64_t rest = i;
      for (int d = p.rank - 1; d >= 0; --d) {
        g += p.pos[d][rest % p.size[d]];
        rest /= p.size[d];
      }
    }
    const bool keep = philox_word(static_cast<uint64_t>(g) >> 2, st, k0, k1,
                                  static_cast<int>(g & 3)) >= threshold;
    y[i] = keep ? from_f<T>(to_f(x[i]) * scale) : from_f<T>(0.f);
    if (mask) mask[i] = keep;
  }
}

Status labels_ok(const TensorRef& l) {
  if (l.dtype != DType::kInt64 && l.dtype != DType::kInt32)
    return InvalidArgument("labels/indices must be i32 or i64");
  return Status::Ok();
}

Status scratch_for(CudaContext& ctx, int64_t bytes, const char* what) {
  if (bytes <= ctx.i32_scratch_bytes) return Status::Ok();
  return Internal(std::string(what) + " needs " + std::to_string(bytes) +
                  " bytes of kernel scratch, the session has " +
                  std::to_string(ctx.i32_scratch_bytes));
}

}  // namespace

Status SoftmaxCrossEntropyLoss(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 2));
  if (in[0].shape.size() != 2)
    return InvalidArgument("logits must be [N,C], got " + shape_str(in[0].shape));
  TSR_RETURN_IF_ERROR(labels_ok(in[1]));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {}));
  TSR_RETURN_IF_ERROR(check_out_shape(out[1], in[0].shape));
  const int64_t n = in[0].shape[0], c = in[0].shape[1];
  TSR_RETURN_IF_ERROR(scratch_for(ctx, n * 4, "SoftmaxCrossEntropyLoss"));
  const float rows = static_cast<float>(attr_int(a, "rows", n));
  auto* row_loss = static_cast<float*>(ctx.i32_scratch);
  // Mixed-dtype form: 16-bit logits, f32 loss and softmax (docs/ops.md).
  TSR_RETURN_IF_ERROR(check_same_dtype(out[0], out[1], "softmax"));
  const DType dts[] = {in[0].dtype, out[0].dtype};
  return dispatch_mixed(dts, [&](auto tx, auto tp) {
    using TX = decltype(tx);
    using TP = decltype(tp);
    if (n > 0)
      sce_rows_kernel<TX, TP><<<static_cast<unsigned>(n), kRow, 0, ctx.stream>>>(
          in[0].as<const TX>(), in[1].data, in[1].dtype == DType::kInt64, c, out[1].as<TP>(),
          row_loss);
    sum_rows_kernel<TP><<<1, 1024, 0, ctx.stream>>>(row_loss, n, rows, out[0].as<TP>());
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status SoftmaxCrossEntropyGrad(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 3, 3, 1));
  if (in[1].shape.size() != 2)
    return InvalidArgument("softmax must be [N,C], got " + shape_str(in[1].shape));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "dloss"));
  TSR_RETURN_IF_ERROR(labels_ok(in[2]));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape));
  const int64_t n = in[1].numel(), c = in[1].shape[1];
  const float rows = static_cast<float>(attr_int(a, "rows", in[1].shape[0]));
  if (n == 0) return Status::Ok();
  // Mixed-dtype form: f32 softmax, 16-bit dlogits (docs/ops.md).
  const DType dts[] = {in[1].dtype, out[0].dtype};
  return dispatch_mixed(dts, [&](auto tp, auto td) {
    using T = decltype(tp);
    using TD = decltype(td);
    sce_grad_kernel<T, TD><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), in[2].data, in[2].dtype == DType::kInt64, c, rows,
        out[0].as<TD>(), n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status LayerNormalizationGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in,
                              const Ins& out) {
  int64_t rows = 0, d = 0;
  TSR_RETURN_IF_ERROR(cpu::layer_norm_grad_dims(attrs, in, out, &rows, &d));
  if (rows == 0) return Status::Ok();
  const int64_t chunks = (rows + kLnChunk - 1) / kLnChunk;
  TSR_RETURN_IF_ERROR(scratch_for(ctx, rows * 8 + chunks * d * 8, "LayerNormalizationGrad"));
  if (chunks > 65535) return Unimplemented("LayerNormalizationGrad over more than 16M rows");
  const float eps = static_cast<float>(attr_float(attrs, "epsilon", 1e-5));
  auto* stats = static_cast<float2*>(ctx.i32_scratch);
  const bool has_b = out.size() > 2 && out[2].present();
  // dy, x, dx f32 or 16-bit, scale/dscale/dbias TW (mixed-dtype form, docs/ops.md).
  const DType dts[] = {in[0].dtype, in[1].dtype, in[2].dtype, out[0].dtype};
  return dispatch_mixed(dts, [&](auto td, auto tx, auto tw, auto tdx) {
    using TD = decltype(td);
    using TX = decltype(tx);
    using TW = decltype(tw);
    using TDX = decltype(tdx);
    ln_grad_rows_kernel<TD, TX, TW, TDX><<<static_cast<unsigned>(rows), kRow, 0, ctx.stream>>>(
        in[0].as<const TD>(), in[1].as<const TX>(), in[2].as<const TW>(), d, eps, out[0].as<TDX>(),
        stats);
    float2* partial = stats + rows;
    ln_grad_partial_kernel<TD, TX>
        <<<dim3(static_cast<unsigned>((d + 31) / 32), static_cast<unsigned>(chunks)), dim3(32, 8),
           0, ctx.stream>>>(in[0].as<const TD>(), in[1].as<const TX>(), stats, rows, d, partial);
    ln_grad_cols_kernel<TW><<<static_cast<unsigned>((d + 127) / 128), 128, 0, ctx.stream>>>(
        partial, chunks, d, out[1].as<TW>(), has_b ? out[2].as<TW>() : nullptr);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status GatherGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(labels_ok(in[1]));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "ddata"));
  const Shape& d = out[0].shape;
  const int64_t axis = attr_int(attrs, "axis", 0);
  if (axis < 0 || axis >= int64_t(d.size())) return InvalidArgument("axis out of range");
  Shape want(d.begin(), d.begin() + axis);
  want.insert(want.end(), in[1].shape.begin(), in[1].shape.end());
  want.insert(want.end(), d.begin() + axis + 1, d.end());
  if (in[0].shape != want)
    return InvalidArgument("dy " + shape_str(in[0].shape) + " should be " + shape_str(want));
  TSR_CUDA_RETURN_IF_ERROR(
      cudaMemsetAsync(out[0].data, 0, static_cast<size_t>(out[0].bytes()), ctx.stream));
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  const int64_t inner = num_elements(Shape(d.begin() + axis + 1, d.end()));
  // 16-bit gradients accumulate in their own type (hardware atomics on sm_80+), as a 16-bit
  // embedding's gradient does in PyTorch without an f32 master copy.
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    gather_grad_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].data, in[1].dtype == DType::kInt64, in[1].numel(), inner,
        d[axis], out[0].as<T>(), n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status ReluGrad(CudaContext& ctx, const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  if (in[0].shape != in[1].shape) return InvalidArgument("dy and x shapes differ");
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape));
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    relu_grad_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), out[0].as<T>(), n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status GeluGrad(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "x"));
  if (in[0].shape != in[1].shape)
    return InvalidArgument("dy " + shape_str(in[0].shape) + " vs x " + shape_str(in[1].shape));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], in[1].shape));
  const std::string approx = attr_str(attrs, "approximate", "none");
  if (approx != "none" && approx != "tanh")
    return InvalidArgument("attribute 'approximate' must be none or tanh, got '" + approx + "'");
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  // The vector loop reads 16 bytes at a time: arena offsets are 256-byte aligned, views of them
  // need not be, so misaligned operands take the element loop alone.
  const bool aligned =
      ((reinterpret_cast<uintptr_t>(in[0].data) | reinterpret_cast<uintptr_t>(in[1].data) |
        reinterpret_cast<uintptr_t>(out[0].data)) &
       15u) == 0;
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    auto* k = approx == "tanh" ? gelu_grad_kernel<T, true> : gelu_grad_kernel<T, false>;
    const int64_t threads = aligned ? std::max<int64_t>(n / (16 / int64_t(sizeof(T))), 1) : n;
    k<<<grid_for(threads), kThreads, 0, ctx.stream>>>(in[0].as<const T>(), in[1].as<const T>(),
                                                      out[0].as<T>(), n, aligned);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status AdamW(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 5, 5, 3));
  for (int i = 1; i < 4; ++i) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[i], "optimizer operand"));
    if (in[i].shape != in[0].shape) return InvalidArgument("optimizer operand shapes differ");
  }
  if (in[4].dtype != DType::kInt64 || in[4].numel() != 1)
    return InvalidArgument("step must be an i64 scalar");
  const AdamHyper h{static_cast<float>(attr_float(a, "lr", 1e-3)),
                    static_cast<float>(attr_float(a, "beta1", 0.9)),
                    static_cast<float>(attr_float(a, "beta2", 0.999)),
                    static_cast<float>(attr_float(a, "eps", 1e-8)),
                    static_cast<float>(attr_float(a, "weight_decay", 0.01))};
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    adamw_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), in[2].as<const T>(), in[3].as<const T>(),
        in[4].as<const int64_t>(), h, out[0].as<T>(), out[1].as<T>(), out[2].as<T>(), n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

// Training-mode Dropout (kernels/cpu/train_dropout.cpp): (x, step, pos_0..pos_{r-1}) -> y
// [, mask]. The key and threshold are computed on the host exactly as the CPU kernel does.
Status Dropout(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  if (in.size() < 2 || out.empty() || out.size() > 2)
    return InvalidArgument("Dropout: expects (x, step, positions...) and 1 or 2 outputs");
  const TensorRef& x = in[0];
  if (in[1].dtype != DType::kInt64 || !in[1].shape.empty())
    return InvalidArgument("Dropout: step must be an i64 scalar");
  DropPos p;
  const size_t np = in.size() - 2;
  if (np > 0) {
    if (np != x.shape.size() || np > static_cast<size_t>(kMaxDims))
      return InvalidArgument("Dropout: " + std::to_string(np) + " position inputs for a rank-" +
                             std::to_string(x.shape.size()) + " input");
    for (size_t d = 0; d < np; ++d) {
      if (in[2 + d].dtype != DType::kInt64 || in[2 + d].shape != Shape{x.shape[d]})
        return InvalidArgument("Dropout: position input " + std::to_string(d) + " must be i64 [" +
                               std::to_string(x.shape[d]) + "]");
      p.pos[d] = in[2 + d].as<const int64_t>();
      p.size[d] = x.shape[d];
    }
    p.rank = static_cast<int>(np);
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], x.shape));
  TSR_RETURN_IF_ERROR(check_same_dtype(out[0], x, "Dropout output"));
  uint8_t* mask = nullptr;
  if (out.size() > 1 && out[1].present()) {
    TSR_RETURN_IF_ERROR(check_out_shape(out[1], x.shape));
    if (out[1].dtype != DType::kBool) return InvalidArgument("Dropout mask must be bool");
    mask = out[1].as<uint8_t>();
  }
  const double ratio = attr_float(attrs, "ratio", 0.5);
  if (!(ratio >= 0 && ratio < 1))
    return InvalidArgument("Dropout: ratio " + std::to_string(ratio) + " outside [0, 1)");
  const philox::Key key = philox::dropout_key(static_cast<uint64_t>(attr_int(attrs, "seed", 0)),
                                              static_cast<uint64_t>(attr_int(attrs, "stream", 0)));
  const uint32_t threshold = philox::dropout_threshold(ratio);
  // The CPU scales in double; f32 here (the result is stored as f32 or narrower anyway).
  const float scale = static_cast<float>(1.0 / (1.0 - ratio));
  const int64_t n = x.numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(x.dtype, [&](auto tag) {
    using T = decltype(tag);
    dropout_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        x.as<const T>(), in[1].as<const int64_t>(), p, key[0], key[1], threshold, scale,
        out[0].as<T>(), mask, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status SGD(CudaContext& ctx, const AttrMap& a, const Ins& in, const Ins& out) {
  const bool has_buf = in.size() > 2 && in[2].present();
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, has_buf ? 2 : 1));
  if (in[1].shape != in[0].shape) return InvalidArgument("gradient shape differs");
  const int64_t n = in[0].numel();
  if (n == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    sgd_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), has_buf ? in[2].as<const T>() : nullptr,
        static_cast<float>(attr_float(a, "lr", 1e-2)),
        static_cast<float>(attr_float(a, "momentum", 0.0)),
        static_cast<float>(attr_float(a, "weight_decay", 0.0)), out[0].as<T>(),
        has_buf ? out[1].as<T>() : nullptr, n);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace tessera::kernels::cuda
