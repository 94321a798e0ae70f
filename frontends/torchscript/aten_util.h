// Helpers shared by the aten converter files.
#pragma once
#include "frontends/torchscript/ts_import_internal.h"

namespace tessera::ts_fe {

inline Status set_tensor(StatusOr<int> id, TsVal& out) {
  if (!id.ok()) return id.status();
  out = TsVal::Tensor(*id);
  return Status::Ok();
}

// Optional arguments: absent or None.
inline bool given(const TsVal* x) { return x && x->kind != TsVal::kNone; }

Status unary_op(Importer& c, const Args& a, const char* op, TsVal& out, AttrMap attrs = {});
// Promotes both operands (tensors or numbers) and emits op.
StatusOr<int> binary_op(Importer& c, const TsVal& x, const TsVal& y, const char* op);
StatusOr<int> arg_tensor(Importer& c, const Args& a, size_t i, const char* name);
// Sorted, normalised axes of a dim argument (int or list); all axes when absent or empty.
StatusOr<std::vector<int64_t>> dims_arg(Importer& c, const TsVal* d, int rank);
// `dtype=` keyword or positional dtype code; kUndefined when absent.
StatusOr<DType> dtype_arg(Importer& c, const TsVal* d);

}  // namespace tessera::ts_fe
