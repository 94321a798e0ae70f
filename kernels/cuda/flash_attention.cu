// Flash attention kernels (flash_attention.h): FlashAttention-2 on mma.sync.m16n8k16 tensor-core
// instructions (f16/bf16 in, f32 accumulators), inline PTX.
//
// Every kernel is a block of 4 warps over 64 rows (query rows, or keys for dk/dv), each warp
// owning 16 of them, looping over blocks of the other side that are staged in shared memory by
// cp.async, double buffered: block j + 1 loads while block j computes (one __syncthreads per
// block: after it, every warp is done with the buffer the next load overwrites). Operands come
// from shared memory through ldmatrix (.trans for the operands stored [k][n]: v, and k, q, dy in
// the gradients), tiles padded to a row stride of D + 8 elements so that the 8 rows of every
// ldmatrix phase fall in 8 different bank groups. The lane mappings, with the PTX facts they rest
// on, are in flash_layout.h (and emulated on the CPU by tests/unit/flash_layout_test.cpp).
//
// Scores stay in registers: the f32 accumulator of q·kᵀ (per warp 16 x N) is scaled, masked and
// exponentiated in place, then re-packed to 16 bits as the A operand of p·v (the FA2 register
// reuse: an accumulator's row/column ownership is the A operand's). Softmax in base 2: scores are
// taken as s·scale·log2(e) + mask·log2(e), so every exponential is one ex2.approx; the row
// statistics the backward keeps (lse) are in the same units. A row's max and sum live in the 4
// lanes of its quad (shuffles over lane bits 0 and 1); the sum stays per lane until the end.
//
// Masking happens only in the blocks that need it (warp-uniform test): the key blocks crossing
// the causal diagonal or the end of the keys, query blocks past the end of the queries (dk/dv),
// and every block when there is an additive mask. Causal runs skip the key blocks wholly above
// the diagonal. The mask is read, per key block, as one coalesced row into shared memory when it
// does not vary along the queries (row stride 0: [B,1,1,Sk] padding and [Sk] masks; the dk/dv
// pass then needs just 2 values per lane for the whole run), else element by element from global
// memory in the accumulator layout (8 rows of 8 consecutive keys per load: whole 32-byte sectors
// for f32 masks).
//
// Head size: templates kD = 64 and 128; a run-time d < kD (multiple of 16) is zero-filled up to
// kD in shared memory (cp.async's zero fill), so it costs the kD work; columns >= d are never
// written. Rows past Sq or Sk are zero-filled the same way and masked.
//
// Backward (no atomics, deterministic): the forward once more for lse and D = rowsum(dy∘y), a dq
// pass (per query block over key blocks: q·kᵀ, dy·vᵀ, ds·k) and a dk/dv pass (per key block over
// query blocks: k·qᵀ, v·dyᵀ, pᵀ·dy, dsᵀ·q), with every accumulator in registers.
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
#include "cuda/flash_layout.h"

namespace tessera::kernels::cuda {
namespace {

namespace fl = flash_layout;

constexpr int kM = 64;     // rows of a block (query rows, or keys for dk/dv)
constexpr int kWarps = 4;  // 16 rows each
constexpr int kThreads = 32 * kWarps;
constexpr float kLog2e = 1.4426950408889634f;

// Tile sizes per head-size template. Forward: blocks of kFwdN keys. dq pass: kDqN keys. dk/dv
// pass: kKvM query rows. 32 at kD = 128 keeps the gradients' accumulators (dk and dv: 128 f32
// per lane) plus two score tiles in registers.
template <int kD>
struct Cfg {
  static constexpr int kLd = kD + 8;  // shared row stride (elements): +16 bytes against conflicts
  static constexpr int kFwdN = 64;
  static constexpr int kDqN = kD <= 64 ? 64 : 32;
  static constexpr int kKvM = kD <= 64 ? 64 : 32;
  static constexpr size_t kRow = size_t{kLd} * 2;  // bytes of a 16-bit tile row
  // q; k, v double buffered; two mask rows.
  static constexpr size_t kFwd = (kM + 4 * kFwdN) * kRow + 2 * kFwdN * sizeof(float);
  // q, dy; k, v double buffered; two mask rows.
  static constexpr size_t kDq = (2 * kM + 4 * kDqN) * kRow + 2 * kDqN * sizeof(float);
  // k, v; q, dy double buffered; lse and D double buffered.
  static constexpr size_t kKv = (2 * kM + 4 * kKvM) * kRow + 4 * kKvM * sizeof(float);
  static_assert(kRow % 16 == 0, "cp.async and ldmatrix need 16-byte aligned rows");
  static_assert(kM % kKvM == 0, "causal dk/dv starts at a query block boundary");
};

// Kernel arguments (by value: the mask's Dims make it ~300 bytes).
template <class T>
struct Args {
  const T *q, *k, *v, *dy;
  T *o, *dq, *dk, *dv;  // outputs; o == nullptr: the forward writes only the statistics
  float *lse, *drow;    // per query row: log2-sum-exp2 (see the file comment), rowsum(dy∘y)
  int64_t n, sq, sk;
  int64_t heads;  // H of [..,S,H,D] operands (layout bshd); 1: dense [n,S,D]
  int d;
  float scale;
  bool causal;
  AttnMask mask;
};

// Batch-head b's first element in a q/k/v-like operand of s rows: [n,S,D] (heads 1) or
// [n/H,S,H,D] (batch b / H, head b % H); rows are row_stride(a) elements apart. lse and drow
// stay dense [n, Sq].
template <class T>
__device__ __forceinline__ int64_t head_base(const Args<T>& a, int64_t b, int64_t s) {
  return ((b / a.heads) * s * a.heads + b % a.heads) * a.d;
}
template <class T>
__device__ __forceinline__ int64_t row_stride(const Args<T>& a) {
  return a.heads * a.d;
}

// ---- PTX wrappers

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared, asynchronous; valid == false: 16 zero bytes (src not read).
__device__ __forceinline__ void cp_async16(void* s, const void* g, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(s)), "l"(g),
               "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async4(void* s, const void* g, bool valid) {
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(smem_u32(s)), "l"(g),
               "r"(valid ? 4 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() {
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
}

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(p)));
}

// d += a·b, m16n8k16, f32 accumulators (fragment layouts: flash_layout.h).
template <class T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, "
        "{%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// 2^x (ex2.approx.ftz: 2^-inf = +0, the masked scores' value).
__device__ __forceinline__ float exp2_fast(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Two floats as one register of two 16-bit elements, lo in the low half (the lower column).
template <class T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  uint32_t u;
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    memcpy(&u, &v, 4);
  } else {
    const __half2 v = __floats2half2_rn(lo, hi);
    memcpy(&u, &v, 4);
  }
  return u;
}
template <class T>
__device__ __forceinline__ float2 unpack2(uint32_t u) {
  if constexpr (std::is_same_v<T, __nv_bfloat16>) {
    __nv_bfloat162 v;
    memcpy(&v, &u, 4);
    return __bfloat1622float2(v);
  } else {
    __half2 v;
    memcpy(&v, &u, 4);
    return __half22float2(v);
  }
}

__device__ __forceinline__ float quad_max(float x) {
  x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
  return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
}
__device__ __forceinline__ float quad_sum(float x) {
  x += __shfl_xor_sync(0xffffffffu, x, 1);
  return x + __shfl_xor_sync(0xffffffffu, x, 2);
}

// ---- tiles and warp-level products

// Rows [0, kRows) of the [., d] matrix g (rows ld elements apart: d, or H·d under bshd) into a
// shared tile (row stride kD + 8) by cp.async, 16 bytes a thread; zeros for rows >= rows_left and
// columns >= d (d % 8 == 0, ld % 8 == 0 and g 16-byte aligned: the dispatch checks).
// Consecutive threads take consecutive 16-byte chunks of a row: coalesced.
template <int kRows, int kD, class T>
__device__ __forceinline__ void load_tile(T* s, const T* g, int64_t rows_left, int d, int64_t ld) {
  constexpr int kChunks = kD / 8, kLd = kD + 8;
#pragma unroll
  for (int i = threadIdx.x; i < kRows * kChunks; i += kThreads) {
    const int r = i / kChunks, c = (i % kChunks) * 8;
    const bool ok = r < rows_left && c < d;
    cp_async16(s + r * kLd + c, ok ? g + int64_t(r) * ld + c : g, ok);
  }
}

// acc[kN/8] += A·Xᵀ: A = the warp's 16 rows of a row-major shared tile (a: its first row, kK
// columns), X stored [kN][kK] in shared memory (x). A's fragments by ldmatrix per k-step.
template <class T, int kK, int kN, int kLd>
__device__ __forceinline__ void mma_nt(float (&acc)[kN / 8][4], const T* a, const T* x) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int kk = 0; kk < kK / 16; ++kk) {
    uint32_t af[4];
    ldsm_x4(af, a + fl::lda_row(lane) * kLd + kk * 16 + fl::lda_col(lane));
#pragma unroll
    for (int np = 0; np < kN / 16; ++np) {
      uint32_t bf[4];
      ldsm_x4(bf, x + (np * 16 + fl::ldbt_row(lane)) * kLd + kk * 16 + fl::ldbt_col(lane));
      mma16816<T>(acc[2 * np], af, bf[0], bf[1]);
      mma16816<T>(acc[2 * np + 1], af, bf[2], bf[3]);
    }
  }
}

// The same with A's fragments already in registers (af[k-step]).
template <class T, int kK, int kN, int kLd>
__device__ __forceinline__ void mma_nt_reg(float (&acc)[kN / 8][4],
                                           const uint32_t (&af)[kK / 16][4], const T* x) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int kk = 0; kk < kK / 16; ++kk)
#pragma unroll
    for (int np = 0; np < kN / 16; ++np) {
      uint32_t bf[4];
      ldsm_x4(bf, x + (np * 16 + fl::ldbt_row(lane)) * kLd + kk * 16 + fl::ldbt_col(lane));
      mma16816<T>(acc[2 * np], af[kk], bf[0], bf[1]);
      mma16816<T>(acc[2 * np + 1], af[kk], bf[2], bf[3]);
    }
}

// acc[kN/8] += A·X: A in registers (af[k-step], 16 x kK), X stored [kK][kN] in shared memory
// (x), through ldmatrix.trans.
template <class T, int kK, int kN, int kLd>
__device__ __forceinline__ void mma_nn(float (&acc)[kN / 8][4], const uint32_t (&af)[kK / 16][4],
                                       const T* x) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int kk = 0; kk < kK / 16; ++kk)
#pragma unroll
    for (int np = 0; np < kN / 16; ++np) {
      uint32_t bf[4];
      ldsm_x4_t(bf, x + (kk * 16 + fl::ldbn_row(lane)) * kLd + np * 16 + fl::ldbn_col(lane));
      mma16816<T>(acc[2 * np], af[kk], bf[0], bf[1]);
      mma16816<T>(acc[2 * np + 1], af[kk], bf[2], bf[3]);
    }
}

// A fragments of the warp's 16 rows (a: first row) of a shared tile, all kK/16 k-steps.
template <class T, int kK, int kLd>
__device__ __forceinline__ void load_a(uint32_t (&af)[kK / 16][4], const T* a) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int kk = 0; kk < kK / 16; ++kk)
    ldsm_x4(af[kk], a + fl::lda_row(lane) * kLd + kk * 16 + fl::lda_col(lane));
}

// The FA2 register reuse: a 16 x kN f32 accumulator as the 16-bit A operand over kN.
template <class T, int kN>
__device__ __forceinline__ void repack(uint32_t (&af)[kN / 16][4], const float (&acc)[kN / 8][4]) {
#pragma unroll
  for (int kk = 0; kk < kN / 16; ++kk)
#pragma unroll
    for (int r = 0; r < 4; ++r) {
      const float(&c)[4] = acc[fl::repack_tile(kk, r)];
      af[kk][r] = pack2<T>(c[fl::repack_elem(r)], c[fl::repack_elem(r) + 1]);
    }
}

// ---- masking

// The mask does not vary along the query rows (row stride 0): read as one row per key block.
template <class T>
__device__ __forceinline__ bool mask_is_key_row(const Args<T>& a) {
  return a.mask.data && a.mask.row_stride == 0;
}

// Key kj's mask value in log2 units for a key-row mask (-inf past the keys).
template <class T>
__device__ __forceinline__ float key_mask(const Args<T>& a, int64_t mbase, int64_t kj) {
  return kj < a.sk ? kLog2e * mask_value(a.mask.data, a.mask.dtype, mbase + kj * a.mask.col_stride)
                   : -INFINITY;
}

// Raw q·kᵀ of the warp's 16 query rows (from q0w) and kN keys (from k0) -> scores in log2 units,
// -inf where masked. mrow: the key block's mask row in shared memory (key-row masks), else
// nullptr (a general mask is read from global memory; none: a.mask.data == nullptr). Only rows
// < Sq read the mask; rows past Sq are never written.
template <class T, int kN>
__device__ __forceinline__ void edge_scores(float (&s)[kN / 8][4], const Args<T>& a, int64_t q0w,
                                            int64_t k0, const float* mrow, int64_t mbase) {
  const int lane = threadIdx.x & 31;
  const float c = a.scale * kLog2e;
#pragma unroll
  for (int j = 0; j < kN / 8; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int col = 8 * j + fl::acc_col(lane, i);
      const int64_t qi = q0w + fl::acc_row(lane, i), kj = k0 + col;
      float x = s[j][i] * c;
      if (mrow)
        x += mrow[col];
      else if (a.mask.data && qi < a.sq && kj < a.sk)
        x += kLog2e * mask_value(a.mask.data, a.mask.dtype,
                                 mbase + qi * a.mask.row_stride + kj * a.mask.col_stride);
      s[j][i] = kj >= a.sk || (a.causal && kj > qi) ? -INFINITY : x;
    }
}

// The transposed tile of the dk/dv pass: raw k·qᵀ of the warp's 16 keys (from k0w) and kN query
// rows (from q0) -> scores in log2 units, -inf where masked. key_row: mk[r] holds the mask of
// key row g + 8r (key-row masks).
template <class T, int kN>
__device__ __forceinline__ void edge_scores_t(float (&s)[kN / 8][4], const Args<T>& a, int64_t k0w,
                                              int64_t q0, bool key_row, const float (&mk)[2],
                                              int64_t mbase) {
  const int lane = threadIdx.x & 31;
  const float c = a.scale * kLog2e;
#pragma unroll
  for (int j = 0; j < kN / 8; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int64_t kj = k0w + fl::acc_row(lane, i), qi = q0 + 8 * j + fl::acc_col(lane, i);
      float x = s[j][i] * c;
      if (key_row)
        x += mk[i >> 1];
      else if (a.mask.data && qi < a.sq && kj < a.sk)
        x += kLog2e * mask_value(a.mask.data, a.mask.dtype,
                                 mbase + qi * a.mask.row_stride + kj * a.mask.col_stride);
      s[j][i] = qi >= a.sq || (a.causal && kj > qi) ? -INFINITY : x;
    }
}

template <int kN>
__device__ __forceinline__ void scale_all(float (&s)[kN / 8][4], float c) {
#pragma unroll
  for (int j = 0; j < kN / 8; ++j)
#pragma unroll
    for (int i = 0; i < 4; ++i) s[j][i] *= c;
}

// ---- scheduling

// Block -> (batch-head b, first row r0 of its 64-row tile). Tile-major, so the blocks that
// start first are every batch-head's heaviest tile under causal: the last query tiles (they see
// the most keys; heavy_last) or the first key tiles (seen by the most queries). The short ones
// then fill the tail. (All heads' k and v stay in L2 at these sizes, so the order costs no
// reuse: gpt2's 96 heads hold 24 MB.)
__device__ __forceinline__ void block_rows(int64_t n, int64_t rows, bool heavy_last, int64_t* b,
                                           int64_t* r0) {
  const int64_t nb = (rows + kM - 1) / kM, t = int64_t(blockIdx.x) / n;
  *b = int64_t(blockIdx.x) % n;
  *r0 = (heavy_last ? nb - 1 - t : t) * kM;
}

// Keys a block of query rows from q0 can see: all, or under causal up to its last row.
template <class T>
__device__ __forceinline__ int64_t key_end(const Args<T>& a, int64_t q0) {
  return a.causal ? min(a.sk, min(q0 + kM, a.sq)) : a.sk;
}

// ---- forward

// Grid n · ceil(Sq/64) blocks of 64 query rows. Writes o (if given) and the row statistics: lse
// = m + log2(l) in log2 units (+inf for a row with every key masked, so the backward's
// 2^(s - lse) is 0 there) and drow = rowsum(dy∘o) (if given; o in f32 before rounding).
template <class T, int kD>
__global__ void __launch_bounds__(kThreads) flash_fwd_kernel(Args<T> a) {
  using C = Cfg<kD>;
  constexpr int kLd = C::kLd, kN = C::kFwdN;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* ks = qs + kM * kLd;                                      // [2][kN][kLd]
  T* vs = ks + 2 * kN * kLd;                                  // [2][kN][kLd]
  float* mrow = reinterpret_cast<float*>(vs + 2 * kN * kLd);  // [2][kN]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tid = threadIdx.x;
  int64_t b, q0;
  block_rows(a.n, a.sq, true, &b, &q0);
  const int64_t q0w = q0 + warp * 16;  // the warp's first query row
  const int64_t ld = row_stride(a), qbase = head_base(a, b, a.sq);
  const T* kg = a.k + head_base(a, b, a.sk);
  const T* vg = a.v + head_base(a, b, a.sk);
  const int nkb = static_cast<int>((key_end(a, q0) + kN - 1) / kN);  // >= 1: q0 < Sq, Sk > 0
  const bool key_row = mask_is_key_row(a);
  const int64_t mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;

  load_tile<kM, kD>(qs, a.q + qbase + q0 * ld, a.sq - q0, a.d, ld);
  load_tile<kN, kD>(ks, kg, a.sk, a.d, ld);
  load_tile<kN, kD>(vs, vg, a.sk, a.d, ld);
  cp_async_commit();
  if (key_row && tid < kN) mrow[tid] = key_mask(a, mbase, tid);

  float o[kD / 8][4] = {};
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};  // rows g and g + 8 of the warp
  uint32_t qf[kD / 16][4];
  for (int kb = 0; kb < nkb; ++kb) {
    const int buf = kb & 1;
    const int64_t k0 = int64_t(kb) * kN;
    cp_async_wait_all();
    __syncthreads();  // block kb visible to all; every warp is done with block kb - 1's buffer
    const bool more = kb + 1 < nkb;
    if (more) {
      load_tile<kN, kD>(ks + (buf ^ 1) * kN * kLd, kg + (k0 + kN) * ld, a.sk - k0 - kN, a.d, ld);
      load_tile<kN, kD>(vs + (buf ^ 1) * kN * kLd, vg + (k0 + kN) * ld, a.sk - k0 - kN, a.d, ld);
      cp_async_commit();
    }
    const float mnext = key_row && more && tid < kN ? key_mask(a, mbase, k0 + kN + tid) : 0.f;
    if (kb == 0) load_a<T, kD, kLd>(qf, qs + warp * 16 * kLd);

    float s[kN / 8][4] = {};
    mma_nt_reg<T, kD, kN, kLd>(s, qf, ks + buf * kN * kLd);
    if (a.mask.data || k0 + kN > a.sk || (a.causal && k0 + kN - 1 > q0w))
      edge_scores<T, kN>(s, a, q0w, k0, key_row ? mrow + buf * kN : nullptr, mbase);
    else
      scale_all<kN>(s, a.scale * kLog2e);

    // Online softmax (base 2). While a row's every key so far is masked, its max is -inf: the
    // exponent base is then 0, so 2^(-inf - 0) = 0 instead of NaN, and alpha = 0 multiplies a
    // still-zero accumulator.
    float alpha[2], base[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = m[r];
#pragma unroll
      for (int j = 0; j < kN / 8; ++j) mx = fmaxf(mx, fmaxf(s[j][2 * r], s[j][2 * r + 1]));
      mx = quad_max(mx);
      base[r] = mx == -INFINITY ? 0.f : mx;
      alpha[r] = exp2_fast(m[r] - base[r]);
      m[r] = mx;
      l[r] *= alpha[r];
    }
#pragma unroll
    for (int j = 0; j < kN / 8; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float p = exp2_fast(s[j][i] - base[i >> 1]);
        l[i >> 1] += p;
        s[j][i] = p;
      }
#pragma unroll
    for (int j = 0; j < kD / 8; ++j) {
      o[j][0] *= alpha[0], o[j][1] *= alpha[0];
      o[j][2] *= alpha[1], o[j][3] *= alpha[1];
    }
    uint32_t pf[kN / 16][4];
    repack<T, kN>(pf, s);
    mma_nn<T, kN, kD, kLd>(o, pf, vs + buf * kN * kLd);
    if (key_row && more && tid < kN) mrow[(buf ^ 1) * kN + tid] = mnext;
  }

  const int g = fl::group_of(lane), t = fl::thread_in_group(lane);
  float inv[2], dot[2] = {0.f, 0.f};
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    l[r] = quad_sum(l[r]);
    inv[r] = l[r] > 0.f ? 1.f / l[r] : 0.f;
  }
#pragma unroll
  for (int j = 0; j < kD / 8; ++j) {
    const int col = 8 * j + 2 * t;  // d % 16 == 0: col < d implies col + 1 < d
    if (col >= a.d) break;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t qi = q0w + g + 8 * r;
      if (qi >= a.sq) continue;
      const float v0 = o[j][2 * r] * inv[r], v1 = o[j][2 * r + 1] * inv[r];
      const int64_t off = qbase + qi * ld + col;
      if (a.o) *reinterpret_cast<uint32_t*>(a.o + off) = pack2<T>(v0, v1);
      if (a.dy) {
        const float2 y = unpack2<T>(*reinterpret_cast<const uint32_t*>(a.dy + off));
        dot[r] += v0 * y.x + v1 * y.y;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    dot[r] = quad_sum(dot[r]);
    const int64_t qi = q0w + g + 8 * r;
    if (t == 0 && qi < a.sq) {
      if (a.lse) a.lse[b * a.sq + qi] = l[r] > 0.f ? m[r] + __log2f(l[r]) : INFINITY;
      if (a.drow) a.drow[b * a.sq + qi] = dot[r];
    }
  }
}

// ---- backward

// dq: grid n · ceil(Sq/64) blocks of 64 query rows, over the key blocks the rows see. Per block:
// s = q·kᵀ, dp = dy·vᵀ, p = 2^(s - lse), ds = p∘(dp - D), dq += ds·k; dq = scale · Σ, written
// once.
template <class T, int kD>
__global__ void __launch_bounds__(kThreads) flash_dq_kernel(Args<T> a) {
  using C = Cfg<kD>;
  constexpr int kLd = C::kLd, kN = C::kDqN;
  extern __shared__ __align__(128) unsigned char smem[];
  T* qs = reinterpret_cast<T*>(smem);
  T* dys = qs + kM * kLd;
  T* ks = dys + kM * kLd;                                     // [2][kN][kLd]
  T* vs = ks + 2 * kN * kLd;                                  // [2][kN][kLd]
  float* mrow = reinterpret_cast<float*>(vs + 2 * kN * kLd);  // [2][kN]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tid = threadIdx.x;
  const int g = fl::group_of(lane), t = fl::thread_in_group(lane);
  int64_t b, q0;
  block_rows(a.n, a.sq, true, &b, &q0);
  const int64_t q0w = q0 + warp * 16;
  const int64_t ld = row_stride(a), qbase = head_base(a, b, a.sq);
  const T* kg = a.k + head_base(a, b, a.sk);
  const T* vg = a.v + head_base(a, b, a.sk);
  const int nkb = static_cast<int>((key_end(a, q0) + kN - 1) / kN);
  const bool key_row = mask_is_key_row(a);
  const int64_t mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;

  load_tile<kM, kD>(qs, a.q + qbase + q0 * ld, a.sq - q0, a.d, ld);
  load_tile<kM, kD>(dys, a.dy + qbase + q0 * ld, a.sq - q0, a.d, ld);
  load_tile<kN, kD>(ks, kg, a.sk, a.d, ld);
  load_tile<kN, kD>(vs, vg, a.sk, a.d, ld);
  cp_async_commit();
  if (key_row && tid < kN) mrow[tid] = key_mask(a, mbase, tid);
  // This lane's rows g, g + 8: past Sq, lse = +inf makes p = 0.
  float lse[2], dd[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t qi = q0w + g + 8 * r;
    lse[r] = qi < a.sq ? a.lse[b * a.sq + qi] : INFINITY;
    dd[r] = qi < a.sq ? a.drow[b * a.sq + qi] : 0.f;
  }

  float dq[kD / 8][4] = {};
  for (int kb = 0; kb < nkb; ++kb) {
    const int buf = kb & 1;
    const int64_t k0 = int64_t(kb) * kN;
    cp_async_wait_all();
    __syncthreads();
    const bool more = kb + 1 < nkb;
    if (more) {
      load_tile<kN, kD>(ks + (buf ^ 1) * kN * kLd, kg + (k0 + kN) * ld, a.sk - k0 - kN, a.d, ld);
      load_tile<kN, kD>(vs + (buf ^ 1) * kN * kLd, vg + (k0 + kN) * ld, a.sk - k0 - kN, a.d, ld);
      cp_async_commit();
    }
    const float mnext = key_row && more && tid < kN ? key_mask(a, mbase, k0 + kN + tid) : 0.f;
    const T* kb_s = ks + buf * kN * kLd;
    float s[kN / 8][4] = {}, dp[kN / 8][4] = {};
    mma_nt<T, kD, kN, kLd>(s, qs + warp * 16 * kLd, kb_s);
    mma_nt<T, kD, kN, kLd>(dp, dys + warp * 16 * kLd, vs + buf * kN * kLd);
    if (a.mask.data || k0 + kN > a.sk || (a.causal && k0 + kN - 1 > q0w))
      edge_scores<T, kN>(s, a, q0w, k0, key_row ? mrow + buf * kN : nullptr, mbase);
    else
      scale_all<kN>(s, a.scale * kLog2e);
#pragma unroll
    for (int j = 0; j < kN / 8; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float p = exp2_fast(s[j][i] - lse[i >> 1]);
        s[j][i] = p * (dp[j][i] - dd[i >> 1]);
      }
    uint32_t dsf[kN / 16][4];
    repack<T, kN>(dsf, s);
    mma_nn<T, kN, kD, kLd>(dq, dsf, kb_s);
    if (key_row && more && tid < kN) mrow[(buf ^ 1) * kN + tid] = mnext;
  }

#pragma unroll
  for (int j = 0; j < kD / 8; ++j) {
    const int col = 8 * j + 2 * t;
    if (col >= a.d) break;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t qi = q0w + g + 8 * r;
      if (qi < a.sq)
        *reinterpret_cast<uint32_t*>(a.dq + qbase + qi * ld + col) =
            pack2<T>(dq[j][2 * r] * a.scale, dq[j][2 * r + 1] * a.scale);
    }
  }
}

// dk, dv: grid n · ceil(Sk/64) blocks of 64 keys (each warp 16), over the blocks of kKvM query
// rows that see them (under causal, from query row k0 on). Per block, transposed: sᵀ = k·qᵀ,
// dpᵀ = v·dyᵀ, pᵀ = 2^(sᵀ - lse), dsᵀ = pᵀ∘(dpᵀ - D), dv += pᵀ·dy, dk += dsᵀ·q; dk = scale · Σ.
// Keys that no query sees get 0.
template <class T, int kD>
__global__ void __launch_bounds__(kThreads) flash_dkdv_kernel(Args<T> a) {
  using C = Cfg<kD>;
  constexpr int kLd = C::kLd, kN = C::kKvM;
  extern __shared__ __align__(128) unsigned char smem[];
  T* ks = reinterpret_cast<T*>(smem);
  T* vs = ks + kM * kLd;
  T* qs = vs + kM * kLd;                                       // [2][kN][kLd]
  T* dys = qs + 2 * kN * kLd;                                  // [2][kN][kLd]
  float* lses = reinterpret_cast<float*>(dys + 2 * kN * kLd);  // [2][kN]
  float* dds = lses + 2 * kN;                                  // [2][kN]
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, tid = threadIdx.x;
  const int g = fl::group_of(lane), t = fl::thread_in_group(lane);
  int64_t b, k0;
  block_rows(a.n, a.sk, false, &b, &k0);
  const int64_t k0w = k0 + warp * 16;  // the warp's first key
  const int64_t ld = row_stride(a), kbase = head_base(a, b, a.sk);
  const T* qg = a.q + head_base(a, b, a.sq);
  const T* dyg = a.dy + head_base(a, b, a.sq);
  const float* lseg = a.lse + b * a.sq;
  const float* drowg = a.drow + b * a.sq;
  const int64_t qbegin = a.causal ? k0 : 0;  // a multiple of kN (Cfg's static_assert)
  const int nqb = qbegin < a.sq ? static_cast<int>((a.sq - qbegin + kN - 1) / kN) : 0;
  const bool key_row = mask_is_key_row(a);
  const int64_t mbase = a.mask.data ? offset_of(a.mask.lead, 0, b) : 0;

  // Query block q0 (rows, lse, D) into buffer buf; zeros past Sq.
  const auto load_queries = [&](int buf, int64_t q0) {
    load_tile<kN, kD>(qs + buf * kN * kLd, qg + q0 * ld, a.sq - q0, a.d, ld);
    load_tile<kN, kD>(dys + buf * kN * kLd, dyg + q0 * ld, a.sq - q0, a.d, ld);
    if (tid < kN) {
      const bool ok = q0 + tid < a.sq;
      cp_async4(lses + buf * kN + tid, ok ? lseg + q0 + tid : lseg, ok);
      cp_async4(dds + buf * kN + tid, ok ? drowg + q0 + tid : drowg, ok);
    }
  };
  if (nqb > 0) {  // else no query sees these keys: dk = dv = 0
    load_tile<kM, kD>(ks, a.k + kbase + k0 * ld, a.sk - k0, a.d, ld);
    load_tile<kM, kD>(vs, a.v + kbase + k0 * ld, a.sk - k0, a.d, ld);
    load_queries(0, qbegin);
    cp_async_commit();
  }
  // Key-row masks: the lane's two keys' values for the whole run.
  float mk[2] = {0.f, 0.f};
  if (key_row)
#pragma unroll
    for (int r = 0; r < 2; ++r) mk[r] = key_mask(a, mbase, k0w + g + 8 * r);

  float dk[kD / 8][4] = {}, dv[kD / 8][4] = {};
  for (int qb = 0; qb < nqb; ++qb) {
    const int buf = qb & 1;
    const int64_t q0 = qbegin + int64_t(qb) * kN;
    cp_async_wait_all();
    __syncthreads();
    if (qb + 1 < nqb) {
      load_queries(buf ^ 1, q0 + kN);
      cp_async_commit();
    }
    const T* q_s = qs + buf * kN * kLd;
    const T* dy_s = dys + buf * kN * kLd;
    float s[kN / 8][4] = {}, dp[kN / 8][4] = {};
    mma_nt<T, kD, kN, kLd>(s, ks + warp * 16 * kLd, q_s);
    mma_nt<T, kD, kN, kLd>(dp, vs + warp * 16 * kLd, dy_s);
    if (a.mask.data || q0 + kN > a.sq || (a.causal && k0w + 15 > q0))
      edge_scores_t<T, kN>(s, a, k0w, q0, key_row, mk, mbase);
    else
      scale_all<kN>(s, a.scale * kLog2e);
    const float* lse_s = lses + buf * kN;
    const float* dd_s = dds + buf * kN;
#pragma unroll
    for (int j = 0; j < kN / 8; ++j)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int col = 8 * j + fl::acc_col(lane, i);
        const float p = exp2_fast(s[j][i] - lse_s[col]);
        s[j][i] = p;
        dp[j][i] = p * (dp[j][i] - dd_s[col]);
      }
    uint32_t af[kN / 16][4];
    repack<T, kN>(af, s);
    mma_nn<T, kN, kD, kLd>(dv, af, dy_s);
    repack<T, kN>(af, dp);
    mma_nn<T, kN, kD, kLd>(dk, af, q_s);
  }

#pragma unroll
  for (int j = 0; j < kD / 8; ++j) {
    const int col = 8 * j + 2 * t;
    if (col >= a.d) break;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int64_t kj = k0w + g + 8 * r;
      if (kj >= a.sk) continue;
      const int64_t off = kbase + kj * ld + col;
      *reinterpret_cast<uint32_t*>(a.dk + off) =
          pack2<T>(dk[j][2 * r] * a.scale, dk[j][2 * r + 1] * a.scale);
      *reinterpret_cast<uint32_t*>(a.dv + off) = pack2<T>(dv[j][2 * r], dv[j][2 * r + 1]);
    }
  }
}

// ---- host side

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
  const int64_t blocks = a.n * ((rows + kM - 1) / kM);
  if (blocks > 0x7fffffff) return Unimplemented("flash attention with more than 2^31 blocks");
  if (blocks == 0) return Status::Ok();
  kernel<<<static_cast<unsigned>(blocks), kThreads, bytes, ctx.stream>>>(a);
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
  a.heads = s.heads > 0 ? s.heads : 1;
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
  using C64 = Cfg<64>;
  using C128 = Cfg<128>;
  const size_t need = d <= 64
                          ? (backward ? std::max({C64::kFwd, C64::kDq, C64::kKv}) : C64::kFwd)
                          : (backward ? std::max({C128::kFwd, C128::kDq, C128::kKv}) : C128::kFwd);
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

// auto and flash agree today (see flash_attention.h); the arguments let auto differ per call.
// auto takes the GEMM path until the mma.sync kernels have passed cuda_attention_test on a GPU
// (written and CPU-emulated in a session whose device calls got no machine): an unrun kernel
// must not be the default that silently computes every model's attention.
bool flash_attention_preferred(bool /*backward*/, bool /*masked*/) {
  return flash_attention_mode() == FlashMode::kFlash;
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
    return launch(ctx, flash_fwd_kernel<T, kW>, a, s.sq, Cfg<kW>::kFwd);
  });
}

Status flash_attention_backward(CudaContext& ctx, DType dt, const FlashShape& s, const void* q,
                                const void* k, const void* v, const void* dy, void* dq, void* dk,
                                void* dv, float* lse, float* drow) {
  ++g_calls;
  return dispatch(dt, s.d, [&](auto tag, auto width) {
    using T = decltype(tag);
    constexpr int kW = decltype(width)::value;
    using S = Cfg<kW>;
    Args<T> a = make_args<T>(s, q, k, v);
    a.dy = static_cast<const T*>(dy);
    a.dq = static_cast<T*>(dq), a.dk = static_cast<T*>(dk), a.dv = static_cast<T*>(dv);
    a.lse = lse, a.drow = drow;
    TSR_RETURN_IF_ERROR(launch(ctx, flash_fwd_kernel<T, kW>, a, s.sq, S::kFwd));  // statistics
    TSR_RETURN_IF_ERROR(launch(ctx, flash_dq_kernel<T, kW>, a, s.sq, S::kDq));
    return launch(ctx, flash_dkdv_kernel<T, kW>, a, s.sk, S::kKv);
  });
}

}  // namespace tessera::kernels::cuda
