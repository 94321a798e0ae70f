// cuBLASLt helpers shared by the float GEMMs (gemm.cpp) and the int8 GEMM (quant_gemm.cpp):
// status mapping, RAII for one call's descriptors, matrix layouts with strided batches.
#pragma once
#include <cublasLt.h>

#include <string>

#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {

inline Status lt_status(cublasStatus_t s, const char* what) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status::Ok();
  return Internal(std::string(what) + ": cuBLAS status " + std::to_string(static_cast<int>(s)));
}
#define TSR_LT(expr) TSR_RETURN_IF_ERROR(::tessera::kernels::cuda::lt_status((expr), #expr))

// RAII for the descriptors of one call: cheap to create (host-only structs).
struct LtDescs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t la = nullptr, lb = nullptr, lc = nullptr, ld = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  LtDescs() = default;
  LtDescs(const LtDescs&) = delete;
  LtDescs& operator=(const LtDescs&) = delete;
  ~LtDescs() {
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (ld) cublasLtMatrixLayoutDestroy(ld);
    if (lc) cublasLtMatrixLayoutDestroy(lc);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

inline Status lt_layout(cublasLtMatrixLayout_t* l, cudaDataType_t t, int64_t rows, int64_t cols,
                        int64_t ld, int64_t batch = 1, int64_t stride = 0) {
  TSR_LT(cublasLtMatrixLayoutCreate(l, t, rows, cols, ld));
  if (batch > 1) {
    const int32_t bc = static_cast<int32_t>(batch);
    TSR_LT(
        cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &bc, sizeof bc));
    TSR_LT(cublasLtMatrixLayoutSetAttribute(*l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET,
                                            &stride, sizeof stride));
  }
  return Status::Ok();
}

// The heuristic's first algorithm for (op, la, lb, lc, ld), cached in ctx.algo_cache under key:
// the query costs tens of microseconds, more than a small GEMM. The heuristic assumes 256-byte
// aligned pointers unless told otherwise: callers passing pointers into the middle of a tensor
// give the alignment (align_*, bytes; part of the key).
Status lt_algo(CudaContext& ctx, const std::string& key, LtDescs& d, cublasLtMatmulAlgo_t* algo,
               uint32_t align_a = 256, uint32_t align_b = 256, uint32_t align_c = 256);

// The largest power of two (at most 256) dividing the address.
inline uint32_t lt_alignment(const void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  uint32_t r = 256;
  while (r > 1 && a % r != 0) r /= 2;
  return r;
}

}  // namespace tessera::kernels::cuda
