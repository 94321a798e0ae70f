// FusedAttentionGrad on the CPU: against the float64 analytic unfused backward and against
// central finite differences of the float64 forward kernel; chunked against unchunked; fully
// masked rows; 16-bit storage; and the operand checks of both attention kernels.
#include <cmath>
#include <cstdio>
#include <limits>

#include "tests/unit/kernels_attention_ref.h"

namespace tessera::kernels::testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::vector<AttnCase> grad_cases() {
  return {
      attn_case("rank3", {2, 5, 4}, {2, 5, 4}, {2, 5, 4}),
      attn_case("rank4 Sq!=Sk D!=Dv", {2, 3, 5, 4}, {2, 3, 7, 4}, {2, 3, 7, 6}),
      attn_case("causal", {2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 3}, 1),
      attn_case("causal Sq>Sk", {1, 2, 7, 3}, {1, 2, 4, 3}, {1, 2, 4, 2}, 1),
      masked_case("mask [B,1,1,Sk]", {2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 4}, {2, 1, 1, 6}),
      masked_case("mask [Sq,Sk]", {2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 2}, {5, 6}),
      masked_case("mask [1,1,Sq,Sk] causal", {2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 4}, {1, 1, 6, 6},
                  1),
      masked_case("rank3 mask [B,1,Sk] causal", {3, 5, 2}, {3, 5, 2}, {3, 5, 3}, {3, 1, 5}, 1),
  };
}

double grad_err(const AttnGrads& got, const AttnGrads& want) {
  return std::max({rel_err(got.dq, want.dq), rel_err(got.dk, want.dk), rel_err(got.dv, want.dv)});
}

TEST(AttentionGradKernel, MatchesFloat64AnalyticBackward) {
  double worst32 = 0, worst64 = 0;
  uint32_t seed = 100;
  for (AttnCase c : grad_cases())
    for (int64_t chunk : {0, 1, 3}) {
      c.chunk = chunk;
      const AttnData a = make_attn_data(c, seed += 10);
      const AttnGrads want = ref_attention_grad(a);
      const double e32 = grad_err(run_attention_grad(a, DType::kFloat32, DType::kFloat32), want);
      const double e64 = grad_err(run_attention_grad(a, DType::kFloat64, DType::kFloat64), want);
      EXPECT_LE(e32, 1e-5) << c.name << " chunk " << chunk;
      EXPECT_LE(e64, 1e-12) << c.name << " chunk " << chunk;
      worst32 = std::max(worst32, e32);
      worst64 = std::max(worst64, e64);
    }
  std::printf("grad max error vs float64 analytic: f32 %.3g, f64 %.3g\n", worst32, worst64);
}

// d/dx of L = sum(y·dy) by central differences (h = 1e-5) of the f64 forward kernel; both the
// kernel's f64 gradient and the reference's are checked against it (the reference's own check).
TEST(AttentionGradKernel, MatchesFiniteDifferencesOfForward) {
  double worst = 0;
  for (AttnCase c : grad_cases()) {
    c.chunk = 2;
    const AttnData a = make_attn_data(c, 42);
    auto loss = [&](const AttnData& x) {
      const std::vector<double> y = run_attention(x, DType::kFloat64, DType::kFloat64);
      double l = 0;
      for (size_t i = 0; i < y.size(); ++i) l += y[i] * x.dy[i];
      return l;
    };
    AttnGrads fd;
    for (int w = 0; w < 3; ++w) {
      std::vector<double> AttnData::*m = w == 0   ? &AttnData::q
                                         : w == 1 ? &AttnData::k
                                                  : &AttnData::v;
      std::vector<double>& out = w == 0 ? fd.dq : w == 1 ? fd.dk : fd.dv;
      for (size_t i = 0; i < (a.*m).size(); ++i) {
        AttnData p = a, n = a;
        (p.*m)[i] += 1e-5;
        (n.*m)[i] -= 1e-5;
        out.push_back((loss(p) - loss(n)) / 2e-5);
      }
    }
    const double ek = grad_err(run_attention_grad(a, DType::kFloat64, DType::kFloat64), fd);
    const double er = grad_err(ref_attention_grad(a), fd);
    EXPECT_LE(ek, 1e-8) << c.name;
    EXPECT_LE(er, 1e-8) << c.name << " (reference)";
    worst = std::max({worst, ek, er});
  }
  std::printf("grad max error vs central differences (f64): %.3g\n", worst);
}

TEST(AttentionGradKernel, ChunksEqualWholeRows) {
  for (AttnCase c : grad_cases()) {
    const AttnData a = make_attn_data(c, 9);
    const AttnGrads whole = run_attention_grad(a, DType::kFloat32, DType::kFloat32);
    for (int64_t chunk : {1, 2, 3}) {
      AttnData b = a;
      b.c.chunk = chunk;
      EXPECT_LE(grad_err(run_attention_grad(b, DType::kFloat32, DType::kFloat32), whole), 1e-6)
          << c.name << " chunk " << chunk;
    }
  }
}

// A query row with every key at -inf: zero dq row, no share in dk and dv, no NaN anywhere.
TEST(AttentionGradKernel, FullyMaskedRowHasZeroGradient) {
  AttnData a = make_attn_data(grad_cases()[5], 12);  // mask [Sq=5, Sk=6]
  for (int64_t j = 0; j < 6; ++j) a.mask[2 * 6 + j] = -kInf;
  for (int64_t chunk : {0, 1, 3}) {
    a.c.chunk = chunk;
    const AttnGrads g = run_attention_grad(a, DType::kFloat32, DType::kFloat32);
    EXPECT_LE(grad_err(g, ref_attention_grad(a)), 1e-5) << "chunk " << chunk;
    for (int64_t h = 0; h < 6; ++h)  // [2,3] heads, Sq 5, D 4
      for (int64_t e = 0; e < 4; ++e) EXPECT_EQ(g.dq[(h * 5 + 2) * 4 + e], 0.0);
    for (const auto* v : {&g.dq, &g.dk, &g.dv})
      for (double x : *v) EXPECT_FALSE(std::isnan(x));
  }
  // The masked row's dy must not matter.
  AttnData b = a;
  for (int64_t h = 0; h < 6; ++h)
    for (int64_t e = 0; e < 2; ++e) b.dy[(h * 5 + 2) * 2 + e] += 10.0;
  EXPECT_EQ(grad_err(run_attention_grad(b, DType::kFloat32, DType::kFloat32),
                     run_attention_grad(a, DType::kFloat32, DType::kFloat32)),
            0.0);
}

TEST(AttentionGradKernel, SixteenBitStorage) {
  const std::pair<DType, double> kinds[] = {{DType::kBFloat16, 3e-2}, {DType::kFloat16, 5e-3}};
  for (auto [dt, tol] : kinds) {
    double worst = 0;
    for (AttnCase c : grad_cases()) {
      c.chunk = 3;
      AttnData a = make_attn_data(c, 13);
      for (auto* v : {&a.q, &a.k, &a.v, &a.dy})
        *v = float_values(make_float(dt, {int64_t(v->size())}, *v));
      const double e = grad_err(run_attention_grad(a, dt, DType::kFloat32), ref_attention_grad(a));
      EXPECT_LE(e, tol) << c.name << " " << dtype_name(dt);
      worst = std::max(worst, e);
    }
    std::printf("grad %s max error: %.3g\n", dtype_name(dt), worst);
  }
}

// One bad operand per case; the error names it.
TEST(AttentionKernel, RejectsBadOperands) {
  const AttrMap ok = {{"scale", Attr::Float(0.5)}};
  const Tensor q = rand_f32({2, 3, 4}, 1), k = rand_f32({2, 5, 4}, 2), v = rand_f32({2, 5, 6}, 3);
  const Tensor y = zeros(DType::kFloat32, {2, 3, 6}), ws = zeros(DType::kFloat32, {2, 3, 5});
  const Tensor k64 = rand_f64({2, 5, 4}, 2), kb = rand_f32({3, 5, 4}, 2),
               kd = rand_f32({2, 5, 3}, 2);
  const Tensor m_bad = rand_f32({4, 5}, 4), m_int = i64({5}, {0, 0, 0, 0, 0});
  const Tensor ws_bad = zeros(DType::kFloat32, {2, 2, 5}), y64 = zeros(DType::kFloat64, {2, 3, 6});
  struct Bad {
    const char* want;
    AttrMap attrs;
    std::vector<const Tensor*> in;
    std::vector<const Tensor*> out;
  };
  const std::vector<Bad> bad = {
      {"k: dtype", ok, {&q, &k64, &v}, {&y, &ws}},
      {"leading dims", ok, {&q, &kb, &v}, {&y, &ws}},
      {"head size", ok, {&q, &kd, &v}, {&y, &ws}},
      {"does not broadcast", ok, {&q, &k, &v, &m_bad}, {&y, &ws}},
      {"mask", ok, {&q, &k, &v, &m_int}, {&y, &ws}},
      {"missing attribute 'scale'", {}, {&q, &k, &v}, {&y, &ws}},
      {"causal", {{"scale", Attr::Float(1)}, {"causal", Attr::Int(2)}}, {&q, &k, &v}, {&y, &ws}},
      {"chunk", {{"scale", Attr::Float(1)}, {"chunk", Attr::Int(-1)}}, {&q, &k, &v}, {&y, &ws}},
      {"ws shape", ok, {&q, &k, &v}, {&y, &ws_bad}},
      {"y has dtype", ok, {&q, &k, &v}, {&y64, &ws}},
  };
  for (const Bad& b : bad) {
    std::vector<Tensor> outs;
    for (const Tensor* t : b.out) outs.push_back(*t);
    const Status s = run("FusedAttention", b.attrs, b.in, {&outs[0], &outs[1]});
    EXPECT_FALSE(s.ok()) << b.want;
    EXPECT_NE(s.message().find(b.want), std::string::npos) << s.message();
  }
  // The gradient: dy of the wrong shape; a bf16 q with an f16 k (refused before widening).
  Tensor dq = zeros(DType::kFloat32, {2, 3, 4}), dk = zeros(DType::kFloat32, {2, 5, 4}),
         dv = zeros(DType::kFloat32, {2, 5, 6}), w1 = ws, w2 = ws;
  const Tensor dy_bad = zeros(DType::kFloat32, {2, 3, 5});
  Status s = run("FusedAttentionGrad", ok, {&q, &k, &v, &dy_bad}, {&dq, &dk, &dv, &w1, &w2});
  EXPECT_NE(s.message().find("dy shape"), std::string::npos) << s.message();
  const Tensor qh = zeros(DType::kBFloat16, {2, 3, 4}), kh = zeros(DType::kFloat16, {2, 5, 4});
  Tensor yh = zeros(DType::kBFloat16, {2, 3, 6}), wsh = zeros(DType::kBFloat16, {2, 3, 5});
  s = run("FusedAttention", ok, {&qh, &kh, &v}, {&yh, &wsh});
  EXPECT_NE(s.message().find("k: dtype"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tessera::kernels::testing
