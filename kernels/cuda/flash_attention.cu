// Flash attention kernels (flash_attention.h): FlashAttention-2 on WMMA tensor-core fragments
// (16x16x16, f16/bf16 in, f32 accumulators).
//
// Every kernel is a block of 4 warps over a tile of 64 rows (query rows, or keys for dk/dv),
// each warp owning 16 of them, and loops over tiles of 64 of the other side, which it stages
// in shared memory (zero-filled past the end, so no GEMM ever reads out of bounds). The WMMA
// accumulator layout is unspecified, so a score tile goes through shared memory as f32
// (store_matrix_sync) for the element-wise work (scale, mask, causal, exp), done by plain
// threads with a known layout: lane l owns row l % 16 and half l / 16 of the 64 columns,
// visiting them rotated by l so the 32 lanes hit 32 different banks. The 16-bit result (P or
// dS) goes back through shared memory as a matrix_a operand. Per-row factors (the online
// softmax's rescale, 1/l, the gradients' scale) are applied the same way, in shared memory: the
// CUDA guide leaves the fragments' element mapping unspecified and allows direct access to
// fragment elements only for an operation applied uniformly to every element, so a per-row
// product with another fragment would rest on an undocumented property. The rescale round trip
// is skipped when no row of the warp changed its running max.
//
// Templates: kMaxD = 64 or 128 sets the tile width; the head size d <= kMaxD is a run-time
// value, with the D/16 fragment loops unrolled and predicated (indices stay compile-time, so
// the fragments stay in registers). Costs: kMaxD = 128 at d = 80 does the d = 80 work but
// holds shared memory for 128; tile loads are synchronous (no cp.async double buffering).
#include <mma.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>
#include <type_traits>
#include <utility>

#include "cuda/attention_mask.cuh"
#include "cuda/cuda_types.cuh"
#include "cuda/flash_attention.h"

namespace tessera::kernels::cuda {
namespace {

using namespace nvcuda;

constexpr int kB = 64;     // rows of a tile (query rows or keys)
constexpr int kWarps = 4;  // 16 rows each
constexpr int kThreadsPerBlock = 32 * kWarps;
constexpr int kSLd = kB + 4;       // f32 tile row stride (floats; WMMA wants a multiple of 4)
constexpr int kPLd = kB + 8;       // 16-bit P/dS tile row stride (a multiple of 8)
constexpr int kWarpS = 16 * kSLd;  // floats of a warp's f32 tile
constexpr int kWarpP = 16 * kPLd;  // elements of a warp's 16-bit tile

using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// Kernel arguments (by value: the mask's Dims make it ~300 bytes).
template <class T>
struct Args {
  const T *q, *k, *v, *dy;
  T *o, *dq, *dk, *dv;  // outputs; o == nullptr: the forward writes only the statistics
  float *lse, *drow;    // per query row: log-sum-exp and rowsum(dy∘y); nullptr: not wanted
  int64_t n, sq, sk;
  int d;
  float scale;
  bool causal;
  AttnMask mask;
};

// Shared memory: 64-row tiles of 16-bit q/k/v/dy (row stride kMaxD + 8 elements: 16 bytes of
// skew between rows for the WMMA loads), then per-warp f32 and 16-bit tiles. Every region is a
// multiple of 32 bytes, which keeps each WMMA pointer 256-bit aligned as it requires.
template <class T, int kMaxD>
struct Smem {
  static constexpr int kLd = kMaxD + 8;
  static constexpr size_t kTile = size_t{kB} * kLd * sizeof(T);
  static constexpr size_t kF32 = size_t{kWarps} * kWarpS * sizeof(float);
  static constexpr size_t k16 = size_t{kWarps} * kWarpP * sizeof(T);
  static constexpr size_t kFwd = 3 * kTile + kF32 + k16;
  static constexpr size_t kDq = 4 * kTile + 2 * kF32 + k16;
  static constexpr size_t kDkdv = 4 * kTile + 2 * kF32 + 2 * k16 + 2 * kB * sizeof(float);
  static_assert(kTile % 32 == 0 && kF32 % 32 == 0 && k16 % 32 == 0, "WMMA needs 32-byte alignment");
};

// Score of query row i and key j from s = q·k (unscaled): scale·s + mask, -inf where causal
// masks the key or (i, j) lies past the end (zero-filled tile rows). mbase: the mask's offset
// for this batch-head.
template <class T>
__device__ __forceinline__ float score(float s, int64_t i, int64_t j, const Args<T>& a,
                                       int64_t mbase) {
  if (i >= a.sq || j >= a.sk || (a.causal && j > i)) return -INFINITY;
  s *= a.scale;
  if (a.mask.data)
    s += mask_value(a.mask.data, a.mask.dtype,
                    mbase + i * a.mask.row_stride + j * a.mask.col_stride);
  return s;
}

// Rows [0, 64) of a dense [rows, d] matrix g into a shared tile, 16-byte vectors, zeros for
// rows >= rows_left (d % 8 == 0 and g 16-byte aligned: the dispatch checks).
template <class T, int kLd>
__device__ __forceinline__ void load_tile(T* sm, const T* g, int64_t rows_left, int d) {
  const int vpr = d / 8;
  for (int i = threadIdx.x; i < kB * vpr; i += kThreadsPerBlock) {
    const int r = i / vpr, c = (i % vpr) * 8;
    uint4 x = make_uint4(0, 0, 0, 0);
    if (r < rows_left) x = *reinterpret_cast<const uint4*>(g + int64_t(r) * d + c);
    *reinterpret_cast<uint4*>(sm + r * kLd + c) = x;
  }
}

// s[16, 64] (f32, stride kSLd) = a[16, d]·b[64, d]ᵀ: a warp's rows against a whole tile.
template <class T, int kMaxD>
__device__ __forceinline__ void rows_by_tile_t(const T* a, const T* b, float* s, int d) {
  constexpr int kLd = Smem<T, kMaxD>::kLd;
  Acc c[4];
#pragma unroll
  for (int n = 0; n < 4; ++n) wmma::fill_fragment(c[n], 0.f);
#pragma unroll
  for (int t = 0; t < kMaxD / 16; ++t) {
    if (t * 16 >= d) break;
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, a + t * 16, kLd);
#pragma unroll
    for (int n = 0; n < 4; ++n) {
      // bᵀ as a col-major [d, 64] operand: element (e, j) at b[j * kLd + e].
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
      wmma::load_matrix_sync(fb, b + n * 16 * kLd + t * 16, kLd);
      wmma::mma_sync(c[n], fa, fb, c[n]);
    }
  }
#pragma unroll
  for (int n = 0; n < 4; ++n) wmma::store_matrix_sync(s + n * 16, c[n], kSLd, wmma::mem_row_major);
}

// acc[16, d] += p[16, 64] (16-bit, stride kPLd) · b[64, d] (a tile, row-major).
template <class T, int kMaxD>
__device__ __forceinline__ void rows_times_tile(Acc (&acc)[kMaxD / 16], const T* p, const T* b,
                                                int d) {
  constexpr int kLd = Smem<T, kMaxD>::kLd;
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
    wmma::load_matrix_sync(fa, p + kk * 16, kPLd);
#pragma unroll
    for (int t = 0; t < kMaxD / 16; ++t) {
      if (t * 16 >= d) break;
      wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
      wmma::load_matrix_sync(fb, b + kk * 16 * kLd + t * 16, kLd);
      wmma::mma_sync(acc[t], fa, fb, acc[t]);
    }
  }
}

// This lane's column of its row in the rotated visiting order (see the file comment).
__device__ __forceinline__ int col_of(int j) {
  const int lane = threadIdx.x & 31;
  return (lane >> 4) * 32 + ((j + lane) & 31);
}

// acc[16, d] row r *= f of the lanes holding row r (lanes r and r + 16, the same f), through
// the warp's f32 tile s, 64 columns at a time (see the file comment for why not in registers).
template <int kMaxD>
__device__ __forceinline__ void rescale_rows(Acc (&acc)[kMaxD / 16], float* s, float f, int d) {
  const int r = threadIdx.x & 15;
#pragma unroll
  for (int c0 = 0; c0 < kMaxD / 16; c0 += 4) {
    if (c0 * 16 >= d) break;
#pragma unroll
    for (int n = 0; n < 4; ++n)
      if ((c0 + n) * 16 < d)
        wmma::store_matrix_sync(s + n * 16, acc[c0 + n], kSLd, wmma::mem_row_major);
    __syncwarp();
#pragma unroll 8
    for (int j = 0; j < 32; ++j) {
      const int c = col_of(j);
      if (c0 * 16 + c < d) s[r * kSLd + c] *= f;
    }
    __syncwarp();
#pragma unroll
    for (int n = 0; n < 4; ++n)
      if ((c0 + n) * 16 < d)
        wmma::load_matrix_sync(acc[c0 + n], s + n * 16, kSLd, wmma::mem_row_major);
    __syncwarp();  // s is rewritten by the next 64 columns (or the caller)
  }
}

// The warp's 16 output rows (acc, f32) times f (this lane's row factor) to g (rows [0, valid)
// of a dense [., d] matrix, nullptr: not written), 64 columns at a time through the warp's f32
// tile s. With dy, *dot gets this lane's part of rowsum(dy∘out) of row lane % 16 (the f32
// values, before rounding).
template <class T, int kMaxD>
__device__ __forceinline__ void write_rows(Acc (&acc)[kMaxD / 16], float* s, float f, T* g,
                                           int64_t valid, int d, const T* dy, float* dot) {
  const int lane = threadIdx.x & 31, r = lane & 15, h = lane >> 4;
#pragma unroll
  for (int c0 = 0; c0 < kMaxD / 16; c0 += 4) {
    if (c0 * 16 >= d) break;
#pragma unroll
    for (int n = 0; n < 4; ++n)
      if ((c0 + n) * 16 < d)
        wmma::store_matrix_sync(s + n * 16, acc[c0 + n], kSLd, wmma::mem_row_major);
    __syncwarp();
#pragma unroll
    for (int u = 0; u < 4; ++u) {
      const int col = c0 * 16 + h * 32 + u * 8;
      if (r >= valid || col >= d) continue;  // d % 16 == 0: 8 columns are all in or all out
      const float* xs = s + r * kSLd + h * 32 + u * 8;
      float x[8];
#pragma unroll
      for (int k = 0; k < 8; ++k) x[k] = xs[k] * f;
      alignas(16) T e[8];
#pragma unroll
      for (int k = 0; k < 8; ++k) e[k] = from_f<T>(x[k]);
      if (g) *reinterpret_cast<uint4*>(g + int64_t(r) * d + col) = *reinterpret_cast<uint4*>(e);
      if (dy) {
        const uint4 w = *reinterpret_cast<const uint4*>(dy + int64_t(r) * d + col);
        const T* y = reinterpret_cast<const T*>(&w);
#pragma unroll
        for (int k = 0; k < 8; ++k) *dot += x[k] * to_f(y[k]);
      }
    }
    __syncwarp();  // s is rewritten by the next 64 columns
  }
}

// Block -> (batch-head b, first row r0 of its 64-row tile). Tile-major, so the blocks that
// start first are every batch-head's heaviest tile under causal: the last query tiles (they see
// the most keys; heavy_last) or the first key tiles (seen by the most queries). The short ones
// then fill the tail. (All heads' k and v stay in L2 at these sizes, so the order costs no
// reuse: gpt2's 96 heads hold 24 MB.)
__device__ __forceinline__ void block_rows(int64_t n, int64_t rows, bool heavy_last, int64_t* b,
                                           int64_t* r0) {
  const int64_t nb = (rows + kB - 1) / kB, t = int64_t(blockIdx.x) / n;
  *b = int64_t(blockIdx.x) % n;
  *r0 = (heavy_last ? nb - 1 - t : t) * kB;
}

// Keys a block of query rows from q0 can see: all, or under causal up to its last row.
template <class T>
__device__ __forceinline__ int64_t key_end(const Args<T>& a, int64_t q0) {
  return a.causal ? min(a.sk, min(q0 + kB, a.sq)) : a.sk;
}

// One online-softmax step of the warp's rows over the f32 scores s (unscaled q·kᵀ of keys
// [k0, k0 + 64)): P (16-bit) into p, and the row's running max m and sum l (held by both lanes
// of the row). Returns the rescale factor of the row's old accumulator; *stale: the accumulator
// must actually be rescaled (false while m was -inf: the accumulator is still exactly 0 then).
template <class T>
__device__ __forceinline__ float softmax_step(const Args<T>& a, float* s, T* p, int64_t qi,
                                              int64_t k0, int64_t mbase, float* m, float* l,
                                              bool* stale) {
  const int r = threadIdx.x & 15;
  float mx = -INFINITY;
#pragma unroll 8
  for (int j = 0; j < 32; ++j) {
    const int c = col_of(j);
    const float x = score(s[r * kSLd + c], qi, k0 + c, a, mbase);
    s[r * kSLd + c] = x;
    mx = fmaxf(mx, x);
  }
  mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 16));
  const float mnew = fmaxf(*m, mx);
  // All keys so far masked: mnew = -inf; base 0 makes every exp(-inf - 0) = 0 instead of NaN.
  // alpha = exp(m - base) is 0 while m = -inf (the accumulator is still 0 then).
  const float base = mnew == -INFINITY ? 0.f : mnew;
  const float alpha = __expf(*m - base);
  float sum = 0.f;
#pragma unroll 8
  for (int j = 0; j < 32; ++j) {
    const int c = col_of(j);
    const float e = __expf(s[r * kSLd + c] - base);
    sum += e;
    p[r * kPLd + c] = from_f<T>(e);
  }
  sum += __shfl_xor_sync(0xffffffffu, sum, 16);
  *l = *l * alpha + sum;
  *stale = *m != -INFINITY && alpha != 1.f;
  *m = mnew;
  return alpha;
}

// Forward: grid n · ceil(Sq/64) blocks of 64 query rows. Writes o (if given) and the row
// statistics lse (+inf for a row with every key masked, so the backward's exp(s - lse) is 0
// there) and drow = rowsum(dy∘o) (if given).
template <class T, int kMaxD>
__global__ void __launch_bounds__(kThreadsPerBlock) flash_fwd_kernel(Args<T> a) {
  using S = Smem<T, kMaxD>;
  constexpr int kLd = S::kLd, kDT = kMaxD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + kB * kLd;
  T* vs = ks + kB * kLd;
  const int warp = threadIdx.x / 32, lane = threadIdx.x & 31, r = lane & 15;
  float* sw = reinterpret_cast<float*>(smem + 3 * S::kTile) + warp * kWarpS;
  T* pw = reinterpret_cast<T*>(smem + 3 * S::kTile + S::kF32) + warp * kWarpP;
  int64_t b, q0;
  block_rows(a.n, a.sq, true, &b, &q0);
  const int64_t row0 = b * a.sq + q0 + warp * 16;  // the warp's first row, all batch-heads
  const int64_t qi = q0 + warp * 16 + r, mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;
  load_tile<T, kLd>(qs, a.q + (b * a.sq + q0) * a.d, a.sq - q0, a.d);
  Acc o[kDT];
#pragma unroll
  for (int t = 0; t < kDT; ++t) wmma::fill_fragment(o[t], 0.f);
  float m = -INFINITY, l = 0.f;
  const int64_t kend = key_end(a, q0);
  for (int64_t k0 = 0; k0 < kend; k0 += kB) {
    __syncthreads();  // every warp is done with the previous k and v tiles
    load_tile<T, kLd>(ks, a.k + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
    load_tile<T, kLd>(vs, a.v + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
    __syncthreads();
    rows_by_tile_t<T, kMaxD>(qs + warp * 16 * kLd, ks, sw, a.d);
    __syncwarp();
    bool stale;
    const float alpha = softmax_step(a, sw, pw, qi, k0, mbase, &m, &l, &stale);
    __syncwarp();  // sw (read above) is rewritten by rescale_rows; pw is read below
    if (__any_sync(0xffffffffu, stale)) rescale_rows<kMaxD>(o, sw, alpha, a.d);
    rows_times_tile<T, kMaxD>(o, pw, vs, a.d);
  }
  const int64_t valid = a.sq - (q0 + warp * 16);
  float dot = 0.f;
  write_rows<T, kMaxD>(o, sw, l > 0.f ? 1.f / l : 0.f, a.o ? a.o + row0 * a.d : nullptr, valid, a.d,
                       a.dy ? a.dy + row0 * a.d : nullptr, &dot);
  dot += __shfl_xor_sync(0xffffffffu, dot, 16);
  if (lane < 16 && qi < a.sq) {
    if (a.lse) a.lse[b * a.sq + qi] = l > 0.f ? m + logf(l) : INFINITY;
    if (a.drow) a.drow[b * a.sq + qi] = dot;
  }
}

// dS of the warp's 16 rows (f32 s = unscaled scores, dp = dP) into ds (16-bit): the gradient
// of the scores without the scale, P∘(dP − D). Orientation: kT = false: rows are query rows
// (row i = ri, column c = key c0 + c); kT = true: rows are keys, columns query rows, and P
// itself also goes to pt (for dv). lse and dd are the columns' (kT) or row's statistics.
template <class T, bool kT>
__device__ __forceinline__ void grad_tile(const Args<T>& a, const float* s, const float* dp, T* ds,
                                          T* pt, int64_t ri, int64_t c0, int64_t mbase,
                                          const float* lse, const float* dd) {
  const int r = threadIdx.x & 15;
#pragma unroll 8
  for (int j = 0; j < 32; ++j) {
    const int c = col_of(j);
    const int64_t i = kT ? c0 + c : ri, key = kT ? ri : c0 + c;
    const float x = score(s[r * kSLd + c], i, key, a, mbase);
    const float p = __expf(x - lse[kT ? c : 0]);  // -inf - lse or s - inf: 0
    ds[r * kPLd + c] = from_f<T>(p * (dp[r * kSLd + c] - dd[kT ? c : 0]));
    if (kT) pt[r * kPLd + c] = from_f<T>(p);
  }
}

// dq: grid n · ceil(Sq/64) blocks of 64 query rows, over the key blocks the rows see:
// dq = scale · Σ_blocks dS·k, accumulated in f32 fragments and written once.
template <class T, int kMaxD>
__global__ void __launch_bounds__(kThreadsPerBlock) flash_dq_kernel(Args<T> a) {
  using S = Smem<T, kMaxD>;
  constexpr int kLd = S::kLd, kDT = kMaxD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* dys = qs + kB * kLd;
  T* ks = dys + kB * kLd;
  T* vs = ks + kB * kLd;
  const int warp = threadIdx.x / 32, r = threadIdx.x & 15;
  float* sw = reinterpret_cast<float*>(smem + 4 * S::kTile) + warp * kWarpS;
  float* dpw = reinterpret_cast<float*>(smem + 4 * S::kTile + S::kF32) + warp * kWarpS;
  T* dsw = reinterpret_cast<T*>(smem + 4 * S::kTile + 2 * S::kF32) + warp * kWarpP;
  int64_t b, q0;
  block_rows(a.n, a.sq, true, &b, &q0);
  const int64_t row0 = b * a.sq + q0 + warp * 16;
  const int64_t qi = q0 + warp * 16 + r, mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;
  // Rows past the end: lse = +inf makes P = 0 (their scores are -inf anyway).
  const float lse = qi < a.sq ? a.lse[b * a.sq + qi] : INFINITY;
  const float dd = qi < a.sq ? a.drow[b * a.sq + qi] : 0.f;
  load_tile<T, kLd>(qs, a.q + (b * a.sq + q0) * a.d, a.sq - q0, a.d);
  load_tile<T, kLd>(dys, a.dy + (b * a.sq + q0) * a.d, a.sq - q0, a.d);
  Acc acc[kDT];
#pragma unroll
  for (int t = 0; t < kDT; ++t) wmma::fill_fragment(acc[t], 0.f);
  const int64_t kend = key_end(a, q0);
  for (int64_t k0 = 0; k0 < kend; k0 += kB) {
    __syncthreads();
    load_tile<T, kLd>(ks, a.k + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
    load_tile<T, kLd>(vs, a.v + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
    __syncthreads();
    rows_by_tile_t<T, kMaxD>(qs + warp * 16 * kLd, ks, sw, a.d);    // q·kᵀ
    rows_by_tile_t<T, kMaxD>(dys + warp * 16 * kLd, vs, dpw, a.d);  // dP = dy·vᵀ
    __syncwarp();
    grad_tile<T, false>(a, sw, dpw, dsw, nullptr, qi, k0, mbase, &lse, &dd);
    __syncwarp();
    rows_times_tile<T, kMaxD>(acc, dsw, ks, a.d);
  }
  write_rows<T, kMaxD>(acc, sw, a.scale, a.dq + row0 * a.d, a.sq - (q0 + warp * 16), a.d, nullptr,
                       nullptr);
}

// dk, dv: grid n · ceil(Sk/64) blocks of 64 keys (each warp 16), over the query blocks that
// see them (under causal, from the block holding query row k0 on): with Sᵀ = k·qᵀ and
// dPᵀ = v·dyᵀ, dv = Σ Pᵀ·dy and dk = scale · Σ dSᵀ·q, f32 fragments written once. Keys that
// no query sees get 0.
template <class T, int kMaxD>
__global__ void __launch_bounds__(kThreadsPerBlock) flash_dkdv_kernel(Args<T> a) {
  using S = Smem<T, kMaxD>;
  constexpr int kLd = S::kLd, kDT = kMaxD / 16;
  extern __shared__ __align__(128) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem);
  T* vs = ks + kB * kLd;
  T* qs = vs + kB * kLd;
  T* dys = qs + kB * kLd;
  const int warp = threadIdx.x / 32, r = threadIdx.x & 15;
  float* sw = reinterpret_cast<float*>(smem + 4 * S::kTile) + warp * kWarpS;
  float* dpw = reinterpret_cast<float*>(smem + 4 * S::kTile + S::kF32) + warp * kWarpS;
  T* dsw = reinterpret_cast<T*>(smem + 4 * S::kTile + 2 * S::kF32) + warp * kWarpP;
  T* ptw = reinterpret_cast<T*>(smem + 4 * S::kTile + 2 * S::kF32 + S::k16) + warp * kWarpP;
  float* lse = reinterpret_cast<float*>(smem + 4 * S::kTile + 2 * S::kF32 + 2 * S::k16);
  float* dd = lse + kB;
  int64_t b, k0;
  block_rows(a.n, a.sk, false, &b, &k0);
  const int64_t key0 = b * a.sk + k0 + warp * 16;  // the warp's first key, all batch-heads
  const int64_t kj = k0 + warp * 16 + r, mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;
  load_tile<T, kLd>(ks, a.k + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
  load_tile<T, kLd>(vs, a.v + (b * a.sk + k0) * a.d, a.sk - k0, a.d);
  Acc dk[kDT], dv[kDT];
#pragma unroll
  for (int t = 0; t < kDT; ++t) {
    wmma::fill_fragment(dk[t], 0.f);
    wmma::fill_fragment(dv[t], 0.f);
  }
  for (int64_t q0 = a.causal ? k0 : 0; q0 < a.sq; q0 += kB) {
    __syncthreads();
    load_tile<T, kLd>(qs, a.q + (b * a.sq + q0) * a.d, a.sq - q0, a.d);
    load_tile<T, kLd>(dys, a.dy + (b * a.sq + q0) * a.d, a.sq - q0, a.d);
    if (threadIdx.x < kB) {
      const int64_t i = q0 + threadIdx.x;
      lse[threadIdx.x] = i < a.sq ? a.lse[b * a.sq + i] : INFINITY;
      dd[threadIdx.x] = i < a.sq ? a.drow[b * a.sq + i] : 0.f;
    }
    __syncthreads();
    rows_by_tile_t<T, kMaxD>(ks + warp * 16 * kLd, qs, sw, a.d);    // Sᵀ = k·qᵀ
    rows_by_tile_t<T, kMaxD>(vs + warp * 16 * kLd, dys, dpw, a.d);  // dPᵀ = v·dyᵀ
    __syncwarp();
    grad_tile<T, true>(a, sw, dpw, dsw, ptw, kj, q0, mbase, lse, dd);
    __syncwarp();
    rows_times_tile<T, kMaxD>(dv, ptw, dys, a.d);
    rows_times_tile<T, kMaxD>(dk, dsw, qs, a.d);
  }
  const int64_t valid = a.sk - (k0 + warp * 16);
  write_rows<T, kMaxD>(dk, sw, a.scale, a.dk + key0 * a.d, valid, a.d, nullptr, nullptr);
  write_rows<T, kMaxD>(dv, sw, 1.f, a.dv + key0 * a.d, valid, a.d, nullptr, nullptr);
}

// Launches kernel over n · ceil(rows/64) blocks with `bytes` of dynamic shared memory. Above
// 48 KB a kernel must opt in (cudaFuncSetAttribute), once per device and kernel: the attribute
// belongs to the device's context, and one process may drive several GPUs.
template <class T>
Status launch(CudaContext& ctx, void (*kernel)(Args<T>), const Args<T>& a, int64_t rows,
              size_t bytes) {
  static std::mutex mu;
  static std::set<std::pair<int, const void*>> opted;
  int dev = 0;
  TSR_CUDA_RETURN_IF_ERROR(cudaGetDevice(&dev));
  {
    std::lock_guard<std::mutex> lock(mu);
    if (opted.insert({dev, reinterpret_cast<const void*>(kernel)}).second) {
      const cudaError_t e = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
      if (e != cudaSuccess) opted.erase({dev, reinterpret_cast<const void*>(kernel)});
      TSR_RETURN_IF_ERROR(cuda_status(e, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)"));
    }
  }
  const int64_t blocks = a.n * ((rows + kB - 1) / kB);
  if (blocks > 0x7fffffff) return Unimplemented("flash attention with more than 2^31 blocks");
  if (blocks == 0) return Status::Ok();
  kernel<<<static_cast<unsigned>(blocks), kThreadsPerBlock, bytes, ctx.stream>>>(a);
  TSR_CUDA_LAUNCHED();
  return Status::Ok();
}

// Calls f(T{}, width) with T the 16-bit type and width = 64 or 128 as an integral constant.
template <class F>
Status dispatch(DType dt, int64_t d, F&& f) {
  const auto by_width = [&](auto tag) {
    if (d <= 64) return f(tag, std::integral_constant<int, 64>{});
    return f(tag, std::integral_constant<int, 128>{});
  };
  if (dt == DType::kFloat16) return by_width(__half{});
  if (dt == DType::kBFloat16) return by_width(__nv_bfloat16{});
  return Unimplemented(std::string("flash attention of ") + dtype_name(dt) + " (f16, bf16)");
}

template <class T>
Args<T> make_args(const FlashShape& s, const void* q, const void* k, const void* v) {
  Args<T> a{};
  a.q = static_cast<const T*>(q), a.k = static_cast<const T*>(k), a.v = static_cast<const T*>(v);
  a.n = s.n, a.sq = s.sq, a.sk = s.sk, a.d = static_cast<int>(s.d);
  a.scale = s.scale, a.causal = s.causal, a.mask = s.mask;
  return a;
}

std::atomic<int> g_mode{-1};  // a FlashMode; -1: the environment not read yet
std::atomic<uint64_t> g_calls{0};

}  // namespace

bool flash_attention_fits(DType dt, int64_t d, int64_t dv) {
  return (dt == DType::kFloat16 || dt == DType::kBFloat16) && d == dv && d > 0 && d <= 128 &&
         d % 16 == 0;
}

bool flash_attention_smem_fits(int64_t d, bool backward) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> optin[kMaxDevices];  // bytes + 1; 0: not read yet
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  int have = dev >= 0 && dev < kMaxDevices ? optin[dev].load() - 1 : -1;
  if (have < 0) {
    if (cudaDeviceGetAttribute(&have, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev) != cudaSuccess)
      return false;
    if (dev >= 0 && dev < kMaxDevices) optin[dev].store(have + 1);
  }
  // f16 and bf16 tiles have the same size.
  using S64 = Smem<__half, 64>;
  using S128 = Smem<__half, 128>;
  const size_t need =
      d <= 64 ? (backward ? std::max({S64::kFwd, S64::kDq, S64::kDkdv}) : S64::kFwd)
              : (backward ? std::max({S128::kFwd, S128::kDq, S128::kDkdv}) : S128::kFwd);
  return need <= static_cast<size_t>(have);
}

FlashMode flash_attention_mode() {
  int e = g_mode.load();
  if (e < 0) {
    const char* v = std::getenv("TESSERA_ATTENTION_KERNEL");
    const FlashMode want = !v                             ? FlashMode::kAuto
                           : std::strcmp(v, "gemm") == 0  ? FlashMode::kGemm
                           : std::strcmp(v, "flash") == 0 ? FlashMode::kFlash
                                                          : FlashMode::kAuto;
    g_mode.compare_exchange_strong(e, static_cast<int>(want));  // a concurrent setter wins
    e = g_mode.load();
  }
  return static_cast<FlashMode>(e);
}

void set_flash_attention_mode(FlashMode m) { g_mode.store(static_cast<int>(m)); }

bool flash_attention_enabled() { return flash_attention_mode() != FlashMode::kGemm; }

bool flash_attention_preferred(bool backward, bool masked) {
  switch (flash_attention_mode()) {
    case FlashMode::kGemm:
      return false;
    case FlashMode::kFlash:
      return true;
    default:
      return !backward && !masked;
  }
}

void set_flash_attention_enabled(bool on) {
  set_flash_attention_mode(on ? FlashMode::kFlash : FlashMode::kGemm);
}

uint64_t flash_attention_calls() { return g_calls.load(); }

Status flash_attention_forward(CudaContext& ctx, DType dt, const FlashShape& s, const void* q,
                               const void* k, const void* v, void* y) {
  ++g_calls;
  return dispatch(dt, s.d, [&](auto tag, auto width) {
    using T = decltype(tag);
    constexpr int kW = decltype(width)::value;
    Args<T> a = make_args<T>(s, q, k, v);
    a.o = static_cast<T*>(y);
    return launch(ctx, flash_fwd_kernel<T, kW>, a, s.sq, Smem<T, kW>::kFwd);
  });
}

Status flash_attention_backward(CudaContext& ctx, DType dt, const FlashShape& s, const void* q,
                                const void* k, const void* v, const void* dy, void* dq, void* dk,
                                void* dv, float* lse, float* drow) {
  ++g_calls;
  return dispatch(dt, s.d, [&](auto tag, auto width) {
    using T = decltype(tag);
    constexpr int kW = decltype(width)::value;
    using S = Smem<T, kW>;
    Args<T> a = make_args<T>(s, q, k, v);
    a.dy = static_cast<const T*>(dy);
    a.dq = static_cast<T*>(dq), a.dk = static_cast<T*>(dk), a.dv = static_cast<T*>(dv);
    a.lse = lse, a.drow = drow;
    TSR_RETURN_IF_ERROR(launch(ctx, flash_fwd_kernel<T, kW>, a, s.sq, S::kFwd));  // statistics
    TSR_RETURN_IF_ERROR(launch(ctx, flash_dq_kernel<T, kW>, a, s.sq, S::kDq));
    return launch(ctx, flash_dkdv_kernel<T, kW>, a, s.sk, S::kDkdv);
  });
}

}  // namespace tessera::kernels::cuda
