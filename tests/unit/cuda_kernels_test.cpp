// Differential kernel tests: one table of op cases, each run through the CPU reference kernel
// and the CUDA kernel on the same (randomly drawn, per-dtype rounded) inputs. f16/bf16 cases
// compare against the CPU kernel in f32 on the rounded inputs. Outputs are poisoned before the
// CUDA run, so an unwritten element shows up as a huge error or NaN. Needs a GPU; skips without.
#include <cublasLt.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/cpu/kernel_util.h"
#include "kernels/cuda/cuda_kernels.h"

namespace tessera::kernels {
namespace {

// kTies: values in {-1, -0.5, 0, 0.5, 1} (exact in every dtype), so pooling windows hold equal
// maxima and the first-maximum rule is exercised. kLabel: int64 in [0, index_max).
enum class Gen { kNormal, kPositive, kIndex, kBool, kTies, kLabel };
struct In {
  Shape shape;
  Gen gen = Gen::kNormal;
  int64_t index_max = 0;  // kIndex: values in [-index_max, index_max)
  bool f32 = false;       // f32 whatever the case's dtype (mixed-dtype forms' weights, softmax)
};
struct Case {
  const char* name;
  const char* op;
  AttrMap attrs;
  std::vector<In> ins;
  std::vector<Shape> outs;
  bool halves = true;              // also run in f16 and bf16
  std::vector<int> f32_outs = {};  // outputs that stay f32 (mixed-dtype forms)
  bool pads16 = false;             // GEMM: f16/bf16 take the row-padded path (gemm.cpp)
};
// A case of a mixed-dtype form (docs/ops.md): some operands f32 beside the 16-bit ones. Its f32
// run would repeat the plain case, so it runs in f16 and bf16 only.
bool mixed(const Case& c) {
  if (!c.f32_outs.empty()) return true;
  for (const In& in : c.ins)
    if (in.f32) return true;
  return false;
}
In f32_in(Shape s, Gen g = Gen::kNormal) { return In{std::move(s), g, 0, true}; }

AttrMap A(std::initializer_list<std::pair<const std::string, Attr>> l) { return AttrMap(l); }
Attr I(int64_t v) { return Attr::Int(v); }
Attr Is(std::vector<int64_t> v) { return Attr::Ints(std::move(v)); }
Attr F(double v) { return Attr::Float(v); }
Attr S(const char* v) { return Attr::Str(v); }

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"add_bcast", "Add", {}, {{{2, 3, 4}}, {{4}}}, {{2, 3, 4}}},
      {"sub_bcast2", "Sub", {}, {{{2, 1, 4}}, {{3, 1}}}, {{2, 3, 4}}},
      {"mul_same", "Mul", {}, {{{2, 3, 40}}, {{2, 3, 40}}}, {{2, 3, 40}}},
      {"div_row", "Div", {}, {{{4, 5}}, {{1, 5}, Gen::kPositive}}, {{4, 5}}},
      {"pow_scalar", "Pow", {}, {{{3, 4}, Gen::kPositive}, {{}, Gen::kPositive}}, {{3, 4}}},
      {"max", "Max", {}, {{{3, 4}}, {{3, 4}}}, {{3, 4}}},
      // 16-byte vector paths: inner dims that are multiples of 8 (f16/bf16) and 4 (f32).
      {"add_bias_vec", "Add", {}, {{{4, 64}}, {{64}}}, {{4, 64}}},
      {"add_mask_vec", "Add", {}, {{{2, 3, 4, 16}}, {{2, 1, 4, 16}}}, {{2, 3, 4, 16}}},
      {"mul_scalar_vec", "Mul", {}, {{{2, 3, 64}}, {{}}}, {{2, 3, 64}}},
      {"sub_col_vec", "Sub", {}, {{{5, 1}}, {{5, 32}}}, {{5, 32}}},
      {"erf_vec", "Erf", {}, {{{4, 128}}}, {{4, 128}}},
      {"erf", "Erf", {}, {{{100}}}, {{100}}},
      {"tanh", "Tanh", {}, {{{100}}}, {{100}}},
      {"relu", "Relu", {}, {{{100}}}, {{100}}},
      {"sigmoid", "Sigmoid", {}, {{{100}}}, {{100}}},
      {"exp", "Exp", {}, {{{100}}}, {{100}}},
      {"sqrt", "Sqrt", {}, {{{100}, Gen::kPositive}}, {{100}}},
      {"log", "Log", {}, {{{100}, Gen::kPositive}}, {{100}}},
      {"gelu", "Gelu", {}, {{{100}}}, {{100}}},
      {"gelu_tanh", "Gelu", A({{"approximate", S("tanh")}}), {{{100}}}, {{100}}},
      {"leaky_relu", "LeakyRelu", A({{"alpha", F(0.2)}}), {{{100}}}, {{100}}},
      {"softmax_last", "Softmax", A({{"axis", I(-1)}}), {{{4, 333}}}, {{4, 333}}},
      {"softmax_rows512", "Softmax", A({{"axis", I(-1)}}), {{{2, 3, 40, 512}}}, {{2, 3, 40, 512}}},
      {"softmax_wide", "Softmax", A({{"axis", I(-1)}}), {{{3, 1500}}}, {{3, 1500}}},
      {"softmax_mid", "Softmax", A({{"axis", I(1)}}), {{{2, 5, 3}}}, {{2, 5, 3}}},
      {"log_softmax", "LogSoftmax", A({{"axis", I(-1)}}), {{{4, 33}}}, {{4, 33}}},
      {"layernorm",
       "LayerNormalization",
       A({{"axis", I(-1)}, {"epsilon", F(1e-5)}}),
       {{{6, 64}}, {{64}}, {{64}}},
       {{6, 64}}},
      {"layernorm_2d",
       "LayerNormalization",
       A({{"axis", I(1)}}),
       {{{2, 3, 40}}, {{3, 40}}},
       {{2, 3, 40}}},
      {"matmul_fold", "MatMul", {}, {{{2, 3, 8, 16}}, {{16, 12}}}, {{2, 3, 8, 12}}},
      {"matmul_batched", "MatMul", {}, {{{2, 4, 8, 16}}, {{2, 4, 16, 8}}}, {{2, 4, 8, 8}}},
      {"matmul_bcast_a", "MatMul", {}, {{{8, 16}}, {{3, 16, 4}}}, {{3, 8, 4}}},
      {"matmul_vec", "MatMul", {}, {{{16}}, {{16, 5}}}, {{5}}},
      {"gemm_bias_tb", "Gemm", A({{"transB", I(1)}}), {{{7, 32}}, {{24, 32}}, {{24}}}, {{7, 24}}},
      {"gemm_ta_c",
       "Gemm",
       A({{"transA", I(1)}, {"alpha", F(2.0)}, {"beta", F(0.5)}}),
       {{{32, 7}}, {{32, 24}}, {{7, 24}}},
       {{7, 24}}},
      // Rows not 16-byte aligned (1001 columns) in GEMMs large enough (>= 1 GFLOP, >= 256
      // FLOPs per copied byte) that f16/bf16 copy the misaligned operands into row-padded
      // scratch (gemm.cpp pad_plan; f32 stays below the bar and runs unpadded): C padded under
      // the bias epilogue, C padded with beta != 0 (C copied in and out), A padded transposed.
      {"gemm_pad_c_bias",
       "Gemm",
       A({{"transB", I(1)}}),
       {{{784, 640}}, {{1001, 640}}, {{1001}}},
       {{784, 1001}},
       true,
       {},
       true},
      {"gemm_pad_c_beta",
       "Gemm",
       A({{"transB", I(1)}, {"alpha", F(2.0)}, {"beta", F(0.5)}}),
       {{{784, 640}}, {{1001, 640}}, {{784, 1001}}},
       {{784, 1001}},
       true,
       {},
       true},
      {"gemm_pad_ta",
       "Gemm",
       A({{"transA", I(1)}}),
       {{{784, 1001}}, {{784, 640}}},
       {{1001, 640}},
       true,
       {},
       true},
      {"transpose", "Transpose", A({{"perm", Is({0, 2, 1, 3})}}), {{{2, 3, 4, 5}}}, {{2, 4, 3, 5}}},
      // Rows contiguous on both sides: the copy widens to 16-, 8- or 4-byte elements (copy.cu).
      {"transpose_heads",
       "Transpose",
       A({{"perm", Is({0, 2, 1, 3})}}),
       {{{2, 16, 3, 64}}},
       {{2, 3, 16, 64}}},
      {"transpose_rows12", "Transpose", A({{"perm", Is({1, 0, 2})}}), {{{5, 3, 12}}}, {{3, 5, 12}}},
      {"transpose_rows6", "Transpose", A({{"perm", Is({1, 0, 2})}}), {{{5, 3, 6}}}, {{3, 5, 6}}},
      {"concat_rows", "Concat", A({{"axis", I(1)}}), {{{2, 3, 8}}, {{2, 5, 8}}}, {{2, 8, 8}}},
      {"slice_rows",
       "Slice",
       A({{"starts", Is({1})}, {"ends", Is({7})}, {"axes", Is({1})}}),
       {{{3, 8, 12}}},
       {{3, 6, 12}}},
      {"reshape", "Reshape", {}, {{{2, 3, 4}}}, {{6, 4}}},
      {"gather_rows",
       "Gather",
       A({{"axis", I(0)}}),
       {{{10, 8}}, {{2, 3}, Gen::kIndex, 10}},
       {{2, 3, 8}}},
      {"gather_axis1",
       "Gather",
       A({{"axis", I(1)}}),
       {{{3, 10, 4}}, {{5}, Gen::kIndex, 10}},
       {{3, 5, 4}}},
      {"split", "Split", A({{"axis", I(1)}, {"split", Is({2, 4})}}), {{{4, 6}}}, {{4, 2}, {4, 4}}},
      {"concat", "Concat", A({{"axis", I(1)}}), {{{2, 3, 4}}, {{2, 5, 4}}}, {{2, 8, 4}}},
      {"slice_step",
       "Slice",
       A({{"starts", Is({1})}, {"ends", Is({7})}, {"axes", Is({1})}, {"steps", Is({2})}}),
       {{{3, 8}}},
       {{3, 3}}},
      {"expand", "Expand", {}, {{{3, 1}}}, {{2, 3, 4}}},
      {"reduce_sum",
       "ReduceSum",
       A({{"axes", Is({1})}, {"keepdims", I(1)}}),
       {{{3, 4, 5}}},
       {{3, 1, 5}}},
      {"reduce_mean",
       "ReduceMean",
       A({{"axes", Is({0, 2})}, {"keepdims", I(0)}}),
       {{{3, 4, 5}}},
       {{4}}},
      {"reduce_max",
       "ReduceMax",
       A({{"axes", Is({2})}, {"keepdims", I(0)}}),
       {{{3, 4, 5}}},
       {{3, 4}}},
      {"conv_pad",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"pads", Is({1, 1, 1, 1})}, {"strides", Is({1, 1})}}),
       {{{1, 3, 8, 8}}, {{4, 3, 3, 3}}, {{4}}},
       {{1, 4, 8, 8}}},
      {"conv_group_stride",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})}, {"group", I(2)}}),
       {{{2, 4, 9, 9}}, {{6, 2, 3, 3}}},
       {{2, 6, 4, 4}}},
      // Convolutions: cuDNN when it takes the problem, else (and with TESSERA_CUDNN=0) the
      // direct kernels. resnet's shapes in small: 1x1, 3x3 s1/s2 p1, 7x7 s2 p3, plus grouped
      // and dilated, with and without bias.
      {"conv_1x1",
       "Conv",
       A({{"kernel_shape", Is({1, 1})}}),
       {{{2, 16, 8, 8}}, {{32, 16, 1, 1}}},
       {{2, 32, 8, 8}}},
      {"conv_3x3_bias",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"pads", Is({1, 1, 1, 1})}}),
       {{{2, 8, 10, 10}}, {{16, 8, 3, 3}}, {{16}}},
       {{2, 16, 10, 10}}},
      {"conv_3x3_s2",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})}, {"pads", Is({1, 1, 1, 1})}}),
       {{{2, 8, 10, 10}}, {{16, 8, 3, 3}}},
       {{2, 16, 5, 5}}},
      {"conv_7x7_s2",
       "Conv",
       A({{"kernel_shape", Is({7, 7})}, {"strides", Is({2, 2})}, {"pads", Is({3, 3, 3, 3})}}),
       {{{2, 3, 16, 16}}, {{8, 3, 7, 7}}},
       {{2, 8, 8, 8}}},
      {"conv_grouped_bias",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"pads", Is({1, 1, 1, 1})}, {"group", I(4)}}),
       {{{2, 8, 6, 6}}, {{8, 2, 3, 3}}, {{8}}},
       {{2, 8, 6, 6}}},
      {"conv_dilated",
       "Conv",
       A({{"kernel_shape", Is({3, 3})}, {"pads", Is({2, 2, 2, 2})}, {"dilations", Is({2, 2})}}),
       {{{1, 4, 10, 10}}, {{6, 4, 3, 3}}},
       {{1, 6, 10, 10}}},
      // ConvTranspose as autodiff emits it for Conv's input gradient (grad_conv): the forward's
      // window attributes plus output_padding for what its floor dropped.
      {"convT_3x3_s2_op1",
       "ConvTranspose",
       A({{"kernel_shape", Is({3, 3})},
          {"strides", Is({2, 2})},
          {"pads", Is({1, 1, 1, 1})},
          {"output_padding", Is({1, 1})}}),
       {{{2, 16, 5, 5}}, {{16, 8, 3, 3}}},
       {{2, 8, 10, 10}}},
      {"convT_3x3_s2_op0",
       "ConvTranspose",
       A({{"kernel_shape", Is({3, 3})},
          {"strides", Is({2, 2})},
          {"pads", Is({1, 1, 1, 1})},
          {"output_padding", Is({0, 0})}}),
       {{{2, 16, 5, 5}}, {{16, 8, 3, 3}}},
       {{2, 8, 9, 9}}},
      {"convT_7x7_s2_op1",
       "ConvTranspose",
       A({{"kernel_shape", Is({7, 7})},
          {"strides", Is({2, 2})},
          {"pads", Is({3, 3, 3, 3})},
          {"output_padding", Is({1, 1})}}),
       {{{2, 8, 8, 8}}, {{8, 3, 7, 7}}},
       {{2, 3, 16, 16}}},
      {"convT_1x1_s2_op1",
       "ConvTranspose",
       A({{"kernel_shape", Is({1, 1})}, {"strides", Is({2, 2})}, {"output_padding", Is({1, 1})}}),
       {{{2, 16, 4, 4}}, {{16, 8, 1, 1}}},
       {{2, 8, 8, 8}}},
      {"convT_grouped",
       "ConvTranspose",
       A({{"kernel_shape", Is({3, 3})}, {"pads", Is({1, 1, 1, 1})}, {"group", I(4)}}),
       {{{2, 8, 6, 6}}, {{8, 2, 3, 3}}},
       {{2, 8, 6, 6}}},
      // output_padding 1 with stride 1 (dilation 2): no conv gives this size back, so cuDNN is
      // not asked and the direct kernel runs (with bias).
      {"convT_direct_bias",
       "ConvTranspose",
       A({{"kernel_shape", Is({3, 3})}, {"dilations", Is({2, 2})}, {"output_padding", Is({1, 1})}}),
       {{{1, 4, 6, 6}}, {{4, 3, 3, 3}}, {{3}}},
       {{1, 3, 11, 11}}},
      {"convgw_3x3_s2",
       "ConvGradWeight",
       A({{"kernel_shape", Is({3, 3})},
          {"strides", Is({2, 2})},
          {"pads", Is({1, 1, 1, 1})},
          {"w_shape", Is({16, 8, 3, 3})}}),
       {{{2, 16, 5, 5}}, {{2, 8, 10, 10}}},
       {{16, 8, 3, 3}}},
      {"convgw_7x7_s2",
       "ConvGradWeight",
       A({{"kernel_shape", Is({7, 7})},
          {"strides", Is({2, 2})},
          {"pads", Is({3, 3, 3, 3})},
          {"w_shape", Is({8, 3, 7, 7})}}),
       {{{2, 8, 8, 8}}, {{2, 3, 16, 16}}},
       {{8, 3, 7, 7}}},
      {"convgw_1x1_s2",
       "ConvGradWeight",
       A({{"kernel_shape", Is({1, 1})}, {"strides", Is({2, 2})}, {"w_shape", Is({16, 8, 1, 1})}}),
       {{{2, 16, 4, 4}}, {{2, 8, 8, 8}}},
       {{16, 8, 1, 1}}},
      {"convgw_grouped",
       "ConvGradWeight",
       A({{"kernel_shape", Is({3, 3})},
          {"pads", Is({1, 1, 1, 1})},
          {"group", I(4)},
          {"w_shape", Is({8, 2, 3, 3})}}),
       {{{2, 8, 6, 6}}, {{2, 8, 6, 6}}},
       {{8, 2, 3, 3}}},
      {"convgw_dilated",
       "ConvGradWeight",
       A({{"kernel_shape", Is({3, 3})},
          {"pads", Is({2, 2, 2, 2})},
          {"dilations", Is({2, 2})},
          {"w_shape", Is({6, 4, 3, 3})}}),
       {{{1, 6, 10, 10}}, {{1, 4, 10, 10}}},
       {{6, 4, 3, 3}}},
      // resnet's stem pool; kTies puts equal maxima in most windows (first one wins).
      {"maxpool_grad_ties",
       "MaxPoolGrad",
       A({{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})}, {"pads", Is({1, 1, 1, 1})}}),
       {{{2, 3, 4, 4}}, {{2, 3, 8, 8}, Gen::kTies}},
       {{2, 3, 8, 8}}},
      {"maxpool_grad_odd",
       "MaxPoolGrad",
       A({{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})}, {"pads", Is({1, 1, 1, 1})}}),
       {{{2, 4, 5, 5}}, {{2, 4, 9, 9}}},
       {{2, 4, 9, 9}}},
      {"maxpool",
       "MaxPool",
       A({{"kernel_shape", Is({3, 3})}, {"strides", Is({2, 2})}, {"pads", Is({1, 1, 1, 1})}}),
       {{{2, 3, 8, 8}}},
       {{2, 3, 4, 4}}},
      {"global_avg_pool", "GlobalAveragePool", {}, {{{2, 3, 5, 5}}}, {{2, 3, 1, 1}}},
      // Mixed-dtype forms (what passes/fold_casts.cpp makes of bf16/fp16 training): 16-bit
      // activations read and written around f32 compute, f32 scale/bias, statistics, loss and
      // softmax. 768 columns: gpt2's row width, several elements per thread.
      {"layernorm_mixed_x16_y16",
       "LayerNormalization",
       A({{"axis", I(-1)}, {"epsilon", F(1e-5)}}),
       {{{6, 768}}, f32_in({768}), f32_in({768})},
       {{6, 768}}},
      {"layernorm_mixed_x16_y32",
       "LayerNormalization",
       A({{"axis", I(-1)}, {"epsilon", F(1e-5)}}),
       {{{2, 3, 64}}, f32_in({64}), f32_in({64})},
       {{2, 3, 64}},
       true,
       {0}},
      {"layernorm_mixed_x32_y16",
       "LayerNormalization",
       A({{"axis", I(-1)}, {"epsilon", F(1e-5)}}),
       {f32_in({2, 3, 64}), f32_in({64}), f32_in({64})},
       {{2, 3, 64}}},
      {"ln_grad_mixed",
       "LayerNormalizationGrad",
       A({{"axis", I(1)}, {"epsilon", F(1e-5)}}),
       {{{300, 96}}, {{300, 96}}, f32_in({96}, Gen::kPositive)},
       {{300, 96}, {96}, {96}},
       true,
       {1, 2}},
      {"ln_grad_mixed_dy32_dx32",
       "LayerNormalizationGrad",
       A({{"axis", I(2)}, {"epsilon", F(1e-5)}}),
       {f32_in({2, 5, 48}), {{2, 5, 48}}, f32_in({48}, Gen::kPositive)},
       {{2, 5, 48}, {48}, {48}},
       true,
       {0, 1, 2}},
      {"sce_loss_mixed",
       "SoftmaxCrossEntropyLoss",
       A({{"rows", I(12)}}),
       {{{6, 1000}}, {{6}, Gen::kLabel, 1000}},
       {{}, {6, 1000}},
       true,
       {0, 1}},
      {"sce_grad_mixed",
       "SoftmaxCrossEntropyGrad",
       A({{"rows", I(6)}}),
       {f32_in({}, Gen::kPositive), f32_in({6, 1000}, Gen::kPositive), {{6}, Gen::kLabel, 1000}},
       {{6, 1000}}},
      // The fused BatchNorm training ops with 16-bit x, dy, y, dx beside f32 sums and
      // parameters (what autocast leaves in a bf16 resnet). count 64 keeps the variance well
      // away from 0: E[x^2] = sumsq/64 >= 0.0078 against mean^2 = (sum/64)^2 ~ 2.4e-4.
      {"bn_stats_x16", "BatchNormStats", {}, {{{5, 6, 7, 9}}}, {{6}, {6}}, true, {0, 1}},
      {"bn_apply_x16",
       "BatchNormApply",
       A({{"count", F(64)}, {"epsilon", F(1e-5)}}),
       {{{3, 6, 5, 4}},
        f32_in({6}),
        f32_in({6}, Gen::kPositive),
        f32_in({6}, Gen::kPositive),
        f32_in({6})},
       {{3, 6, 5, 4}}},
      {"bn_grad_stats_x16",
       "BatchNormGradStats",
       A({{"count", F(64)}, {"epsilon", F(1e-5)}}),
       {{{3, 6, 5, 4}}, {{3, 6, 5, 4}}, f32_in({6}), f32_in({6}, Gen::kPositive)},
       {{6}, {6}},
       true,
       {0, 1}},
      {"bn_grad_input_x16",
       "BatchNormGradInput",
       A({{"count", F(64)}, {"epsilon", F(1e-5)}}),
       {{{3, 6, 5, 4}},
        {{3, 6, 5, 4}},
        f32_in({6}),
        f32_in({6}, Gen::kPositive),
        f32_in({6}, Gen::kPositive),
        f32_in({6}),
        f32_in({6})},
       {{3, 6, 5, 4}}},
      {"where_bcast", "Where", {}, {{{2, 1, 4}, Gen::kBool}, {{3, 1}}, {{2, 3, 4}}}, {{2, 3, 4}}},
      {"where_scalars", "Where", {}, {{{2, 1, 4, 4}, Gen::kBool}, {{}}, {{}}}, {{2, 1, 4, 4}}},
      {"batchnorm",
       "BatchNormalization",
       A({{"epsilon", F(1e-5)}}),
       {{{2, 3, 4, 4}}, {{3}}, {{3}}, {{3}}, {{3}, Gen::kPositive}},
       {{2, 3, 4, 4}}},
  };
  return c;
}

// Rounds v to what dtype dt can hold, so the CPU reference sees exactly the GPU's inputs.
float round_to(DType dt, float v) {
  if (dt == DType::kFloat16) return cpu::half_bits_to_float(cpu::float_to_half_bits(v));
  if (dt == DType::kBFloat16) return cpu::bf16_bits_to_float(cpu::float_to_bf16_bits(v));
  return v;
}
void store(DType dt, const std::vector<float>& v, std::vector<uint8_t>* bytes) {
  bytes->resize(v.size() * dtype_size(dt));
  for (size_t i = 0; i < v.size(); ++i) {
    if (dt == DType::kFloat32) {
      std::memcpy(bytes->data() + 4 * i, &v[i], 4);
    } else {
      const uint16_t h =
          dt == DType::kFloat16 ? cpu::float_to_half_bits(v[i]) : cpu::float_to_bf16_bits(v[i]);
      std::memcpy(bytes->data() + 2 * i, &h, 2);
    }
  }
}
float load(DType dt, const uint8_t* p, size_t i) {
  if (dt == DType::kFloat32) {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return dt == DType::kFloat16 ? cpu::half_bits_to_float(h) : cpu::bf16_bits_to_float(h);
}

// ‖gpu − ref‖ / ‖ref‖ bounds (METHOD.md): f32 stays exact-ish (TF32 off), halves round inputs
// and outputs, and f32 accumulation keeps the rest small.
double tolerance(DType dt) {
  return dt == DType::kFloat32 ? 2e-5 : (dt == DType::kFloat16 ? 3e-3 : 2e-2);
}

class CudaKernels : public ::testing::TestWithParam<std::tuple<int, DType>> {
 protected:
  static void SetUpTestSuite() {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) return;
    have_gpu_ = true;
    ASSERT_EQ(cudaStreamCreate(&ctx_.stream), cudaSuccess);
    ASSERT_EQ(cublasLtCreate(&ctx_.lt), CUBLAS_STATUS_SUCCESS);
    ctx_.workspace_bytes = 32 << 20;
    ASSERT_EQ(cudaMalloc(&ctx_.workspace, ctx_.workspace_bytes), cudaSuccess);
    // Per-row statistics of SoftmaxCrossEntropyLoss and LayerNormalizationGrad (the session
    // sizes this; without it those kernels refuse to run), and the row-padded GEMM operands.
    ctx_.i32_scratch_bytes = 1 << 20;
    ASSERT_EQ(cudaMalloc(&ctx_.i32_scratch, ctx_.i32_scratch_bytes), cudaSuccess);
    ctx_.pad_scratch_bytes = 16 << 20;
    ASSERT_EQ(cudaMalloc(&ctx_.pad_scratch, ctx_.pad_scratch_bytes), cudaSuccess);
  }
  // cuDNN's handle and plans go while the CUDA runtime is still up (not at static destruction).
  static void TearDownTestSuite() {
    ctx_.cudnn.reset();
    if (ctx_.i32_scratch) cudaFree(ctx_.i32_scratch);
    if (ctx_.pad_scratch) cudaFree(ctx_.pad_scratch);
    ctx_.i32_scratch = ctx_.pad_scratch = nullptr;
    ctx_.i32_scratch_bytes = ctx_.pad_scratch_bytes = 0;
  }
  static inline bool have_gpu_ = false;
  static inline cuda::CudaContext ctx_;
};

TEST(CudaKernelTable, SortedAndCoveredByCpu) {
  const auto& t = cuda::cuda_kernel_table();
  for (size_t i = 1; i < t.size(); ++i) EXPECT_LT(std::string(t[i - 1].op), std::string(t[i].op));
  // Every CUDA op has a CPU reference (the differential tests need one).
  for (const auto& e : t) EXPECT_NE(find_cpu_kernel(e.op), nullptr) << e.op;
}

TEST_P(CudaKernels, MatchesCpuReference) {
  if (!have_gpu_) GTEST_SKIP() << "no GPU";
  const Case& c = cases()[std::get<0>(GetParam())];
  const DType dt = std::get<1>(GetParam());
  if (dt != DType::kFloat32 && !c.halves) GTEST_SKIP();
  if (dt == DType::kFloat32 && mixed(c)) GTEST_SKIP() << "mixed-dtype form: f16/bf16 only";
  SCOPED_TRACE(std::string(c.name) + " " + dtype_name(dt));
  std::mt19937 rng(1234 + std::get<0>(GetParam()));
  std::normal_distribution<float> normal(0.f, 1.f);
  std::uniform_real_distribution<float> pos(0.5f, 2.f);

  std::vector<std::vector<float>> ref_in(c.ins.size());
  std::vector<std::vector<uint8_t>> host_in(c.ins.size()), ref_bytes(c.ins.size());
  std::vector<TensorRef> cpu_in, gpu_in;
  std::vector<void*> dev;
  for (size_t i = 0; i < c.ins.size(); ++i) {
    const In& in = c.ins[i];
    const int64_t n = num_elements(in.shape);
    if (in.gen == Gen::kBool) {
      host_in[i].resize(static_cast<size_t>(n));
      for (auto& v : host_in[i]) v = static_cast<uint8_t>(rng() & 1u);
      ref_bytes[i] = host_in[i];
      cpu_in.push_back({DType::kBool, in.shape, ref_bytes[i].data()});
      gpu_in.push_back({DType::kBool, in.shape, nullptr});
    } else if (in.gen == Gen::kIndex || in.gen == Gen::kLabel) {
      std::vector<int64_t> idx(static_cast<size_t>(n));
      std::uniform_int_distribution<int64_t> u(in.gen == Gen::kLabel ? 0 : -in.index_max,
                                               in.index_max - 1);
      for (auto& v : idx) v = u(rng);
      host_in[i].resize(idx.size() * 8);
      std::memcpy(host_in[i].data(), idx.data(), host_in[i].size());
      ref_bytes[i] = host_in[i];
      cpu_in.push_back({DType::kInt64, in.shape, ref_bytes[i].data()});
      gpu_in.push_back({DType::kInt64, in.shape, nullptr});
    } else {
      const DType idt = in.f32 ? DType::kFloat32 : dt;
      ref_in[i].resize(static_cast<size_t>(n));
      for (auto& v : ref_in[i]) {
        if (in.gen == Gen::kTies)
          v = 0.5f * static_cast<float>(static_cast<int>(rng() % 5u) - 2);
        else
          v = round_to(idt, in.gen == Gen::kPositive ? pos(rng) : normal(rng));
      }
      store(idt, ref_in[i], &host_in[i]);
      store(DType::kFloat32, ref_in[i], &ref_bytes[i]);
      cpu_in.push_back({DType::kFloat32, in.shape, ref_bytes[i].data()});
      gpu_in.push_back({idt, in.shape, nullptr});
    }
    void* d = nullptr;
    ASSERT_EQ(cudaMalloc(&d, host_in[i].size() + 16), cudaSuccess);
    ASSERT_EQ(cudaMemcpy(d, host_in[i].data(), host_in[i].size(), cudaMemcpyHostToDevice),
              cudaSuccess);
    gpu_in.back().data = d;
    dev.push_back(d);
  }
  std::vector<std::vector<uint8_t>> ref_out(c.outs.size());
  std::vector<TensorRef> cpu_out, gpu_out;
  std::vector<DType> odt(c.outs.size(), dt);
  for (int o : c.f32_outs) odt[static_cast<size_t>(o)] = DType::kFloat32;
  for (size_t o = 0; o < c.outs.size(); ++o) {
    const int64_t n = num_elements(c.outs[o]);
    ref_out[o].assign(static_cast<size_t>(n) * 4, 0);
    cpu_out.push_back({DType::kFloat32, c.outs[o], ref_out[o].data()});
    void* d = nullptr;
    const size_t bytes = static_cast<size_t>(n * dtype_size(odt[o]));
    ASSERT_EQ(cudaMalloc(&d, bytes + 16), cudaSuccess);
    ASSERT_EQ(cudaMemset(d, 0x7F, bytes), cudaSuccess);  // poison: huge or NaN if unwritten
    gpu_out.push_back({odt[o], c.outs[o], d});
    dev.push_back(d);
  }
  if (c.pads16 && dt != DType::kFloat32) {
    const int64_t pad = cuda::gemm_pad_scratch_bytes(c.op, c.attrs, gpu_in, gpu_out);
    EXPECT_GT(pad, 0) << "the case no longer takes the padded path";
    EXPECT_LE(pad, ctx_.pad_scratch_bytes);
  }
  Status s = run_cpu_kernel(c.op, c.attrs, cpu_in, cpu_out);
  ASSERT_TRUE(s.ok()) << "CPU reference: " << s.to_string();
  s = cuda::run_cuda_kernel(ctx_, c.op, c.attrs, gpu_in, gpu_out);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_EQ(cudaStreamSynchronize(ctx_.stream), cudaSuccess);
  for (size_t o = 0; o < c.outs.size(); ++o) {
    std::vector<uint8_t> got(static_cast<size_t>(gpu_out[o].bytes()));
    ASSERT_EQ(cudaMemcpy(got.data(), gpu_out[o].data, got.size(), cudaMemcpyDeviceToHost),
              cudaSuccess);
    double num = 0, den = 0;
    for (int64_t i = 0; i < gpu_out[o].numel(); ++i) {
      const double g = load(odt[o], got.data(), i), r = load(DType::kFloat32, ref_out[o].data(), i);
      ASSERT_FALSE(std::isnan(g)) << "output " << o << " element " << i << " is NaN";
      num += (g - r) * (g - r);
      den += r * r;
    }
    const double rel = std::sqrt(num / std::max(den, 1e-30));
    EXPECT_LT(rel, tolerance(dt)) << c.name << " output " << o << " relative error " << rel;
  }
  for (void* d : dev) cudaFree(d);
}

INSTANTIATE_TEST_SUITE_P(Table, CudaKernels,
                         ::testing::Combine(::testing::Range(0, static_cast<int>(cases().size())),
                                            ::testing::Values(DType::kFloat32, DType::kFloat16,
                                                              DType::kBFloat16)),
                         [](const auto& info) {
                           return std::string(cases()[std::get<0>(info.param)].name) + "_" +
                                  dtype_name(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace tessera::kernels
