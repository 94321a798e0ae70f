// Deterministic pseudo-random fill, for benchmarks of graph-only plans only
// (SessionOptions::random_weights): element i of a tensor is a hash of (seed, i) mapped to
// uniform [-scale, scale], so every run and every GPU sees the same weights without a host
// copy (1.3 GB of bert-large weights fill in about a millisecond instead of a PCIe upload).
#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

// splitmix64 finaliser: cheap, and good enough that neighbouring indices look independent.
__device__ __forceinline__ uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

template <class T>
__global__ void fill_kernel(T* __restrict__ y, int64_t n, uint64_t seed, float scale) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float u = static_cast<float>(mix(seed * 0x9E3779B97F4A7C15ull + i) >> 40) * 0x1p-24f;
    y[i] = from_f<T>((2.f * u - 1.f) * scale);
  }
}

}  // namespace

Status fill_random(CudaContext& ctx, void* data, DType dt, int64_t n, uint64_t seed, float scale) {
  if (n == 0) return Status::Ok();
  if (!is_cuda_float(dt))  // integer or bool weights: zeros are always in range
    return cuda_status(
        cudaMemsetAsync(data, 0, static_cast<size_t>(n * dtype_size(dt)), ctx.stream),
        "fill_random memset");
  return dispatch_float(dt, [&](auto tag) {
    using T = decltype(tag);
    fill_kernel<T><<<grid_for(n), kThreads, 0, ctx.stream>>>(static_cast<T*>(data), n, seed, scale);
    TSR_CUDA_LAUNCHED();
    return Status::Ok();
  });
}

}  // namespace tessera::kernels::cuda
