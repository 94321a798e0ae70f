// Flash attention (the FlashAttention-2 algorithm on mma.sync.m16n8k16 tensor-core tiles) for
// FusedAttention and FusedAttentionGrad on f16/bf16 (flash_attention.cu), dispatched to by
// attention.cpp when it applies. Internal to kernels/cuda (the tests and the benchmark use the
// switch and the counter below).
//
// Forward: per block of 64 query rows, an online softmax over blocks of 64 keys, scores and
// probabilities in registers; nothing of size Sq x Sk is ever in memory. Backward: the forward
// once more for the row statistics (log-sum-exp and D = rowsum(dy∘y), f32), then a dk/dv pass
// (per key block, over query blocks) and a separate dq pass (per query block, over key blocks):
// no atomics, so the gradients are deterministic, at the cost of computing q·kᵀ and dy·vᵀ once
// more.
#pragma once
#include "cuda/attention.h"

namespace tessera::kernels::cuda {

// One call's problem: n batch-heads of q [Sq, D], k [Sk, D], v [Sk, D], row-major, 16-byte
// aligned: dense [n, S, D] (heads = 1), or under layout bshd [n/H, S, H, D] (heads = H: batch-head
// b is batch b / H, head b % H, rows H·D elements apart). y, dy, dq like q; dk, dv like k.
struct FlashShape {
  int64_t n = 0, sq = 0, sk = 0, d = 0;
  int64_t heads = 1;
  float scale = 1.f;
  bool causal = false;
  AttnMask mask;
};

// The kernels take f16 and bf16 with Dv == D, D a multiple of 16 in [16, 128].
bool flash_attention_fits(DType dt, int64_t d, int64_t dv);

// Whether the current device lets one block have the dynamic shared memory the kernels need
// at head size d (forward 45.5 KB, 85.5 KB at D > 64; backward 55 KB, 85.5 KB at D > 64: within
// compute capability 8.6/8.9's 99 KB). Read once per device; false on any CUDA error.
bool flash_attention_smem_fits(int64_t d, bool backward);

// Which path FusedAttention(Grad) takes where the flash kernels apply. TESSERA_ATTENTION_KERNEL
// (read once per process): gemm | flash (wherever they apply) | auto (default): today the same
// as gemm. The mma.sync kernels are expected to beat the cuBLASLt GEMM path everywhere, but they
// have not yet run on a GPU (session 5 got no device machine after they were written): auto
// turns to flash once benchmarks/cuda/full_check.sh (attntest, attn) shows them correct and
// faster. flash_attention_preferred's arguments let auto differ per call.
enum class FlashMode { kGemm = 0, kFlash = 1, kAuto = 2 };
FlashMode flash_attention_mode();
void set_flash_attention_mode(FlashMode m);
// The mode's answer for one call (backward: FusedAttentionGrad; masked: an additive mask).
bool flash_attention_preferred(bool backward, bool masked);
// False only in mode gemm. Tests and benchmarks: set_flash_attention_enabled(true) forces flash
// wherever it applies, (false) the GEMM path everywhere.
bool flash_attention_enabled();
void set_flash_attention_enabled(bool on);
// Number of FusedAttention(Grad) calls the flash kernels ran (tests check the dispatch).
uint64_t flash_attention_calls();

// y = softmax(scale·q·kᵀ + mask, causal)·v; rows with every key masked give 0.
Status flash_attention_forward(CudaContext& ctx, DType dt, const FlashShape& s, const void* q,
                               const void* k, const void* v, void* y);

// dq, dk, dv of the forward for dy. lse and drow: scratch of n·Sq floats each (the caller's
// arena: the op's ws outputs), 16-byte aligned.
Status flash_attention_backward(CudaContext& ctx, DType dt, const FlashShape& s, const void* q,
                                const void* k, const void* v, const void* dy, void* dq, void* dk,
                                void* dv, float* lse, float* drow);

}  // namespace tessera::kernels::cuda
