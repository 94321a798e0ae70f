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
//
// Attribute `layout` (default "bhsd"): "bshd" stores q, k, v, y (and dy, dq, dk, dv) as
// [..,S,H,D] instead of [..,H,S,D], the layout the projections produce, so the attention-layout
// stage (passes/attention_layout.cpp) can drop the head Transposes around the op. The meaning
// is the same as the bhsd op on the transposed tensors: the scores, the mask's broadcast target
// and the ws outputs stay [..,H,Sq,Sk] / [..,H,R,Sk].
#pragma once
#include <string_view>
#include <vector>

#include "ir/op_table.h"

namespace tessera::ir {

const std::vector<OpInfo>& attention_op_table();
const OpInfo* find_attention_op(std::string_view name);

// Rows per chunk a FusedAttention(Grad) node with these attributes uses for `sq` query rows.
int64_t attention_chunk_rows(const AttrMap& attrs, int64_t sq);

// Whether the node's q, k, v, y are [..,S,H,D] (attribute layout = "bshd").
bool attention_bshd(const AttrMap& attrs);
// The sequence dim of a q/k/v/y operand of rank `rank`: rank - 3 under bshd, else rank - 2.
int attention_seq_dim(const AttrMap& attrs, size_t rank);
// The operand shape in bhsd order ([..,S,H,D] -> [..,H,S,D] under bshd; unchanged otherwise).
// Self-inverse: it also maps a bhsd shape back to the node's layout.
Shape attention_bhsd_shape(const AttrMap& attrs, Shape s);

}  // namespace tessera::ir
