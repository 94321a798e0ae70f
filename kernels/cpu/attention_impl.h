// Internal to the fused attention kernels: the checked dimensions of one call and the chunk
// loops (attention_math.cpp) that attention.cpp runs after checking the operands.
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/kernel_util.h"

namespace tessera::kernels::cpu {

// q [..,Sq,D], k [..,Sk,D], v [..,Sk,Dv]; the leading dims flattened into n batch-heads.
// Layout bshd (q [..,Sq,H,D], ...): heads = H, batch-head b = (batch b / H, head b % H), and a
// row of an operand is heads·(its last dim) elements after the previous one; bhsd: heads = 1.
struct AttnDims {
  int64_t n = 0, sq = 0, sk = 0, d = 0, dv = 0;
  int64_t heads = 1;
  bool bshd = false;
  int64_t rows = 0;  // R: query rows per chunk, the ws outputs' second-to-last dim
  double scale = 1;
  bool causal = false;
  // bf16/f16 when the operands were 16-bit: scores, probabilities, dP and dS are rounded to it
  // where the unfused 16-bit graph stores them. kUndefined: no rounding.
  DType round = DType::kUndefined;
  const TensorRef* mask = nullptr;   // absent: nullptr
  std::vector<int64_t> mask_off;     // per batch-head: the mask's element offset
  int64_t mask_rs = 0, mask_cs = 0;  // the mask's element strides along queries and keys

  // Batch-head b's first element in an operand of `s` rows of `w` elements (q: sq, d; v: sk, dv)
  // and the operand's row stride.
  int64_t off(int64_t b, int64_t s, int64_t w) const {
    return ((b / heads) * s * heads + b % heads) * w;
  }
  int64_t ld(int64_t w) const { return heads * w; }
};

// in: q, k, v[, mask]; out: y, ws. T = float or double (16-bit operands arrive widened to f32).
template <class T>
Status attention_forward(const AttnDims& d, const Ins& in, const Ins& out);
// in: q, k, v, dy[, mask]; out: dq, dk, dv, ws_p, ws_dp.
template <class T>
Status attention_backward(const AttnDims& d, const Ins& in, const Ins& out);

}  // namespace tessera::kernels::cpu
