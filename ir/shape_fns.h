// Internal: the per-op inference functions the op table points at. Grouped by file:
// shape_infer.cpp (elementwise), shape_infer_nn.cpp (linalg, conv, pooling, normalisation),
// shape_infer_shape.cpp (shape and indexing ops).
#pragma once
#include <fmt/format.h>

#include <initializer_list>

#include "ir/op_table.h"

namespace tessera::ir::fns {

using In = std::vector<TypeShape>;
using Out = std::vector<TypeShape>;

template <class... A>
Status fail(fmt::format_string<A...> f, A&&... a) {
  return InvalidArgument(fmt::format(f, std::forward<A>(a)...));
}
std::string shp(const Shape& s);  // "[2,16,64]"

// Mixed-dtype forms (docs/ops.md, "Mixed-dtype forms"): the dtype of the activation output(s)
// of LayerNormalization(Grad) and SoftmaxCrossEntropy{Loss,Grad}: attribute `out_dtype` when
// present, else input `driver`'s. When the activation inputs `acts` and that dtype are not all
// one dtype, each must be f32, f16 or bf16, with at most one 16-bit kind among them (what the
// `fold-casts` stage makes and what the kernels read and write).
StatusOr<DType> activation_out_dtype(const Node& n, const In& in,
                                     std::initializer_list<size_t> acts, size_t driver);

// elementwise
Status same_type_broadcast(const Node&, const In&, Out&);  // Add Sub Mul Div Max Min
Status pow(const Node&, const In&, Out&);
Status compare(const Node&, const In&, Out&);  // -> bool
Status logical(const Node&, const In&, Out&);  // bool x bool -> bool
Status where(const Node&, const In&, Out&);
Status unary(const Node&, const In&, Out&);        // any dtype
Status unary_float(const Node&, const In&, Out&);  // float dtypes only
Status not_op(const Node&, const In&, Out&);
Status is_nan(const Node&, const In&, Out&);
Status cast(const Node&, const In&, Out&);
Status softmax(const Node&, const In&, Out&);
// nn
Status matmul(const Node&, const In&, Out&);
Status gemm(const Node&, const In&, Out&);
Status conv(const Node&, const In&, Out&);
Status conv_transpose(const Node&, const In&, Out&);
Status pool(const Node&, const In&, Out&);
Status global_pool(const Node&, const In&, Out&);
Status batch_norm(const Node&, const In&, Out&);
Status layer_norm(const Node&, const In&, Out&);
Status group_norm(const Node&, const In&, Out&);
Status reduce(const Node&, const In&, Out&);
// shape and indexing
Status reshape(const Node&, const In&, Out&);
Status flatten(const Node&, const In&, Out&);
Status squeeze(const Node&, const In&, Out&);
Status unsqueeze(const Node&, const In&, Out&);
Status transpose(const Node&, const In&, Out&);
Status expand(const Node&, const In&, Out&);
Status tile(const Node&, const In&, Out&);
Status concat(const Node&, const In&, Out&);
Status split(const Node&, const In&, Out&);
Status slice(const Node&, const In&, Out&);
Status gather(const Node&, const In&, Out&);
Status gather_elements(const Node&, const In&, Out&);
Status gather_nd(const Node&, const In&, Out&);
Status pad(const Node&, const In&, Out&);
Status cumsum(const Node&, const In&, Out&);
Status trilu(const Node&, const In&, Out&);

}  // namespace tessera::ir::fns
