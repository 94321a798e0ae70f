// FusedAttention on the CPU against the float64 unfused reference (kernels_attention_ref.cpp):
// ranks 2-4, Sq != Sk, D != Dv, causal, masks of several broadcast shapes and dtypes, chunks of
// 1, 3 and all rows, fully masked rows, 16-bit storage, and the operand checks.
#include <cmath>
#include <cstdio>
#include <limits>

#include "kernels/cpu/attention_kernels.h"
#include "tests/unit/kernels_attention_ref.h"

namespace tessera::kernels::testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<AttnCase> cases() {
  return {
      attn_case("rank3", {2, 5, 4}, {2, 5, 4}, {2, 5, 4}),
      attn_case("rank2", {5, 4}, {6, 4}, {6, 3}),
      attn_case("rank4 Sq!=Sk D!=Dv", {2, 3, 5, 4}, {2, 3, 7, 4}, {2, 3, 7, 6}),
      attn_case("causal", {2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 3}, 1),
      attn_case("causal Sq<Sk", {1, 2, 4, 4}, {1, 2, 7, 4}, {1, 2, 7, 5}, 1),
      attn_case("causal Sq>Sk", {1, 2, 7, 3}, {1, 2, 4, 3}, {1, 2, 4, 2}, 1),
      masked_case("mask [B,1,1,Sk]", {2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 4}, {2, 1, 1, 6}),
      masked_case("mask [Sq,Sk]", {2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 2}, {5, 6}),
      masked_case("mask [1,1,Sq,Sk] causal", {2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 4}, {1, 1, 6, 6},
                  1),
      masked_case("mask [B,H,Sq,Sk]", {2, 3, 4, 4}, {2, 3, 5, 4}, {2, 3, 5, 3}, {2, 3, 4, 5}),
      masked_case("mask [1,H,1,Sk]", {2, 3, 4, 4}, {2, 3, 5, 4}, {2, 3, 5, 3}, {1, 3, 1, 5}),
      masked_case("rank3 mask [Sk]", {3, 5, 2}, {3, 4, 2}, {3, 4, 3}, {4}),
      masked_case("rank3 mask [B,1,Sk] causal", {3, 5, 2}, {3, 5, 2}, {3, 5, 3}, {3, 1, 5}, 1),
  };
}

AttnCase with_chunk(AttnCase c, int64_t chunk) {
  c.chunk = chunk;
  c.name += " chunk " + std::to_string(chunk);
  return c;
}

TEST(AttentionKernel, TableSortedAndFound) {
  const auto& t = cpu_attention_kernel_table();
  for (size_t i = 1; i < t.size(); ++i) EXPECT_LT(std::string(t[i - 1].op), std::string(t[i].op));
  EXPECT_EQ(find_cpu_kernel("FusedAttention"), &cpu::FusedAttention);
  EXPECT_EQ(find_cpu_kernel("FusedAttentionGrad"), &cpu::FusedAttentionGrad);
}

// f32 within 1e-5 of the tensor's scale, f64 within 1e-12, for chunks of all rows, 1 and 3.
TEST(AttentionKernel, ForwardMatchesFloat64Reference) {
  double worst32 = 0, worst64 = 0;
  uint32_t seed = 1;
  for (const AttnCase& base : cases())
    for (int64_t chunk : {0, 1, 3}) {
      const AttnData a = make_attn_data(with_chunk(base, chunk), seed += 10);
      const std::vector<double> want = ref_attention(a);
      const double e32 = rel_err(run_attention(a, DType::kFloat32, DType::kFloat32), want);
      const double e64 = rel_err(run_attention(a, DType::kFloat64, DType::kFloat64), want);
      EXPECT_LE(e32, 1e-5) << a.c.name;
      EXPECT_LE(e64, 1e-12) << a.c.name;
      worst32 = std::max(worst32, e32);
      worst64 = std::max(worst64, e64);
    }
  std::printf("forward max error vs float64 reference: f32 %.3g, f64 %.3g\n", worst32, worst64);
}

TEST(AttentionKernel, ChunksEqualWholeRows) {
  for (const AttnCase& base : cases()) {
    const AttnData a = make_attn_data(with_chunk(base, 0), 7);
    const std::vector<double> whole = run_attention(a, DType::kFloat32, DType::kFloat32);
    for (int64_t chunk : {1, 2, 3}) {
      AttnData b = a;
      b.c.chunk = chunk;
      EXPECT_LE(rel_err(run_attention(b, DType::kFloat32, DType::kFloat32), whole), 1e-6)
          << base.name << " chunk " << chunk;
    }
  }
}

// An f32 q with an f64, bf16 or f16 mask: the mask is read in its own dtype.
TEST(AttentionKernel, MaskInAnyFloatDtype) {
  for (DType mt : {DType::kFloat64, DType::kBFloat16, DType::kFloat16}) {
    AttnData a = make_attn_data(cases()[6], 3);
    a.mask = float_values(make_float(mt, a.c.mask, a.mask));  // what the kernel reads
    EXPECT_LE(rel_err(run_attention(a, DType::kFloat32, mt), ref_attention(a)), 1e-5)
        << dtype_name(mt);
  }
}

// Row 2 of every head sees only -inf keys (and batch 1 of the padding case has no key at all):
// y is exactly 0 there, the other rows are unaffected.
TEST(AttentionKernel, FullyMaskedRowGivesZero) {
  AttnData a = make_attn_data(cases()[7], 5);  // mask [Sq=5, Sk=6]
  for (int64_t j = 0; j < 6; ++j) a.mask[2 * 6 + j] = -kInf;
  AttnData p = make_attn_data(cases()[6], 6);  // mask [B=2,1,1,Sk=6]
  for (int64_t j = 0; j < 6; ++j) p.mask[6 + j] = -kInf;
  for (const AttnData* d : {&a, &p})
    for (int64_t chunk : {0, 1, 3}) {
      AttnData c = *d;
      c.c.chunk = chunk;
      const std::vector<double> y = run_attention(c, DType::kFloat32, DType::kFloat32);
      EXPECT_LE(rel_err(y, ref_attention(c)), 1e-5) << c.c.name << " chunk " << chunk;
      for (double x : y) EXPECT_FALSE(std::isnan(x));
    }
  const std::vector<double> y = run_attention(a, DType::kFloat32, DType::kFloat32);
  for (int64_t h = 0; h < 6; ++h)  // [2,3] heads, Sq 5, Dv 2: row 2 of each
    for (int64_t e = 0; e < 2; ++e) EXPECT_EQ(y[(h * 5 + 2) * 2 + e], 0.0);
  const std::vector<double> yp = run_attention(p, DType::kFloat32, DType::kFloat32);
  for (size_t i = yp.size() / 2; i < yp.size(); ++i) EXPECT_EQ(yp[i], 0.0);
}

// 16-bit storage, f32 compute: against the float64 reference on the rounded operands. The
// kernel rounds S, P and y to the storage type (about 2^-9 relative each for bf16, 2^-12 f16).
TEST(AttentionKernel, SixteenBitStorage) {
  const std::pair<DType, double> kinds[] = {{DType::kBFloat16, 2e-2}, {DType::kFloat16, 3e-3}};
  for (auto [dt, tol] : kinds) {
    double worst = 0;
    for (const AttnCase& base : cases()) {
      AttnData a = make_attn_data(with_chunk(base, 3), 11);
      for (auto* v : {&a.q, &a.k, &a.v})
        *v = float_values(make_float(dt, {int64_t(v->size())}, *v));
      const double e = rel_err(run_attention(a, dt, DType::kFloat32), ref_attention(a));
      EXPECT_LE(e, tol) << a.c.name << " " << dtype_name(dt);
      worst = std::max(worst, e);
    }
    std::printf("forward %s max error: %.3g\n", dtype_name(dt), worst);
  }
}

// The scratch holds the last chunk's probabilities in the 16-bit dtype: rows sum to ~1.
TEST(AttentionKernel, SixteenBitScratchHoldsProbabilities) {
  const AttnCase c = cases()[0];  // one chunk of all rows, no mask
  const AttnData a = make_attn_data(c, 2);
  const Tensor q = make_float(DType::kBFloat16, c.q, a.q),
               k = make_float(DType::kBFloat16, c.k, a.k),
               v = make_float(DType::kBFloat16, c.v, a.v);
  Tensor y = zeros(DType::kBFloat16, attn_y_shape(c)),
         ws = zeros(DType::kBFloat16, attn_ws_shape(c));
  ASSERT_TRUE(run("FusedAttention", attn_attrs(c), {&q, &k, &v}, {&y, &ws}).ok());
  const std::vector<double> p = float_values(ws);
  for (size_t r = 0; r < p.size() / 5; ++r) {
    double sum = 0;
    for (size_t j = 0; j < 5; ++j) sum += p[r * 5 + j];
    EXPECT_NEAR(sum, 1.0, 2e-2) << "row " << r;
  }
}

TEST(AttentionKernel, EmptyShapes) {
  for (const AttnCase& c :
       std::vector<AttnCase>{attn_case("Sq 0", {2, 0, 4}, {2, 3, 4}, {2, 3, 2}),
                             attn_case("Sk 0", {2, 3, 4}, {2, 0, 4}, {2, 0, 2}),
                             attn_case("D 0", {2, 3, 0}, {2, 3, 0}, {2, 3, 2})}) {
    const AttnData a = make_attn_data(c, 4);
    EXPECT_LE(rel_err(run_attention(a, DType::kFloat32, DType::kFloat32), ref_attention(a)), 1e-6)
        << c.name;
  }
}

}  // namespace
}  // namespace tessera::kernels::testing
