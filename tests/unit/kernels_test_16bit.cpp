// 16-bit float operands (bf16, f16) on the CPU kernels: run_cpu_kernel widens them to f32,
// runs the f32 kernel and rounds 16-bit outputs once (round to nearest even; f16 overflow is
// inf, which fp16 loss scaling detects). Expected bits are worked out by hand below.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

Tensor bits16(DType dt, const Shape& s, const std::vector<uint16_t>& v) {
  Tensor t = zeros(dt, s);
  std::memcpy(t.buf.data(), v.data(), v.size() * 2);
  return t;
}

uint16_t get16(const Tensor& t, int64_t i) { return t.as<uint16_t>()[i]; }

TEST(SixteenBit, MatMulComputesInF32AndRoundsOnce) {
  // A = [[1, 2^-8], [1, 3 * 2^-9]] (bf16 0x3F80, 0x3B80, 0x3BC0), B = [[1], [1]].
  // Row 0: 1 + 2^-8, a tie between 1 and 1 + 2^-7: even -> 1 (0x3F80).
  // Row 1: 1 + 3 * 2^-9 -> 1 + 2^-7 (0x3F81). Rounding each product or partial sum to bf16
  // before adding would give the same here; the next test tells accumulation apart.
  Tensor a = bits16(DType::kBFloat16, {2, 2}, {0x3F80, 0x3B80, 0x3F80, 0x3BC0});
  Tensor b = bits16(DType::kBFloat16, {2, 1}, {0x3F80, 0x3F80});
  Tensor y = zeros(DType::kBFloat16, {2, 1});
  ASSERT_TRUE(run("MatMul", {}, {&a, &b}, {&y}).ok());
  EXPECT_EQ(get16(y, 0), 0x3F80);
  EXPECT_EQ(get16(y, 1), 0x3F81);
}

TEST(SixteenBit, ReduceSumAccumulatesInF32) {
  // 1 followed by 256 times 2^-8: the exact sum is 2 (0x4000). A bf16 accumulator would stay
  // at 1 (1 + 2^-8 rounds back to 1 every time).
  std::vector<uint16_t> v(257, 0x3B80);
  v[0] = 0x3F80;
  Tensor x = bits16(DType::kBFloat16, {257}, v);
  Tensor y = zeros(DType::kBFloat16, {});
  ASSERT_TRUE(
      run("ReduceSum", {{"axes", Attr::Ints({0})}, {"keepdims", Attr::Int(0)}}, {&x}, {&y}).ok());
  EXPECT_EQ(get16(y, 0), 0x4000);
}

TEST(SixteenBit, HalfOverflowIsInfinity) {
  // 300 * 300 = 90000 > 65504: +inf (0x7C00); 200 * 200 = 40000 rounds to 40000 (0x78E2).
  Tensor x = bits16(DType::kFloat16, {2}, {0x5CB0, 0x5A40});  // 300, 200
  Tensor y = zeros(DType::kFloat16, {2});
  ASSERT_TRUE(run("Mul", {}, {&x, &x}, {&y}).ok());
  EXPECT_EQ(get16(y, 0), 0x7C00);
  EXPECT_EQ(get16(y, 1), 0x78E2);
}

TEST(SixteenBit, NonFloatOperandsPassThrough) {
  // Gather's int64 indices and Where's bool condition are not converted.
  Tensor table = bits16(DType::kBFloat16, {3}, {0x3F80, 0x4000, 0x4040});  // 1, 2, 3
  Tensor idx = i64({2}, {2, 0});
  Tensor g = zeros(DType::kBFloat16, {2});
  ASSERT_TRUE(run("Gather", {{"axis", Attr::Int(0)}}, {&table, &idx}, {&g}).ok());
  EXPECT_EQ(get16(g, 0), 0x4040);
  EXPECT_EQ(get16(g, 1), 0x3F80);
  Tensor c = boolean({3}, {1, 0, 1});
  Tensor z = bits16(DType::kBFloat16, {3}, {0, 0, 0});
  Tensor w = zeros(DType::kBFloat16, {3});
  ASSERT_TRUE(run("Where", {}, {&c, &table, &z}, {&w}).ok());
  EXPECT_EQ(get16(w, 0), 0x3F80);
  EXPECT_EQ(get16(w, 1), 0x0000);
  EXPECT_EQ(get16(w, 2), 0x4040);
}

}  // namespace
}  // namespace tessera::kernels::testing
