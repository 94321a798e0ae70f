// Float64 unfused attention for the CUDA attention tests (cuda_attention_test.cpp), one
// batch-head at a time: S = scale·q·kᵀ + mask, causal (key j > query i masked), P = softmax,
// y = P·v (0 for a row with every key masked), and the analytic backward dP = dy·vᵀ,
// dS = P∘(dP − rowsum(P∘dP)), dq = scale·dS·k, dk = scale·dSᵀ·q, dv = Pᵀ·dy.
// Independent of the CPU kernels on purpose (they are written in parallel).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/cpu/kernel_util.h"

namespace tessera::kernels::attn_test {

// A host tensor as the kernel sees it: its bytes in `dt` and the same (rounded) values in f64.
struct HostT {
  DType dt = DType::kUndefined;
  Shape shape;
  std::vector<uint8_t> bytes;
  std::vector<double> v;
};

// vals rounded to dt (f32, f16, bf16 or f64), nearest even.
HostT make_host(DType dt, const Shape& s, const std::vector<float>& vals);
// Elements of a buffer of dt as f64.
std::vector<double> to_double(DType dt, const std::vector<uint8_t>& bytes);

struct AttnShape {
  Shape lead;  // leading (batch, head) dims; n = their product
  int64_t sq = 0, sk = 0, d = 0, dv = 0;
  double scale = 1.0;
  bool causal = false;
};

// Batch-head b's results, row-major: y [Sq,Dv], dq [Sq,D], dk [Sk,D], dv [Sk,Dv] (the grads
// only when dy is given); dead[i] when every key of query row i is masked.
struct AttnRef {
  std::vector<double> y, dq, dk, dv;
  std::vector<bool> dead;
};

AttnRef attention_ref(const AttnShape& p, const HostT& q, const HostT& k, const HostT& v,
                      const HostT* mask, const HostT* dy, int64_t b);

}  // namespace tessera::kernels::attn_test
