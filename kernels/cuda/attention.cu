// Row kernels of the fused attention ops (attention.h): the masked softmax of a chunk of scores
// and the softmax backward, in place, f32 math on f32/f16/bf16 storage.
//
// Shape by row length Sk; the row sits in registers, so it is read once and written once:
//   Sk <= 1024     one warp per row, 8/16/32 elements per lane, shuffles only (no barriers);
//                  gpt2's and bert's rows (1024, 512) land here.
//   Sk <= 16384    one block per row, 16 elements per thread, 64..1024 threads, two barriers.
//   longer         one block per row looping over the row in memory (softmax: three passes,
//                  backward: two; re-reads come from L2), any length.
// Lanes hold 16-byte vectors (8 bf16/f16 or 4 f32), consecutive lanes consecutive vectors
// (coalesced). A row that is not 16-byte aligned (Sk not a multiple of the vector) is loaded
// element by element in the same layout: a uniform branch instead of twice the kernels.
#include <cmath>
#include <type_traits>

#include "cuda/attention.h"
#include "cuda/attention_mask.cuh"
#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {
namespace {

constexpr int kBlockPer = 16;                           // elements per thread, block shape
constexpr int64_t kRegRow = int64_t{kBlockPer} * 1024;  // longest row held in registers
constexpr unsigned kLoopThreads = 512;                  // threads of the looping shape
constexpr unsigned kWarpBlock = 256;                    // 8 rows per block, warp shape

template <class T>
constexpr int kVecOf = static_cast<int>(16 / sizeof(T));  // elements per 16-byte vector

// Score j of query row q: s + mask, -inf where causal masks the key.
__device__ __forceinline__ float masked(float s, int64_t j, int64_t q, const AttnMask& m,
                                        int64_t mrow, bool causal) {
  if (causal && j > q) return -INFINITY;
  return m.data ? s + mask_value(m.data, m.dtype, mrow + j * m.col_stride) : s;
}

// x[0..kV) <- p[j..j+kV) as f32. vec: one 16-byte load (the caller guarantees j + kV <= n and
// alignment); else element by element, 0 past n.
template <class T>
__device__ __forceinline__ void load_vec(const T* p, int64_t j, int64_t n, bool vec, float* x) {
  constexpr int kV = kVecOf<T>;
  if (vec) {
    const uint4 u = *reinterpret_cast<const uint4*>(p + j);
    const T* e = reinterpret_cast<const T*>(&u);
#pragma unroll
    for (int k = 0; k < kV; ++k) x[k] = to_f(e[k]);
  } else {
#pragma unroll
    for (int k = 0; k < kV; ++k) x[k] = j + k < n ? to_f(p[j + k]) : 0.f;
  }
}

template <class T>
__device__ __forceinline__ void store_vec(T* p, int64_t j, int64_t n, bool vec, const float* x) {
  constexpr int kV = kVecOf<T>;
  if (vec) {
    alignas(16) T e[kV];
#pragma unroll
    for (int k = 0; k < kV; ++k) e[k] = from_f<T>(x[k]);
    *reinterpret_cast<uint4*>(p + j) = *reinterpret_cast<const uint4*>(e);
  } else {
#pragma unroll
    for (int k = 0; k < kV; ++k)
      if (j + k < n) p[j + k] = from_f<T>(x[k]);
  }
}

// This thread's row (batch-head b, chunk row i), its index t among the tpr threads of the row;
// false for the idle warps of the last block of the warp shape (the whole warp returns).
template <bool kWarp>
__device__ __forceinline__ bool row_of(const AttnRows& r, int64_t* b, int64_t* i, int* t,
                                       int* tpr) {
  const int64_t row =
      kWarp ? int64_t(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32 : int64_t(blockIdx.x);
  *t = kWarp ? static_cast<int>(threadIdx.x & 31) : static_cast<int>(threadIdx.x);
  *tpr = kWarp ? 32 : static_cast<int>(blockDim.x);
  *b = row / r.rows;
  *i = row % r.rows;
  return row < r.n * r.rows;
}

template <bool kWarp, bool kMax>
__device__ __forceinline__ float row_reduce(float v) {
  if constexpr (kWarp) {
    for (int o = 16; o > 0; o >>= 1) {
      const float w = __shfl_xor_sync(0xffffffffu, v, o);
      v = kMax ? fmaxf(v, w) : v + w;
    }
    return v;
  } else {
    return block_reduce<kMax>(v);
  }
}

// Register shapes: vector `it` of thread t covers row elements [(it * tpr + t) * kV, + kV).
template <class T, bool kWarp, int kPer>
__global__ void softmax_rows_kernel(T* __restrict__ s, AttnRows r, AttnMask m, bool causal,
                                    bool vec) {
  constexpr int kV = kVecOf<T>, kIt = kPer / kV;
  int64_t b, i;
  int t, tpr;
  if (!row_of<kWarp>(r, &b, &i, &t, &tpr)) return;
  T* sr = s + b * r.batch_stride + i * r.sk;
  const int64_t q = r.r0 + i;
  const int64_t mrow = m.data ? offset_of(m.lead, 0, b) + q * m.row_stride : 0;
  float x[kPer];
  float mx = -INFINITY;
#pragma unroll
  for (int it = 0; it < kIt; ++it) {
    const int64_t j0 = (int64_t(it) * tpr + t) * kV;
    float* xv = x + it * kV;
    if (j0 < r.sk) load_vec(sr, j0, r.sk, vec, xv);
#pragma unroll
    for (int e = 0; e < kV; ++e) {
      xv[e] = j0 + e < r.sk ? masked(xv[e], j0 + e, q, m, mrow, causal) : -INFINITY;
      mx = fmaxf(mx, xv[e]);
    }
  }
  mx = row_reduce<kWarp, true>(mx);
  // Every key masked: exp(-inf - (-inf)) would be NaN; with base 0 every term is exp(-inf) = 0
  // and the row is written as 0 (y = 0), without a divergent branch.
  const float base = mx == -INFINITY ? 0.f : mx;
  float sum = 0.f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    x[k] = __expf(x[k] - base);
    sum += x[k];
  }
  sum = row_reduce<kWarp, false>(sum);
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
#pragma unroll
  for (int it = 0; it < kIt; ++it) {
    const int64_t j0 = (int64_t(it) * tpr + t) * kV;
    float* xv = x + it * kV;
#pragma unroll
    for (int e = 0; e < kV; ++e) xv[e] *= inv;
    if (j0 < r.sk) store_vec(sr, j0, r.sk, vec, xv);
  }
}

template <class T, bool kWarp, int kPer>
__global__ void dsoftmax_rows_kernel(const T* __restrict__ p, T* __restrict__ dp, AttnRows r,
                                     bool vec) {
  constexpr int kV = kVecOf<T>, kIt = kPer / kV;
  int64_t b, i;
  int t, tpr;
  if (!row_of<kWarp>(r, &b, &i, &t, &tpr)) return;
  const int64_t off = b * r.batch_stride + i * r.sk;
  float pv[kPer], g[kPer];
  float dot = 0.f;
#pragma unroll
  for (int it = 0; it < kIt; ++it) {
    const int64_t j0 = (int64_t(it) * tpr + t) * kV;
    float *pi = pv + it * kV, *gi = g + it * kV;
    if (j0 < r.sk) {
      load_vec(p + off, j0, r.sk, vec, pi);
      load_vec(dp + off, j0, r.sk, vec, gi);
    } else {
#pragma unroll
      for (int e = 0; e < kV; ++e) pi[e] = gi[e] = 0.f;
    }
#pragma unroll
    for (int e = 0; e < kV; ++e) dot += pi[e] * gi[e];
  }
  dot = row_reduce<kWarp, false>(dot);
#pragma unroll
  for (int it = 0; it < kIt; ++it) {
    const int64_t j0 = (int64_t(it) * tpr + t) * kV;
    float *pi = pv + it * kV, *gi = g + it * kV;
#pragma unroll
    for (int e = 0; e < kV; ++e) gi[e] = pi[e] * (gi[e] - dot);
    if (j0 < r.sk) store_vec(dp + off, j0, r.sk, vec, gi);
  }
}

// Rows longer than kRegRow: element j belongs to thread j % blockDim.x in every pass, so the
// in-place write only touches what the same thread read.
template <class T>
__global__ void softmax_loop_kernel(T* __restrict__ s, AttnRows r, AttnMask m, bool causal) {
  const int64_t b = int64_t(blockIdx.x) / r.rows, i = int64_t(blockIdx.x) % r.rows;
  T* sr = s + b * r.batch_stride + i * r.sk;
  const int64_t q = r.r0 + i;
  const int64_t mrow = m.data ? offset_of(m.lead, 0, b) + q * m.row_stride : 0;
  float mx = -INFINITY;
  for (int64_t j = threadIdx.x; j < r.sk; j += blockDim.x)
    mx = fmaxf(mx, masked(to_f(sr[j]), j, q, m, mrow, causal));
  mx = block_reduce<true>(mx);
  const float base = mx == -INFINITY ? 0.f : mx;
  float sum = 0.f;
  for (int64_t j = threadIdx.x; j < r.sk; j += blockDim.x)
    sum += __expf(masked(to_f(sr[j]), j, q, m, mrow, causal) - base);
  sum = block_reduce<false>(sum);
  const float inv = sum > 0.f ? 1.f / sum : 0.f;
  for (int64_t j = threadIdx.x; j < r.sk; j += blockDim.x)
    sr[j] = from_f<T>(__expf(masked(to_f(sr[j]), j, q, m, mrow, causal) - base) * inv);
}

template <class T>
__global__ void dsoftmax_loop_kernel(const T* __restrict__ p, T* __restrict__ dp, AttnRows r) {
  const int64_t off =
      (int64_t(blockIdx.x) / r.rows) * r.batch_stride + (int64_t(blockIdx.x) % r.rows) * r.sk;
  float dot = 0.f;
  for (int64_t j = threadIdx.x; j < r.sk; j += blockDim.x)
    dot += to_f(p[off + j]) * to_f(dp[off + j]);
  dot = block_reduce<false>(dot);
  for (int64_t j = threadIdx.x; j < r.sk; j += blockDim.x)
    dp[off + j] = from_f<T>(to_f(p[off + j]) * (to_f(dp[off + j]) - dot));
}

// Picks the shape for the row length and calls launch(kWarp, kPer, blocks, threads) with kWarp
// and kPer as integral constants; kPer = 0 is the looping shape.
template <class F>
Status launch_rows(const AttnRows& r, F&& launch) {
  const int64_t rows = r.n * r.rows;
  if (rows == 0 || r.sk == 0) return Status::Ok();
  if (rows > 0x7fffffff) return Unimplemented("attention with more than 2^31 rows per chunk");
  using W = std::true_type;
  using B = std::false_type;
  const int64_t rpb = kWarpBlock / 32;
  const auto wb = static_cast<unsigned>((rows + rpb - 1) / rpb);
  if (r.sk <= 256) return launch(W{}, std::integral_constant<int, 8>{}, wb, kWarpBlock);
  if (r.sk <= 512) return launch(W{}, std::integral_constant<int, 16>{}, wb, kWarpBlock);
  if (r.sk <= 1024) return launch(W{}, std::integral_constant<int, 32>{}, wb, kWarpBlock);
  const auto rb = static_cast<unsigned>(rows);
  if (r.sk > kRegRow) return launch(B{}, std::integral_constant<int, 0>{}, rb, kLoopThreads);
  unsigned threads = 64;
  while (threads * kBlockPer < r.sk) threads *= 2;
  return launch(B{}, std::integral_constant<int, kBlockPer>{}, rb, threads);
}

// 16-byte vectors need every row start aligned: the base and the row length.
template <class T>
bool vector_rows(const void* p, const AttnRows& r) {
  constexpr int kV = kVecOf<T>;
  return reinterpret_cast<uintptr_t>(p) % 16 == 0 && r.sk % kV == 0 && r.batch_stride % kV == 0;
}

}  // namespace

Status attn_softmax_rows(CudaContext& ctx, DType t, void* s, const AttnRows& r, const AttnMask& m,
                         bool causal) {
  return dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    const bool vec = vector_rows<T>(s, r);
    return launch_rows(r, [&](auto warp, auto per, unsigned blocks, unsigned threads) {
      constexpr bool kW = decltype(warp)::value;
      constexpr int kP = decltype(per)::value;
      if constexpr (kP == 0)
        softmax_loop_kernel<T>
            <<<blocks, threads, 0, ctx.stream>>>(static_cast<T*>(s), r, m, causal);
      else
        softmax_rows_kernel<T, kW, kP>
            <<<blocks, threads, 0, ctx.stream>>>(static_cast<T*>(s), r, m, causal, vec);
      TSR_CUDA_LAUNCHED();
      return Status::Ok();
    });
  });
}

Status attn_dsoftmax_rows(CudaContext& ctx, DType t, const void* p, void* dp, const AttnRows& r) {
  return dispatch_float(t, [&](auto tag) {
    using T = decltype(tag);
    const bool vec = vector_rows<T>(p, r) && vector_rows<T>(dp, r);
    return launch_rows(r, [&](auto warp, auto per, unsigned blocks, unsigned threads) {
      constexpr bool kW = decltype(warp)::value;
      constexpr int kP = decltype(per)::value;
      if constexpr (kP == 0)
        dsoftmax_loop_kernel<T>
            <<<blocks, threads, 0, ctx.stream>>>(static_cast<const T*>(p), static_cast<T*>(dp), r);
      else
        dsoftmax_rows_kernel<T, kW, kP><<<blocks, threads, 0, ctx.stream>>>(
            static_cast<const T*>(p), static_cast<T*>(dp), r, vec);
      TSR_CUDA_LAUNCHED();
      return Status::Ok();
    });
  });
}

}  // namespace tessera::kernels::cuda
