// Reading one element of FusedAttention's additive mask (AttnMask in attention.h: any float
// dtype, independent of q's) as f32; shared by the row kernels (attention.cu) and the flash
// kernels (flash_attention.cu). Device code only.
#pragma once
#include "cuda/attention.h"
#include "cuda/cuda_types.cuh"

namespace tessera::kernels::cuda {

__device__ __forceinline__ float mask_value(const void* m, int dt, int64_t off) {
  switch (dt) {
    case kMaskF16:
      return __half2float(static_cast<const __half*>(m)[off]);
    case kMaskBF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(m)[off]);
    case kMaskF64:
      return static_cast<float>(static_cast<const double*>(m)[off]);
    default:
      return static_cast<const float*>(m)[off];
  }
}

}  // namespace tessera::kernels::cuda
