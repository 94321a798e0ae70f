// 2-D convolutions through the cuDNN 9 backend (graph) C API: forward, backward data (Conv's
// input gradient, i.e. ConvTranspose) and backward filter (ConvGradWeight). A small in-house
// wrapper (no cudnn-frontend): one operation per graph, the heuristic's engine configs tried in
// order, the first that finalizes into an execution plan and fits the context's workspace kept,
// plans cached per problem in the CudaContext. Interface free of cuDNN types, so .cu files can
// include it.
#pragma once
#include <cstdint>

#include "cuda/cuda_util.h"

namespace tessera::kernels::cuda {

enum class ConvKind { kForward, kBackwardData, kBackwardFilter };

// One problem, always in the forward convolution's terms: x [N,C,H,W], w [M,C/g,KH,KW],
// y [N,M,OH,OW] (groups follow from C / w[1], the way cuDNN's backend expresses them), all
// dense NCHW. Pads are begin (pre) and end (post) per spatial dim.
struct ConvProblem {
  ConvKind kind = ConvKind::kForward;
  DType dt = DType::kFloat32;
  int64_t x[4] = {}, w[4] = {}, y[4] = {};
  int64_t pre[2] = {}, post[2] = {}, stride[2] = {1, 1}, dil[2] = {1, 1};
};

// False when TESSERA_CUDNN=0 (read once): every convolution then takes the direct kernels.
bool cudnn_enabled();

// Enqueues the problem on ctx.stream: forward writes y from (x, w), backward data writes x from
// (y, w), backward filter writes w from (x, y); alpha 1, beta 0. *ran = false (and Ok) when cuDNN
// has no engine for the problem that fits the workspace, or the dtype is not f32/f16/bf16: the
// caller then runs its direct kernel. Other cuDNN failures are errors naming the call.
Status cudnn_conv(CudaContext& ctx, const ConvProblem& p, void* x, void* w, void* y, bool* ran);

// The spatial output size a forward convolution gives (floor rule), to check that a problem
// really is the forward/backward pair cuDNN assumes.
inline int64_t conv_out_dim(int64_t in, int64_t k, int64_t pre, int64_t post, int64_t s,
                            int64_t d) {
  const int64_t span = (k - 1) * d + 1, padded = in + pre + post;
  return padded < span ? 0 : (padded - span) / s + 1;
}

}  // namespace tessera::kernels::cuda
