// CUDA kernels: one function per op in canonical form (docs/ops.md), found through one explicit
// table, like the CPU kernels. TensorRef::data points to device memory; every launch goes on
// ctx.stream and nothing synchronises, so a kernel returning Ok means "enqueued", and errors
// raised by the device surface at the session's next stream poll.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/cpu/cpu_kernels.h"  // TensorRef, Status, AttrMap

typedef struct CUstream_st* cudaStream_t;
typedef struct cublasLtContext* cublasLtHandle_t;

namespace tessera::kernels::cuda {

struct CudnnState;  // cudnn_conv.cpp: the cuDNN handle and convolution plans

// Per-session device state the kernels share. Owned by the session; kernels never allocate.
struct CudaContext {
  cudaStream_t stream = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;  // cuBLASLt workspace
  int64_t workspace_bytes = 0;
  // fp32 GEMMs on tensor cores with TF32 inputs (~1e-3 relative error instead of ~1e-6).
  bool allow_tf32 = false;
  // cuBLASLt heuristic results by problem key: the heuristic query costs tens of microseconds,
  // more than a small GEMM, so it runs once per distinct problem.
  std::map<std::string, std::vector<uint8_t>> algo_cache;
  // Int32 accumulators of the int8 GEMM (QMatMulI8), reused tile after tile over M (cuBLASLt's
  // int8 kernels cannot write float). The session sizes it (kI8ScratchBytes) as part of its one
  // allocation.
  void* i32_scratch = nullptr;
  int64_t i32_scratch_bytes = 0;
  // Row-padded copies of GEMM operands whose rows are not 16-byte aligned (gemm.cpp): sized by
  // the session from gemm_pad_scratch_bytes over the plan's GEMMs; a GEMM that does not fit
  // runs unpadded.
  void* pad_scratch = nullptr;
  int64_t pad_scratch_bytes = 0;
  // cuDNN handle and execution plans per convolution problem (cudnn_conv.cpp), created by the
  // first convolution (a plan costs a heuristic query and engine finalizations, host time paid
  // once per problem; a call then only builds a variant pack). shared_ptr for
  // its type-erased deleter: this header stays free of cuDNN, and destroying the context frees
  // them. Plans use `workspace` above.
  std::shared_ptr<CudnnState> cudnn;
};

// Default size of CudaContext::i32_scratch (TESSERA_I8_TILE_MB overrides it in the session).
// 64 MiB: on the H100, 8192 tokens x 8192 channels ran fastest with 64 MiB tiles (2048 rows;
// 24 MiB tiles, L2-sized, made the GEMMs too small: benchmarks/RESULTS.md).
constexpr int64_t kI8ScratchBytes = int64_t{64} << 20;

using CudaKernelFn = Status (*)(CudaContext& ctx, const AttrMap& attrs,
                                const std::vector<TensorRef>& in,
                                const std::vector<TensorRef>& out);

struct CudaKernelEntry {
  const char* op;
  CudaKernelFn fn;
};

// The table, sorted by op name. Returns nullptr when the op has no CUDA kernel.
CudaKernelFn find_cuda_kernel(std::string_view op);
const std::vector<CudaKernelEntry>& cuda_kernel_table();

// Runs one op; wraps a kernel error with the op name. Checks the launch error.
Status run_cuda_kernel(CudaContext& ctx, std::string_view op, const AttrMap& attrs,
                       const std::vector<TensorRef>& in, const std::vector<TensorRef>& out);

// Strided device copy: dst[dst_start + i·dst_strides] = src[src_start + i·src_strides] over
// `shape`, element size `es` bytes (1, 2, 4 or 8). Transpose, Slice, Split, Concat, Expand and
// the collectives' block rearrangement are all this. Rank at most 8 after coalescing.
Status strided_copy(CudaContext& ctx, const void* src, int64_t src_start,
                    const std::vector<int64_t>& src_strides, void* dst, int64_t dst_start,
                    const std::vector<int64_t>& dst_strides, const Shape& shape, int64_t es);

// Device scratch a MatMul/Gemm with these operands wants in CudaContext::pad_scratch (0 when its
// rows are aligned, it is too small to gain, or TESSERA_GEMM_PAD=0).
int64_t gemm_pad_scratch_bytes(std::string_view op, const AttrMap& attrs,
                               const std::vector<TensorRef>& in, const std::vector<TensorRef>& out);

// Benchmarks only: n elements of dtype dt at device address `data` set to a deterministic
// hash of (seed, index) in [-scale, scale] (floats) or zero (integers, bool). Enqueued on
// ctx.stream.
Status fill_random(CudaContext& ctx, void* data, DType dt, int64_t n, uint64_t seed, float scale);

}  // namespace tessera::kernels::cuda
