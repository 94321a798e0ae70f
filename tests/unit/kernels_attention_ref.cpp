#include "tests/unit/kernels_attention_ref.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tessera::kernels::testing {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Dims {
  Shape lead;
  int64_t n = 1, sq, sk, d, dv;
  explicit Dims(const AttnCase& c)
      : lead(c.q.begin(), c.q.end() - 2),
        sq(c.q[c.q.size() - 2]),
        sk(c.k[c.k.size() - 2]),
        d(c.q.back()),
        dv(c.v.back()) {
    for (int64_t x : lead) n *= x;
  }
};

std::vector<double> uniform(int64_t n, uint32_t seed, double lo, double hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  std::vector<double> v(static_cast<size_t>(n));
  for (double& x : v) x = u(rng);
  return v;
}

// Probabilities of query row i of batch-head b over every key; all zero when every key is -inf.
std::vector<double> probs(const AttnData& a, const Dims& m, int64_t b, int64_t i) {
  std::vector<double> s(static_cast<size_t>(m.sk));
  std::vector<int64_t> at = unravel(b, m.lead);
  at.push_back(i);
  at.push_back(0);
  for (int64_t j = 0; j < m.sk; ++j) {
    double dot = 0;
    for (int64_t e = 0; e < m.d; ++e)
      dot += a.q[(b * m.sq + i) * m.d + e] * a.k[(b * m.sk + j) * m.d + e];
    s[j] = a.c.scale * dot;
    at.back() = j;
    if (a.c.has_mask) s[j] += a.mask[bcast_index(at, a.c.mask)];
    if (a.c.causal && j > i) s[j] = -kInf;
  }
  const double mx = s.empty() ? -kInf : *std::max_element(s.begin(), s.end());
  double sum = 0;
  for (double& x : s) {
    x = mx == -kInf ? 0.0 : std::exp(x - mx);
    sum += x;
  }
  for (double& x : s) x = sum > 0 ? x / sum : 0.0;
  return s;
}

}  // namespace

AttnCase attn_case(std::string name, Shape q, Shape k, Shape v, int64_t causal) {
  AttnCase c;
  c.name = std::move(name);
  c.q = std::move(q);
  c.k = std::move(k);
  c.v = std::move(v);
  c.causal = causal;
  return c;
}

AttnCase masked_case(std::string name, Shape q, Shape k, Shape v, Shape mask, int64_t causal) {
  AttnCase c = attn_case(std::move(name), std::move(q), std::move(k), std::move(v), causal);
  c.has_mask = true;
  c.mask = std::move(mask);
  return c;
}

Shape attn_y_shape(const AttnCase& c) {
  Shape y = c.q;
  y.back() = c.v.back();
  return y;
}

Shape attn_ws_shape(const AttnCase& c) {
  Shape w = c.q;
  const int64_t sq = c.q[c.q.size() - 2];
  w[w.size() - 2] = c.chunk <= 0 || c.chunk > sq ? sq : c.chunk;
  w.back() = c.k[c.k.size() - 2];
  return w;
}

AttrMap attn_attrs(const AttnCase& c) {
  return {{"scale", Attr::Float(c.scale)},
          {"causal", Attr::Int(c.causal)},
          {"chunk", Attr::Int(c.chunk)}};
}

AttnData make_attn_data(const AttnCase& c, uint32_t seed) {
  AttnData a;
  a.c = c;
  a.q = uniform(num_elements(c.q), seed, -1, 1);
  a.k = uniform(num_elements(c.k), seed + 1, -1, 1);
  a.v = uniform(num_elements(c.v), seed + 2, -1, 1);
  a.dy = uniform(num_elements(attn_y_shape(c)), seed + 3, -1, 1);
  if (c.has_mask) a.mask = uniform(num_elements(c.mask), seed + 4, -2, 2);
  return a;
}

std::vector<double> ref_attention(const AttnData& a) {
  const Dims m(a.c);
  std::vector<double> y(static_cast<size_t>(m.n * m.sq * m.dv), 0.0);
  for (int64_t b = 0; b < m.n; ++b)
    for (int64_t i = 0; i < m.sq; ++i) {
      const std::vector<double> p = probs(a, m, b, i);
      for (int64_t j = 0; j < m.sk; ++j)
        for (int64_t e = 0; e < m.dv; ++e)
          y[(b * m.sq + i) * m.dv + e] += p[j] * a.v[(b * m.sk + j) * m.dv + e];
    }
  return y;
}

// The unfused backward: dP = dy·vᵀ, dS = P∘(dP − Σ P∘dP), dq = scale·dS·k, dk = scale·dSᵀ·q,
// dv = Pᵀ·dy, row by row.
AttnGrads ref_attention_grad(const AttnData& a) {
  const Dims m(a.c);
  AttnGrads g;
  g.dq.assign(a.q.size(), 0.0);
  g.dk.assign(a.k.size(), 0.0);
  g.dv.assign(a.v.size(), 0.0);
  for (int64_t b = 0; b < m.n; ++b)
    for (int64_t i = 0; i < m.sq; ++i) {
      const std::vector<double> p = probs(a, m, b, i);
      const double* dy = a.dy.data() + (b * m.sq + i) * m.dv;
      std::vector<double> ds(static_cast<size_t>(m.sk));
      double dot = 0;
      for (int64_t j = 0; j < m.sk; ++j) {
        double dp = 0;
        for (int64_t e = 0; e < m.dv; ++e) dp += dy[e] * a.v[(b * m.sk + j) * m.dv + e];
        ds[j] = dp;
        dot += p[j] * dp;
      }
      for (int64_t j = 0; j < m.sk; ++j) {
        ds[j] = p[j] * (ds[j] - dot);
        for (int64_t e = 0; e < m.d; ++e) {
          g.dq[(b * m.sq + i) * m.d + e] += a.c.scale * ds[j] * a.k[(b * m.sk + j) * m.d + e];
          g.dk[(b * m.sk + j) * m.d + e] += a.c.scale * ds[j] * a.q[(b * m.sq + i) * m.d + e];
        }
        for (int64_t e = 0; e < m.dv; ++e) g.dv[(b * m.sk + j) * m.dv + e] += p[j] * dy[e];
      }
    }
  return g;
}

Tensor make_float(DType dt, const Shape& s, const std::vector<double>& v) {
  if (dt == DType::kFloat32) return f32(s, v);
  if (dt == DType::kFloat64) return f64(s, v);
  Tensor t = zeros(dt, s);
  const std::vector<float> f(v.begin(), v.end());
  narrow_16bit(dt, f.data(), t.buf.data(), t.numel());
  return t;
}

std::vector<double> float_values(const Tensor& t) {
  if (t.dtype != DType::kBFloat16 && t.dtype != DType::kFloat16) return t.values();
  std::vector<float> f(static_cast<size_t>(t.numel()));
  widen_16bit(t.dtype, t.buf.data(), f.data(), t.numel());
  return std::vector<double>(f.begin(), f.end());
}

// Outputs start as NaN: the kernel must write every element (dk, dv are sums it must zero).
Tensor nans(DType dt, const Shape& s) {
  return make_float(dt, s, std::vector<double>(static_cast<size_t>(num_elements(s)), NAN));
}

std::vector<double> run_attention(const AttnData& a, DType dt, DType mask_dt) {
  const Tensor q = make_float(dt, a.c.q, a.q), k = make_float(dt, a.c.k, a.k),
               v = make_float(dt, a.c.v, a.v);
  const Tensor m = a.c.has_mask ? make_float(mask_dt, a.c.mask, a.mask) : Tensor{};
  Tensor y = nans(dt, attn_y_shape(a.c)), ws = nans(dt, attn_ws_shape(a.c));
  std::vector<const Tensor*> in = {&q, &k, &v};
  if (a.c.has_mask) in.push_back(&m);
  const Status s = run("FusedAttention", attn_attrs(a.c), in, {&y, &ws});
  EXPECT_TRUE(s.ok()) << a.c.name << ": " << s.to_string();
  return float_values(y);
}

AttnGrads run_attention_grad(const AttnData& a, DType dt, DType mask_dt) {
  const Tensor q = make_float(dt, a.c.q, a.q), k = make_float(dt, a.c.k, a.k),
               v = make_float(dt, a.c.v, a.v), dy = make_float(dt, attn_y_shape(a.c), a.dy);
  const Tensor m = a.c.has_mask ? make_float(mask_dt, a.c.mask, a.mask) : Tensor{};
  Tensor dq = nans(dt, a.c.q), dk = nans(dt, a.c.k), dv = nans(dt, a.c.v),
         wp = nans(dt, attn_ws_shape(a.c)), wd = nans(dt, attn_ws_shape(a.c));
  std::vector<const Tensor*> in = {&q, &k, &v, &dy};
  if (a.c.has_mask) in.push_back(&m);
  const Status s = run("FusedAttentionGrad", attn_attrs(a.c), in, {&dq, &dk, &dv, &wp, &wd});
  EXPECT_TRUE(s.ok()) << a.c.name << ": " << s.to_string();
  return {float_values(dq), float_values(dk), float_values(dv)};
}

double rel_err(const std::vector<double>& got, const std::vector<double>& want) {
  EXPECT_EQ(got.size(), want.size());
  double scale = 1e-30, err = 0;
  for (double w : want) scale = std::max(scale, std::fabs(w));
  for (size_t i = 0; i < got.size() && i < want.size(); ++i)
    err = std::max(err, std::isnan(got[i]) ? kInf : std::fabs(got[i] - want[i]));
  return err / scale;
}

}  // namespace tessera::kernels::testing
