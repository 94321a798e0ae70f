// CPU reference kernels. One function per op in canonical form (docs/ops.md), found through
// one explicit table. Inputs and outputs are dense row-major host buffers; output shapes and
// dtypes are decided by the caller (the compiler's shape inference), and the kernel checks them.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tessera/attr.h"
#include "tessera/dtype.h"
#include "tessera/status.h"

namespace tessera::kernels {

struct TensorRef {
  DType dtype = DType::kUndefined;
  Shape shape;
  void* data = nullptr;  // nullptr with kUndefined = absent optional input
  int64_t numel() const { return num_elements(shape); }
  int64_t bytes() const { return numel() * dtype_size(dtype); }
  bool present() const { return dtype != DType::kUndefined; }
  template <class T>
  T* as() const { return static_cast<T*>(data); }
};

using KernelFn = Status (*)(const AttrMap& attrs, const std::vector<TensorRef>& in,
                            const std::vector<TensorRef>& out);

struct KernelEntry {
  const char* op;
  KernelFn fn;
};

// The table, sorted by op name. Returns nullptr when the op has no CPU kernel.
KernelFn find_cpu_kernel(std::string_view op);
// Binary search of one table sorted by op name (every kernel table is; tests check the order).
KernelFn find_in_table(const std::vector<KernelEntry>& table, std::string_view op);
const std::vector<KernelEntry>& cpu_kernel_table();

// 16-bit float storage (bf16, f16) <-> f32: exact widening; narrowing rounds to nearest even
// (f16 overflow gives inf, which mixed-precision training's loss scaling relies on).
void widen_16bit(DType t, const void* src, float* dst, int64_t n);
void narrow_16bit(DType t, const float* src, void* dst, int64_t n);

// Runs one op; wraps a kernel error with the op name. Every op but Cast computes 16-bit
// operands in f32: bf16/f16 inputs are widened into f32 temporaries, the f32 kernel runs, and
// 16-bit outputs are rounded once on store (bf16 storage with f32 compute, as cuBLASLt does).
Status run_cpu_kernel(std::string_view op, const AttrMap& attrs, const std::vector<TensorRef>& in,
                      const std::vector<TensorRef>& out);

}  // namespace tessera::kernels
