// The mixed-dtype forms of LayerNormalization(Grad) and softmax cross-entropy (docs/ops.md,
// what passes/fold_casts.cpp makes): 16-bit activations beside f32 weights, softmax and
// statistics must give, bit for bit, what the graph they replace gives: Cast to f32, the f32
// op, Cast back to 16 bits. Each case runs both through run_cpu_kernel, for bf16 and f16.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

class Mixed : public ::testing::TestWithParam<DType> {
 protected:
  DType h() const { return GetParam(); }
  static Tensor cast(const Tensor& x, DType to) {
    return run1("Cast", {{"to", Attr::Int(static_cast<int64_t>(to))}}, {&x}, to, x.shape);
  }
  // An activation as the 16-bit graph holds it: f32 values rounded to h, in dtype `as`.
  Tensor act(const Shape& s, uint32_t seed, DType as, double lo = -2, double hi = 2) const {
    Tensor r = cast(rand_f32(s, seed, lo, hi), h());
    return as == h() ? r : cast(r, as);
  }
};

void expect_same_bits(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(got.dtype, want.dtype) << what;
  ASSERT_EQ(got.shape, want.shape) << what;
  EXPECT_EQ(0, std::memcmp(got.buf.data(), want.buf.data(), got.buf.size())) << what;
}

TEST_P(Mixed, LayerNormalizationEqualsCastComposition) {
  const Shape xs = {3, 5, 24};
  const AttrMap a = {{"axis", Attr::Int(2)}, {"epsilon", Attr::Float(1e-5)}};
  Tensor x16 = act(xs, 1, h()), x32 = cast(x16, DType::kFloat32);
  Tensor sc = rand_f32({24}, 2, 0.5, 1.5), b = rand_f32({24}, 3);
  Tensor y32 = zeros(DType::kFloat32, xs);  // the unfolded graph: Cast, f32 LN, Cast
  ASSERT_TRUE(run("LayerNormalization", a, {&x32, &sc, &b}, {&y32}).ok());
  const Tensor y16 = cast(y32, h());
  for (DType xd : {h(), DType::kFloat32})
    for (DType yd : {h(), DType::kFloat32}) {
      Tensor y = zeros(yd, xs);
      ASSERT_TRUE(run("LayerNormalization", a, {xd == h() ? &x16 : &x32, &sc, &b}, {&y}).ok());
      expect_same_bits(y, yd == h() ? y16 : y32,
                       std::string("X ") + dtype_name(xd) + " Y " + dtype_name(yd));
    }
}

TEST_P(Mixed, LayerNormalizationGradEqualsCastComposition) {
  const Shape xs = {7, 40};
  const AttrMap a = {{"axis", Attr::Int(1)}, {"epsilon", Attr::Float(1e-5)}};
  Tensor dy16 = act(xs, 4, h()), x16 = act(xs, 5, h());
  Tensor dy32 = cast(dy16, DType::kFloat32), x32 = cast(x16, DType::kFloat32);
  Tensor sc = rand_f32({40}, 6, 0.5, 1.5);
  Tensor dx32 = zeros(DType::kFloat32, xs), ds = zeros(DType::kFloat32, {40}),
         db = zeros(DType::kFloat32, {40});
  ASSERT_TRUE(run("LayerNormalizationGrad", a, {&dy32, &x32, &sc}, {&dx32, &ds, &db}).ok());
  const Tensor dx16 = cast(dx32, h());
  // Every mix the pass can make: dy and x each widened or not, dx narrowed or not.
  for (DType dyd : {h(), DType::kFloat32})
    for (DType xd : {h(), DType::kFloat32})
      for (DType dxd : {h(), DType::kFloat32}) {
        const std::string what = std::string("dy ") + dtype_name(dyd) + " x " + dtype_name(xd) +
                                 " dx " + dtype_name(dxd);
        Tensor dx = zeros(dxd, xs), ds2 = zeros(DType::kFloat32, {40}),
               db2 = zeros(DType::kFloat32, {40});
        ASSERT_TRUE(run("LayerNormalizationGrad", a,
                        {dyd == h() ? &dy16 : &dy32, xd == h() ? &x16 : &x32, &sc},
                        {&dx, &ds2, &db2})
                        .ok())
            << what;
        expect_same_bits(dx, dxd == h() ? dx16 : dx32, what + ": dx");
        expect_same_bits(ds2, ds, what + ": dscale");
        expect_same_bits(db2, db, what + ": dbias");
      }
}

TEST_P(Mixed, SoftmaxCrossEntropyEqualsCastComposition) {
  const AttrMap a = {{"rows", Attr::Int(12)}};  // this rank's 6 rows of a global 12
  Tensor l16 = act({6, 50}, 7, h(), -6, 6), l32 = cast(l16, DType::kFloat32);
  Tensor labels = i64({6}, {3, 0, 49, 49, 1, 17});
  Tensor loss = zeros(DType::kFloat32, {}), p = zeros(DType::kFloat32, {6, 50});
  ASSERT_TRUE(run("SoftmaxCrossEntropyLoss", a, {&l32, &labels}, {&loss, &p}).ok());
  Tensor loss2 = zeros(DType::kFloat32, {}), p2 = zeros(DType::kFloat32, {6, 50});
  ASSERT_TRUE(run("SoftmaxCrossEntropyLoss", a, {&l16, &labels}, {&loss2, &p2}).ok());
  expect_same_bits(loss2, loss, "loss");
  expect_same_bits(p2, p, "softmax");

  Tensor seed = f32({}, {1024.0});  // an fp16 loss scale
  Tensor d32 = zeros(DType::kFloat32, {6, 50});
  ASSERT_TRUE(run("SoftmaxCrossEntropyGrad", a, {&seed, &p, &labels}, {&d32}).ok());
  Tensor d16 = zeros(h(), {6, 50});
  ASSERT_TRUE(run("SoftmaxCrossEntropyGrad", a, {&seed, &p, &labels}, {&d16}).ok());
  expect_same_bits(d16, cast(d32, h()), "dlogits");
}

INSTANTIATE_TEST_SUITE_P(Halves, Mixed, ::testing::Values(DType::kBFloat16, DType::kFloat16),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

}  // namespace
}  // namespace tessera::kernels::testing
