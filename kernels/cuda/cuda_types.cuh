// Device-side element access for the float kernels: f32, f16, bf16 loaded as f32, stored with
// round-to-nearest. Only .cu files include this.
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cfloat>

#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {

__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f(__nv_bfloat16 v) { return __bfloat162float(v); }
template <class T>
__device__ __forceinline__ T from_f(float v);
template <>
__device__ __forceinline__ float from_f<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// Element offset of linear index i in operand k of d (d.size row-major).
__device__ __forceinline__ int64_t offset_of(const Dims& d, int k, int64_t i) {
  int64_t off = d.start[k];
  for (int r = d.rank - 1; r >= 0; --r) {
    const int64_t n = d.size[r];
    off += (i % n) * d.stride[k][r];
    i /= n;
  }
  return off;
}

// Same with 32-bit index arithmetic, for launches of fewer than 2^31 elements (every dim size
// then fits too): a 64-bit div/mod is a ~70-instruction software routine on the GPU, a 32-bit
// one a handful, and broadcasting kernels do one per dim per operand per element.
__device__ __forceinline__ int64_t offset_of32(const Dims& d, int k, uint32_t i) {
  int64_t off = d.start[k];
  for (int r = d.rank - 1; r >= 0; --r) {
    const uint32_t n = static_cast<uint32_t>(d.size[r]);
    off += static_cast<int64_t>(i % n) * d.stride[k][r];
    i /= n;
  }
  return off;
}

// Block-wide sum or max of one float per thread; every thread gets the result.
template <bool kMax>
__device__ __forceinline__ float block_reduce(float v) {
  __shared__ float part[32];
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, w) : v + w;
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
  __syncthreads();  // part[] may still be read by a previous call
  if (lane == 0) part[warp] = v;
  __syncthreads();
  v = lane < nw ? part[lane] : (kMax ? -FLT_MAX : 0.f);
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, w) : v + w;
  }
  return v;
}

template <class F>
Status dispatch_float(DType t, F&& f) {
  switch (t) {
    case DType::kFloat32:
      return f(float{});
    case DType::kFloat16:
      return f(__half{});
    case DType::kBFloat16:
      return f(__nv_bfloat16{});
    default:
      return Unimplemented(std::string("dtype ") + dtype_name(t) +
                           " (CUDA float kernels take f32, f16, bf16)");
  }
}

namespace detail {
template <size_t I, size_t N, class H, class F, class... Ts>
Status mixed_pick(const DType (&dts)[N], F& f, Ts... ts) {
  if constexpr (I == N) {
    return f(ts...);
  } else {
    if (dts[I] == DType::kFloat32) return mixed_pick<I + 1, N, H>(dts, f, ts..., float{});
    return mixed_pick<I + 1, N, H>(dts, f, ts..., H{});
  }
}
}  // namespace detail

// The mixed-dtype forms (docs/ops.md): operands each f32 or one 16-bit type H (f16 or bf16).
// Calls f(T0{}, T1{}, ...) with Ti = float where dts[i] is f32, H's storage type otherwise: 2^N
// instantiations per 16-bit type, one when everything is f32.
template <size_t N, class F>
Status dispatch_mixed(const DType (&dts)[N], F&& f) {
  DType h = DType::kFloat32;
  for (DType t : dts) {
    if (t == DType::kFloat32) continue;
    if ((t != DType::kFloat16 && t != DType::kBFloat16) || (h != DType::kFloat32 && h != t))
      return Unimplemented(std::string("dtype ") + dtype_name(t) + " beside " + dtype_name(h) +
                           " (CUDA mixed-dtype kernels take f32 and one of f16, bf16)");
    h = t;
  }
  if (h == DType::kFloat16) return detail::mixed_pick<0, N, __half>(dts, f);
  if (h == DType::kBFloat16) return detail::mixed_pick<0, N, __nv_bfloat16>(dts, f);
  return detail::mixed_pick<0, N, float>(dts, f);
}

}  // namespace tessera::kernels::cuda
