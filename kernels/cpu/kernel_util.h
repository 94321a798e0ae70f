// Helpers shared by the CPU kernels (internal to kernels/cpu): argument checks, the strided
// row iterator that broadcasting, transposes, slices and reductions all run on, and the
// declarations of every kernel so that table.cpp can list them.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cpu/cpu_kernels.h"

namespace tessera::kernels::cpu {

using Ins = std::vector<TensorRef>;

// ---- argument checks; each returns InvalidArgument with a one-line message ----
Status check_arity(const Ins& in, const Ins& out, size_t min_in, size_t max_in, size_t n_out);
Status check_out_shape(const TensorRef& out, const Shape& want, const char* what = "output");
Status check_dtype(const TensorRef& t, DType want, const char* what);
Status check_same_dtype(const TensorRef& a, const TensorRef& b, const char* what);
// The operands of a mixed-dtype form (docs/ops.md: LayerNormalization(Grad), softmax
// cross-entropy): one dtype, or each f32, f16 or bf16 with at most one 16-bit kind among them.
// Absent refs are skipped; `what` names the op's operands in the message.
Status check_mixed_float(const std::vector<const TensorRef*>& ts, const char* what);
Status unsupported_dtype(const TensorRef& t, const char* what);

// Numpy multidirectional broadcast of shapes; error when incompatible.
Status broadcast_shapes(const Shape& a, const Shape& b, Shape* result);
// Element strides of `s` viewed as broadcast to `target` (0 on broadcast dims). `s` must be
// broadcast-compatible with `target` (rank <= target's rank); checked.
Status broadcast_strides(const Shape& s, const Shape& target, std::vector<int64_t>* strides);
std::vector<int64_t> contiguous_strides(const Shape& s);

// A loop nest over `shape` in row-major order with up to kMaxOps operands, each with its own
// element strides. Dims are coalesced where every operand allows it, so contiguous cases
// become one long row. The callback sees one row at a time: the operands' start offsets, their
// strides along the row and its length; inner loops stay in the caller, free of odometers.
constexpr int kMaxOps = 4;
struct RowIter {
  Shape dims;                                 // coalesced shape; rows run along dims.back()
  std::vector<std::vector<int64_t>> strides;  // per operand, per coalesced dim
  int64_t start[kMaxOps] = {0, 0, 0, 0};      // base offsets (e.g. slice start)
};
RowIter make_row_iter(const Shape& shape, const std::vector<std::vector<int64_t>>& strides);

template <class F>
void for_each_row(const RowIter& it, F&& f) {
  const int nops = static_cast<int>(it.strides.size());
  const int rank = static_cast<int>(it.dims.size());
  int64_t total = 1;
  for (int64_t d : it.dims) total *= d;
  if (total == 0) return;
  int64_t off[kMaxOps], step[kMaxOps];
  for (int k = 0; k < nops; ++k) {
    off[k] = it.start[k];
    step[k] = rank ? it.strides[k][rank - 1] : 0;
  }
  if (rank == 0) {
    f(off, step, int64_t{1});
    return;
  }
  const int64_t n = it.dims[rank - 1];
  std::vector<int64_t> idx(rank, 0);  // one allocation per call, not per row
  for (int64_t row = 0, rows = total / n; row < rows; ++row) {
    f(off, step, n);
    for (int d = rank - 2; d >= 0; --d) {  // odometer over the outer dims
      for (int k = 0; k < nops; ++k) off[k] += it.strides[k][d];
      if (++idx[d] < it.dims[d]) break;
      for (int k = 0; k < nops; ++k) off[k] -= it.strides[k][d] * it.dims[d];
      idx[d] = 0;
    }
  }
}

// Copies elements of size `es` from src (element offset `start`, element strides) into a
// contiguous dst of `shape`. Transpose, Slice, Expand and Tile are all this.
void strided_copy(const void* src, int64_t start, const std::vector<int64_t>& src_strides,
                  const Shape& shape, void* dst, int64_t es);

// Reads element i of an int32/int64 index tensor.
inline int64_t load_index(const TensorRef& t, int64_t i) {
  return t.dtype == DType::kInt32 ? t.as<const int32_t>()[i] : t.as<const int64_t>()[i];
}
Status check_index_dtype(const TensorRef& t, const char* what);

// f16 / bf16 storage types with round-to-nearest-even conversion from float.
struct Half {
  uint16_t bits;
};
struct BFloat16 {
  uint16_t bits;
};
uint16_t float_to_half_bits(float f);
float half_bits_to_float(uint16_t h);
uint16_t float_to_bf16_bits(float f);
float bf16_bits_to_float(uint16_t b);

// Float to integer with saturation (NaN -> 0): C++ leaves out-of-range conversions undefined.
template <class T>
T saturate_cast(double v) {
  if (!(v == v)) return T(0);
  if (v <= static_cast<double>(std::numeric_limits<T>::lowest()))
    return std::numeric_limits<T>::lowest();
  if (v >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(v);
}

// The f32 kernel `fn` on f32 copies of the bf16/f16 operands; 16-bit outputs rounded once at
// the end. run_cpu_kernel does this for every op but those that take 16-bit storage themselves.
Status run_widened(KernelFn fn, const AttrMap& attrs, const std::vector<TensorRef>& in,
                   const std::vector<TensorRef>& out);

// Writes `v` converted to `dt` into one element at dst (used by Pad's constant).
Status store_scalar(double v, DType dt, void* dst);

// Row-major C[M,N] = alpha * op(A)[M,K] op(B)[K,N] + beta * C, op = transpose when ta/tb.
// BLAS (cblas_sgemm/dgemm) when built with TESSERA_HAVE_CBLAS, else a loop accumulating in
// double. beta == 0 never reads C. Error when a dimension exceeds BLAS's 32-bit int.
template <class T>
Status gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
            const T* B, int64_t ldb, T beta, T* C, int64_t ldc);
// The plain loop behind gemm when there is no BLAS (exported so tests cover it either way).
template <class T>
void gemm_fallback(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);
// Sliding-window attributes of Conv, ConvTranspose and the pools, validated.
struct Window {
  int nd = 0;  // spatial rank
  Shape k;     // kernel_shape
  std::vector<int64_t> strides, dilations;
  std::vector<int64_t> pads;  // begins then ends, 2 * nd
  int64_t span(int d) const { return (k[d] - 1) * dilations[d] + 1; }
};
// `weight_k`: the kernel's spatial dims from the weight (Conv), or nullptr (pools: required attr).
Status parse_window(const AttrMap& attrs, int nd, const Shape* weight_k, Window* w);

#define TSR_DECLARE_KERNEL(name)                                      \
  Status name(const AttrMap& attrs, const std::vector<TensorRef>& in, \
              const std::vector<TensorRef>& out)

// elementwise.cpp
TSR_DECLARE_KERNEL(Add);
TSR_DECLARE_KERNEL(Sub);
TSR_DECLARE_KERNEL(Mul);
TSR_DECLARE_KERNEL(Div);
TSR_DECLARE_KERNEL(Pow);
TSR_DECLARE_KERNEL(Max);
TSR_DECLARE_KERNEL(Min);
TSR_DECLARE_KERNEL(Equal);
TSR_DECLARE_KERNEL(Less);
TSR_DECLARE_KERNEL(LessOrEqual);
TSR_DECLARE_KERNEL(Greater);
TSR_DECLARE_KERNEL(GreaterOrEqual);
TSR_DECLARE_KERNEL(And);
TSR_DECLARE_KERNEL(Or);
TSR_DECLARE_KERNEL(Where);
// unary.cpp
TSR_DECLARE_KERNEL(Sqrt);
TSR_DECLARE_KERNEL(Reciprocal);
TSR_DECLARE_KERNEL(Neg);
TSR_DECLARE_KERNEL(Abs);
TSR_DECLARE_KERNEL(Exp);
TSR_DECLARE_KERNEL(Log);
TSR_DECLARE_KERNEL(Erf);
TSR_DECLARE_KERNEL(Tanh);
TSR_DECLARE_KERNEL(Sigmoid);
TSR_DECLARE_KERNEL(Relu);
TSR_DECLARE_KERNEL(Sin);
TSR_DECLARE_KERNEL(Cos);
TSR_DECLARE_KERNEL(Not);
TSR_DECLARE_KERNEL(Identity);
TSR_DECLARE_KERNEL(IsNaN);
TSR_DECLARE_KERNEL(Floor);
TSR_DECLARE_KERNEL(Ceil);
TSR_DECLARE_KERNEL(LeakyRelu);
TSR_DECLARE_KERNEL(Gelu);
TSR_DECLARE_KERNEL(Clip);
// cast.cpp
TSR_DECLARE_KERNEL(Cast);
// linalg.cpp
TSR_DECLARE_KERNEL(MatMul);
TSR_DECLARE_KERNEL(Gemm);
// conv.cpp
TSR_DECLARE_KERNEL(Conv);
TSR_DECLARE_KERNEL(ConvTranspose);
// pool.cpp
TSR_DECLARE_KERNEL(MaxPool);
TSR_DECLARE_KERNEL(AveragePool);
TSR_DECLARE_KERNEL(GlobalAveragePool);
// nn.cpp
TSR_DECLARE_KERNEL(Softmax);
TSR_DECLARE_KERNEL(LogSoftmax);
TSR_DECLARE_KERNEL(BatchNormalization);
TSR_DECLARE_KERNEL(LayerNormalization);
TSR_DECLARE_KERNEL(GroupNormalization);
// reduce.cpp
TSR_DECLARE_KERNEL(ReduceMean);
TSR_DECLARE_KERNEL(ReduceSum);
TSR_DECLARE_KERNEL(ReduceMax);
TSR_DECLARE_KERNEL(ReduceMin);
TSR_DECLARE_KERNEL(ReduceProd);
TSR_DECLARE_KERNEL(CumSum);
// shape_ops.cpp
TSR_DECLARE_KERNEL(Reshape);
TSR_DECLARE_KERNEL(Flatten);
TSR_DECLARE_KERNEL(Squeeze);
TSR_DECLARE_KERNEL(Unsqueeze);
TSR_DECLARE_KERNEL(Transpose);
TSR_DECLARE_KERNEL(Expand);
TSR_DECLARE_KERNEL(Tile);
TSR_DECLARE_KERNEL(Concat);
TSR_DECLARE_KERNEL(Split);
TSR_DECLARE_KERNEL(Slice);
// pad.cpp
TSR_DECLARE_KERNEL(Pad);
TSR_DECLARE_KERNEL(Trilu);
// index_ops.cpp
TSR_DECLARE_KERNEL(Gather);
TSR_DECLARE_KERNEL(GatherElements);
TSR_DECLARE_KERNEL(GatherND);

#undef TSR_DECLARE_KERNEL

}  // namespace tessera::kernels::cpu
