// BatchNormalization with batch statistics (docs/ops.md, "Training ops"): x is [N, C, S]
// (S the product of the spatial dims) in f32, f16 or bf16; sums, parameters and running
// statistics are f32. Checks are the CPU kernels' (cpu::batch_norm_dims).
// - BatchNormStats / BatchNormGradStats: one block per (channel, slice of the batch), enough
//   slices for about four blocks per SM; each thread sums in double (no cancellation worth
//   the name in Σx² of a million 16-bit values), the block reduces in double and adds its f32
//   result atomically into the zeroed output, so the per-channel sums are one pass over x
//   (and dy) and need no scratch. The order of the atomic adds varies from run to run: the
//   sums agree to float rounding, not bit for bit.
// - BatchNormApply / BatchNormGradInput: elementwise grid-stride loops; each element derives
//   its channel's mean and 1/std from the sums (two loads and an rsqrt, cached in L1).
// - BatchNormRunningUpdate: one thread per channel.
#include "cpu/train_kernels.h"
#include "cuda/cuda_types.cuh"
#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {
namespace {

using cpu::BatchNormDims;

constexpr int kBnThreads = 256;

__device__ __forceinline__ double block_sum(double v, double* part) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : 0.0;
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Channel of element i of x viewed as [N, C, S]. With fewer than 2^31 elements (every launch
// of a real network) in 32-bit arithmetic: a 64-bit div/mod is a ~70-instruction software
// routine, which made the elementwise passes compute-bound at several times their traffic.
__device__ __forceinline__ int64_t channel_of(int64_t i, int64_t s, int64_t c, bool idx32) {
  if (idx32) return static_cast<uint32_t>(i) / static_cast<uint32_t>(s) % static_cast<uint32_t>(c);
  return (i / s) % c;
}

struct Norm {
  float mean, inv;
};
__device__ __forceinline__ Norm channel_norm(const float* sum, const float* sumsq, int64_t c,
                                             float inv_count, float eps) {
  const float mean = sum[c] * inv_count;
  const float var = fmaxf(sumsq[c] * inv_count - mean * mean, 0.f);
  return {mean, rsqrtf(var + eps)};
}

// kGrad = false: (Σx, Σx²) of x; true: (Σdy, Σdy·x̂) of (dy, x) with x̂ from (sum, sumsq).
template <class T, bool kGrad>
__global__ void stats_kernel(const T* __restrict__ dy, const T* __restrict__ x, int64_t n,
                             int64_t c, int64_t s, int64_t rows_per_block,
                             const float* __restrict__ sum, const float* __restrict__ sumsq,
                             float inv_count, float eps, float* __restrict__ out0,
                             float* __restrict__ out1) {
  __shared__ double part[32];
  const int64_t ch = blockIdx.x;
  const int64_t r0 = blockIdx.y * rows_per_block;
  const int64_t r1 = r0 + rows_per_block < n ? r0 + rows_per_block : n;
  if (r0 >= r1) return;
  Norm nm = {0.f, 1.f};
  if (kGrad) nm = channel_norm(sum, sumsq, ch, inv_count, eps);
  double a = 0, b = 0;
  const int64_t total = (r1 - r0) * s;
  const bool idx32 = total < (int64_t{1} << 31);  // uniform: 32-bit div (see channel_of)
  for (int64_t j = threadIdx.x; j < total; j += blockDim.x) {
    const int64_t q = idx32 ? static_cast<uint32_t>(j) / static_cast<uint32_t>(s) : j / s;
    const int64_t r = r0 + q, k = j - q * s;
    const int64_t off = (r * c + ch) * s + k;
    const float v = to_f(x[off]);
    if (kGrad) {
      const float g = to_f(dy[off]);
      a += g;
      b += static_cast<double>(g) * ((v - nm.mean) * nm.inv);
    } else {
      a += v;
      b += static_cast<double>(v) * v;
    }
  }
  a = block_sum(a, part);
  b = block_sum(b, part);
  if (threadIdx.x == 0) {
    atomicAdd(out0 + ch, static_cast<float>(a));
    atomicAdd(out1 + ch, static_cast<float>(b));
  }
}

template <class T>
__global__ void apply_kernel(const T* __restrict__ x, const float* __restrict__ sum,
                             const float* __restrict__ sumsq, const float* __restrict__ scale,
                             const float* __restrict__ bias, int64_t total, int64_t c, int64_t s,
                             float inv_count, float eps, T* __restrict__ y) {
  const bool idx32 = total < (int64_t{1} << 31);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = channel_of(i, s, c, idx32);
    const Norm nm = channel_norm(sum, sumsq, ch, inv_count, eps);
    y[i] = from_f<T>((to_f(x[i]) - nm.mean) * nm.inv * scale[ch] + bias[ch]);
  }
}

// dx = scale·inv/n · (n·dy − Σdy − x̂·Σdy·x̂)
template <class T>
__global__ void grad_input_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                  const float* __restrict__ sum, const float* __restrict__ sumsq,
                                  const float* __restrict__ scale, const float* __restrict__ sdy,
                                  const float* __restrict__ sdyx, int64_t total, int64_t c,
                                  int64_t s, float count, float eps, T* __restrict__ dx) {
  const float inv_count = 1.f / count;
  const bool idx32 = total < (int64_t{1} << 31);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = channel_of(i, s, c, idx32);
    const Norm nm = channel_norm(sum, sumsq, ch, inv_count, eps);
    const float xh = (to_f(x[i]) - nm.mean) * nm.inv;
    const float k = scale[ch] * nm.inv * inv_count;
    dx[i] = from_f<T>(k * (count * to_f(dy[i]) - sdy[ch] - xh * sdyx[ch]));
  }
}

__global__ void running_kernel(const float* __restrict__ rm, const float* __restrict__ rv,
                               const float* __restrict__ sum, const float* __restrict__ sumsq,
                               int64_t c, double count, double momentum, float* __restrict__ rm2,
                               float* __restrict__ rv2) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= c) return;
  const double mean = sum[i] / count;
  const double var = fmax(sumsq[i] / count - mean * mean, 0.0);
  const double unbias = count > 1 ? count / (count - 1) : 1.0;
  rm2[i] = static_cast<float>(rm[i] * momentum + mean * (1 - momentum));
  rv2[i] = static_cast<float>(rv[i] * momentum + var * unbias * (1 - momentum));
}

Status need_f32(const Ins& ts, size_t from, const char* op) {
  for (size_t i = from; i < ts.size(); ++i)
    if (ts[i].dtype != DType::kFloat32)
      return Unimplemented(std::string(op) + ": per-channel operands must be f32 on CUDA, got " +
                           dtype_name(ts[i].dtype));
  return Status::Ok();
}

Status run_stats(CudaContext& ctx, const BatchNormDims& d, bool grad, const Ins& in,
                 const Ins& out) {
  const size_t xi = grad ? 1 : 0;
  for (const TensorRef& o : out)
    TSR_CUDA_RETURN_IF_ERROR(
        cudaMemsetAsync(o.data, 0, static_cast<size_t>(d.c) * sizeof(float), ctx.stream));
  if (d.n * d.c * d.s == 0) return Status::Ok();
  if (d.c > 2147483647) return Unimplemented("BatchNorm statistics over more than 2^31 channels");
  // About four blocks per SM (132 on an H100) over channels x batch slices.
  const int64_t want = (528 + d.c - 1) / d.c;
  const int64_t slices = want < d.n ? (want < 65535 ? want : 65535) : d.n;
  const int64_t rows = (d.n + slices - 1) / slices;
  const dim3 grid(static_cast<unsigned>(d.c), static_cast<unsigned>((d.n + rows - 1) / rows));
  const float inv_count = d.count > 0 ? static_cast<float>(1.0 / d.count) : 0.f;
  const float eps = static_cast<float>(d.eps);
  return dispatch_float(in[xi].dtype, [&](auto tag) {
    using T = decltype(tag);
    if (grad)
      stats_kernel<T, true><<<grid, kBnThreads, 0, ctx.stream>>>(
          in[0].as<const T>(), in[1].as<const T>(), d.n, d.c, d.s, rows, in[2].as<const float>(),
          in[3].as<const float>(), inv_count, eps, out[0].as<float>(), out[1].as<float>());
    else
      stats_kernel<T, false><<<grid, kBnThreads, 0, ctx.stream>>>(
          nullptr, in[0].as<const T>(), d.n, d.c, d.s, rows, nullptr, nullptr, inv_count, eps,
          out[0].as<float>(), out[1].as<float>());
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace

Status BatchNormStats(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(cpu::batch_norm_dims("BatchNormStats", attrs, in, out, &d));
  TSR_RETURN_IF_ERROR(need_f32(out, 0, "BatchNormStats"));
  return run_stats(ctx, d, false, in, out);
}

Status BatchNormGradStats(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(cpu::batch_norm_dims("BatchNormGradStats", attrs, in, out, &d));
  TSR_RETURN_IF_ERROR(need_f32(in, 2, "BatchNormGradStats"));
  return run_stats(ctx, d, true, in, out);
}

Status BatchNormApply(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(cpu::batch_norm_dims("BatchNormApply", attrs, in, out, &d));
  TSR_RETURN_IF_ERROR(need_f32(in, 1, "BatchNormApply"));
  const int64_t total = d.n * d.c * d.s;
  if (total == 0) return Status::Ok();
  return dispatch_float(in[0].dtype, [&](auto tag) {
    using T = decltype(tag);
    apply_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const float>(), in[2].as<const float>(),
        in[3].as<const float>(), in[4].as<const float>(), total, d.c, d.s,
        static_cast<float>(1.0 / d.count), static_cast<float>(d.eps), out[0].as<T>());
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status BatchNormGradInput(CudaContext& ctx, const AttrMap& attrs, const Ins& in, const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(cpu::batch_norm_dims("BatchNormGradInput", attrs, in, out, &d));
  TSR_RETURN_IF_ERROR(need_f32(in, 2, "BatchNormGradInput"));
  const int64_t total = d.n * d.c * d.s;
  if (total == 0) return Status::Ok();
  return dispatch_float(in[1].dtype, [&](auto tag) {
    using T = decltype(tag);
    grad_input_kernel<T><<<grid_for(total), kThreads, 0, ctx.stream>>>(
        in[0].as<const T>(), in[1].as<const T>(), in[2].as<const float>(), in[3].as<const float>(),
        in[4].as<const float>(), in[5].as<const float>(), in[6].as<const float>(), total, d.c, d.s,
        static_cast<float>(d.count), static_cast<float>(d.eps), out[0].as<T>());
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

Status BatchNormRunningUpdate(CudaContext& ctx, const AttrMap& attrs, const Ins& in,
                              const Ins& out) {
  BatchNormDims d;
  TSR_RETURN_IF_ERROR(cpu::batch_norm_dims("BatchNormRunningUpdate", attrs, in, out, &d));
  TSR_RETURN_IF_ERROR(need_f32(in, 0, "BatchNormRunningUpdate"));
  if (d.c == 0) return Status::Ok();
  running_kernel<<<static_cast<unsigned>((d.c + kThreads - 1) / kThreads), kThreads, 0,
                   ctx.stream>>>(in[0].as<const float>(), in[1].as<const float>(),
                                 in[2].as<const float>(), in[3].as<const float>(), d.c, d.count,
                                 d.momentum, out[0].as<float>(), out[1].as<float>());
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

}  // namespace tessera::kernels::cuda
