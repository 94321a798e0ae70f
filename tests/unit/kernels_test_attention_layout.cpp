// FusedAttention(Grad) with layout = "bshd" (q, k, v, y, dy, dq, dk, dv stored [..,S,H,D]) on
// the CPU against the default bhsd layout run on the transposed operands: the same results,
// forward and gradient, masked, causal, chunked, f32/f64 and 16-bit; and the float64 reference.
#include <cstdio>

#include "kernels/cpu/attention_kernels.h"
#include "tests/unit/kernels_attention_ref.h"

namespace tessera::kernels::testing {
namespace {

// Swaps dims r-3 and r-2 of a row-major tensor of shape s (values and shape): [..,H,S,D] <->
// [..,S,H,D].
std::vector<double> swap_hs(const std::vector<double>& x, const Shape& s) {
  const size_t r = s.size();
  int64_t lead = 1;
  for (size_t i = 0; i + 3 < r; ++i) lead *= s[i];
  const int64_t a = s[r - 3], b = s[r - 2], w = s[r - 1];
  std::vector<double> y(x.size());
  for (int64_t l = 0; l < lead; ++l)
    for (int64_t i = 0; i < a; ++i)
      for (int64_t j = 0; j < b; ++j)
        for (int64_t e = 0; e < w; ++e)
          y[((l * b + j) * a + i) * w + e] = x[((l * a + i) * b + j) * w + e];
  return y;
}

Shape swapped(Shape s) {
  std::swap(s[s.size() - 3], s[s.size() - 2]);
  return s;
}

// The bhsd case as operands of a bshd node: shapes and values of q, k, v and dy transposed.
struct Bshd {
  AttrMap attrs;
  Tensor q, k, v, dy, mask;
  Shape y, ws;
};

Bshd to_bshd(const AttnData& a, DType dt, DType mask_dt) {
  Bshd b;
  b.attrs = attn_attrs(a.c);
  b.attrs["layout"] = Attr::Str("bshd");
  b.q = make_float(dt, swapped(a.c.q), swap_hs(a.q, a.c.q));
  b.k = make_float(dt, swapped(a.c.k), swap_hs(a.k, a.c.k));
  b.v = make_float(dt, swapped(a.c.v), swap_hs(a.v, a.c.v));
  b.y = swapped(attn_y_shape(a.c));
  b.dy = make_float(dt, b.y, swap_hs(a.dy, attn_y_shape(a.c)));
  if (a.c.has_mask) b.mask = make_float(mask_dt, a.c.mask, a.mask);
  b.ws = attn_ws_shape(a.c);  // the scratch stays [..,H,R,Sk]
  return b;
}

std::vector<double> run_bshd(const AttnData& a, DType dt, DType mask_dt) {
  Bshd b = to_bshd(a, dt, mask_dt);
  Tensor y = zeros(dt, b.y), ws = zeros(dt, b.ws);
  std::vector<const Tensor*> in = {&b.q, &b.k, &b.v};
  if (a.c.has_mask) in.push_back(&b.mask);
  const Status s = run("FusedAttention", b.attrs, in, {&y, &ws});
  EXPECT_TRUE(s.ok()) << a.c.name << ": " << s.to_string();
  return swap_hs(float_values(y), b.y);  // back to bhsd
}

AttnGrads run_bshd_grad(const AttnData& a, DType dt, DType mask_dt) {
  Bshd b = to_bshd(a, dt, mask_dt);
  Tensor dq = zeros(dt, b.q.shape), dk = zeros(dt, b.k.shape), dv = zeros(dt, b.v.shape),
         wp = zeros(dt, b.ws), wd = zeros(dt, b.ws);
  std::vector<const Tensor*> in = {&b.q, &b.k, &b.v, &b.dy};
  if (a.c.has_mask) in.push_back(&b.mask);
  const Status s = run("FusedAttentionGrad", b.attrs, in, {&dq, &dk, &dv, &wp, &wd});
  EXPECT_TRUE(s.ok()) << a.c.name << ": " << s.to_string();
  return {swap_hs(float_values(dq), b.q.shape), swap_hs(float_values(dk), b.k.shape),
          swap_hs(float_values(dv), b.v.shape)};
}

std::vector<AttnCase> cases() {
  return {
      attn_case("rank4 Sq!=Sk D!=Dv", {2, 3, 5, 4}, {2, 3, 7, 4}, {2, 3, 7, 6}),
      attn_case("causal", {2, 2, 6, 4}, {2, 2, 6, 4}, {2, 2, 6, 3}, 1),
      attn_case("causal Sq<Sk", {1, 3, 4, 4}, {1, 3, 7, 4}, {1, 3, 7, 5}, 1),
      attn_case("rank3 (one batch)", {3, 5, 4}, {3, 6, 4}, {3, 6, 4}),
      attn_case("rank5", {2, 1, 3, 4, 2}, {2, 1, 3, 5, 2}, {2, 1, 3, 5, 3}, 1),
      masked_case("mask [B,1,1,Sk]", {2, 3, 5, 4}, {2, 3, 6, 4}, {2, 3, 6, 4}, {2, 1, 1, 6}),
      masked_case("mask [B,1,Sq,Sk] causal", {2, 3, 6, 4}, {2, 3, 6, 4}, {2, 3, 6, 4}, {2, 1, 6, 6},
                  1),
      masked_case("mask [B,H,Sq,Sk]", {2, 3, 4, 4}, {2, 3, 5, 4}, {2, 3, 5, 3}, {2, 3, 4, 5}),
      masked_case("mask [1,H,1,Sk]", {2, 3, 4, 4}, {2, 3, 5, 4}, {2, 3, 5, 3}, {1, 3, 1, 5}),
  };
}

TEST(AttentionLayout, ForwardBshdEqualsBhsd) {
  uint32_t seed = 3;
  for (const AttnCase& base : cases())
    for (int64_t chunk : {0, 1, 4}) {
      AttnCase c = base;
      c.chunk = chunk;
      const AttnData a = make_attn_data(c, seed += 10);
      for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kBFloat16}) {
        const std::vector<double> want = run_attention(a, dt, DType::kFloat32);
        EXPECT_LE(rel_err(run_bshd(a, dt, DType::kFloat32), want), 1e-6)
            << base.name << " chunk " << chunk << " " << dtype_name(dt);
      }
      EXPECT_LE(rel_err(run_bshd(a, DType::kFloat64, DType::kFloat64), ref_attention(a)), 1e-12)
          << base.name << " chunk " << chunk;
    }
}

TEST(AttentionLayout, GradientBshdEqualsBhsd) {
  uint32_t seed = 5;
  for (const AttnCase& base : cases())
    for (int64_t chunk : {0, 1, 4}) {
      AttnCase c = base;
      c.chunk = chunk;
      const AttnData a = make_attn_data(c, seed += 10);
      for (DType dt : {DType::kFloat32, DType::kFloat64, DType::kBFloat16}) {
        const AttnGrads want = run_attention_grad(a, dt, DType::kFloat32);
        const AttnGrads got = run_bshd_grad(a, dt, DType::kFloat32);
        const std::string what =
            base.name + " chunk " + std::to_string(chunk) + " " + dtype_name(dt);
        EXPECT_LE(rel_err(got.dq, want.dq), 1e-6) << what;
        EXPECT_LE(rel_err(got.dk, want.dk), 1e-6) << what;
        EXPECT_LE(rel_err(got.dv, want.dv), 1e-6) << what;
      }
      const AttnGrads ref = ref_attention_grad(a);
      const AttnGrads got = run_bshd_grad(a, DType::kFloat64, DType::kFloat64);
      EXPECT_LE(rel_err(got.dq, ref.dq), 1e-12) << base.name;
      EXPECT_LE(rel_err(got.dk, ref.dk), 1e-12) << base.name;
      EXPECT_LE(rel_err(got.dv, ref.dv), 1e-12) << base.name;
    }
}

TEST(AttentionLayout, RejectsBadLayouts) {
  const AttnData a = make_attn_data(cases()[0], 1);
  Bshd b = to_bshd(a, DType::kFloat32, DType::kFloat32);
  Tensor y = zeros(DType::kFloat32, b.y), ws = zeros(DType::kFloat32, b.ws);
  AttrMap bad = b.attrs;
  bad["layout"] = Attr::Str("sbhd");
  EXPECT_FALSE(run("FusedAttention", bad, {&b.q, &b.k, &b.v}, {&y, &ws}).ok());
  // The bhsd ws shape is the scratch's in both layouts; a bshd-shaped ws is refused.
  Tensor ws2 = zeros(DType::kFloat32, swapped(b.ws));
  EXPECT_FALSE(run("FusedAttention", b.attrs, {&b.q, &b.k, &b.v}, {&y, &ws2}).ok());
  const Tensor q2 = make_float(DType::kFloat32, {5, 4}, std::vector<double>(20, 0.0));
  Tensor y2 = zeros(DType::kFloat32, {5, 4}), ws3 = zeros(DType::kFloat32, {5, 5});
  EXPECT_FALSE(run("FusedAttention", b.attrs, {&q2, &q2, &q2}, {&y2, &ws3}).ok());  // rank 2
}

}  // namespace
}  // namespace tessera::kernels::testing
