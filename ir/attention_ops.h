// The fused attention ops' table (docs/ops.md, "Attention ops"): what the attention pass
// (passes/attention.cpp) emits in place of MatMul -> scale -> mask -> Softmax -> MatMul, and
// what autodiff emits for its gradient. Same OpInfo as the forward table so find_op consults it.
//
// FusedAttention(q [..,Sq,D], k [..,Sk,D], v [..,Sk,Dv], mask?) -> (y [..,Sq,Dv], ws [..,R,Sk])
//   S = scale * q.k^T + mask (additive, any float dtype, broadcastable to [..,Sq,Sk]);
//   causal = 1 masks key j for query i when j > i (top-left aligned, as ONNX Attention and
//   torch's scaled_dot_product_attention); P = softmax over keys; y = P.v. A row whose keys
//   are all masked gives y = 0.
// FusedAttentionGrad(q, k, v, dy, mask?) -> (dq, dk, dv, ws_p [..,R,Sk], ws_dp [..,R,Sk])
//   recomputes P chunk by chunk (nothing of the forward is saved but q, k, v).
//
// Both compute the query rows in chunks of R = min(chunk, Sq) rows (attribute `chunk`, 0 = all
// rows): only R x Sk scores per batch-head exist at a time, in the `ws` outputs, which are the
// kernels' scratch (q's dtype, never read by another op). Making them outputs puts the scratch
// in the arena the planner already sizes and the memory report already measures; the chunk
// pass picks `chunk` to fit the budget. Leading dims of q, k, v must be equal (no broadcast).
#pragma once
#include <string_view>
#include <vector>

#include "ir/op_table.h"

namespace tessera::ir {

const std::vector<OpInfo>& attention_op_table();
const OpInfo* find_attention_op(std::string_view name);

// Rows per chunk a FusedAttention(Grad) node with these attributes uses for `sq` query rows.
int64_t attention_chunk_rows(const AttrMap& attrs, int64_t sq);

}  // namespace tessera::ir
