// The row kernels of FusedAttention and FusedAttentionGrad (attention.cu), launched by the
// orchestration in attention.cpp between its cuBLASLt GEMMs. Internal to kernels/cuda.
//
// Both work on one chunk of query rows of the scratch `ws` ([N, R, Sk] in q's dtype): rows
// [r0, r0 + rows) of every one of the N batch-heads. They compute in f32 and run in place, each
// thread rewriting only the elements it read itself, so no row is ever read after a write.
#pragma once
#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {

// The additive mask as the row kernels read it: element (b, q, j) of its broadcast view
// [N, Sq, Sk] lies at offset_of(lead, 0, b) + q * row_stride + j * col_stride (broadcast dims
// have stride 0). data == nullptr: no mask.
struct AttnMask {
  const void* data = nullptr;
  int dtype = 0;  // AttnMaskType below; any float dtype, independent of q's
  Dims lead;      // the leading (batch, head) dims, operand 0 = the mask's strides
  int64_t row_stride = 0, col_stride = 0;
};
enum AttnMaskType { kMaskF32 = 0, kMaskF16 = 1, kMaskBF16 = 2, kMaskF64 = 3 };

// One chunk of rows: row i < rows of batch-head b < n is ws[b * batch_stride + i * sk], query
// row r0 + i (what causal and the mask index by).
struct AttnRows {
  int64_t n = 0, rows = 0, r0 = 0, sk = 0, batch_stride = 0;
};

// s <- softmax over j of (s + mask), with causal masking key j > query row; s already holds
// scale·q·kᵀ (the GEMM's alpha). Rows whose every key is masked (max = -inf) become 0.
Status attn_softmax_rows(CudaContext& ctx, DType t, void* s, const AttnRows& r, const AttnMask& m,
                         bool causal);

// dp <- p ∘ (dp − Σ_j p∘dp): the gradient of the scores without the scale (which the dq and
// dk GEMMs apply as alpha). Masked keys have p = 0, so they get 0 with no mask read.
Status attn_dsoftmax_rows(CudaContext& ctx, DType t, const void* p, void* dp, const AttnRows& r);

}  // namespace tessera::kernels::cuda
