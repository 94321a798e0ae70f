// Internal to the training kernels: float32/float64 dispatch. Kernels are templates on the
// element type and accumulate in double, like the forward kernels.
#pragma once
#include "cpu/kernel_util.h"
#include "cpu/train_kernels.h"

namespace tessera::kernels::cpu {

// Calls f(T{}) with T = float or double according to `t`'s dtype.
template <class F>
Status dispatch_float(const TensorRef& t, const char* what, F&& f) {
  if (t.dtype == DType::kFloat32) return f(float{});
  if (t.dtype == DType::kFloat64) return f(double{});
  return unsupported_dtype(t, what);
}

}  // namespace tessera::kernels::cpu
