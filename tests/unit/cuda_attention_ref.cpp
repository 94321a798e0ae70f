// Float64 unfused attention reference (cuda_attention_ref.h).
#include "tests/unit/cuda_attention_ref.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace tessera::kernels::attn_test {

HostT make_host(DType dt, const Shape& s, const std::vector<float>& vals) {
  HostT t{dt, s, std::vector<uint8_t>(vals.size() * dtype_size(dt)), {}};
  t.v.resize(vals.size());
  for (size_t i = 0; i < vals.size(); ++i) {
    const float f = vals[i];
    uint16_t h = 0;
    switch (dt) {
      case DType::kFloat32:
        std::memcpy(&t.bytes[4 * i], &f, 4);
        t.v[i] = f;
        break;
      case DType::kFloat64: {
        const double x = f;
        std::memcpy(&t.bytes[8 * i], &x, 8);
        t.v[i] = x;
        break;
      }
      case DType::kBFloat16:
        h = cpu::float_to_bf16_bits(f);
        std::memcpy(&t.bytes[2 * i], &h, 2);
        t.v[i] = cpu::bf16_bits_to_float(h);
        break;
      default:  // f16
        h = cpu::float_to_half_bits(f);
        std::memcpy(&t.bytes[2 * i], &h, 2);
        t.v[i] = cpu::half_bits_to_float(h);
        break;
    }
  }
  return t;
}

std::vector<double> to_double(DType dt, const std::vector<uint8_t>& bytes) {
  const size_t es = static_cast<size_t>(dtype_size(dt)), n = bytes.size() / es;
  std::vector<double> v(n);
  for (size_t i = 0; i < n; ++i) {
    float f = 0.f;
    uint16_t h = 0;
    if (dt == DType::kFloat32) {
      std::memcpy(&f, &bytes[4 * i], 4);
    } else {
      std::memcpy(&h, &bytes[2 * i], 2);
      f = dt == DType::kBFloat16 ? cpu::bf16_bits_to_float(h) : cpu::half_bits_to_float(h);
    }
    v[i] = f;
  }
  return v;
}

namespace {

// Element offsets of the mask for batch-head b: offset(i, j) = base + i * rs + j * cs.
struct MaskAt {
  int64_t base = 0, rs = 0, cs = 0;
};
MaskAt mask_at(const AttnShape& p, const HostT& m, int64_t b) {
  Shape scores = p.lead;
  scores.push_back(p.sq);
  scores.push_back(p.sk);
  std::vector<int64_t> st;
  if (!cpu::broadcast_strides(m.shape, scores, &st).ok()) std::abort();
  MaskAt a;
  const size_t r = scores.size();
  for (size_t d = r - 2; d-- > 0;) {  // b's coordinates, innermost lead dim first
    a.base += (b % scores[d]) * st[d];
    b /= scores[d];
  }
  a.rs = st[r - 2], a.cs = st[r - 1];
  return a;
}

// P of batch-head b (Sq x Sk); dead rows (every key masked) stay 0.
std::vector<double> probabilities(const AttnShape& p, const double* q, const double* k,
                                  const HostT* mask, int64_t b, std::vector<bool>* dead) {
  const MaskAt ma = mask ? mask_at(p, *mask, b) : MaskAt{};
  const double ninf = -std::numeric_limits<double>::infinity();
  std::vector<double> P(static_cast<size_t>(p.sq * p.sk), 0.0);
  dead->assign(static_cast<size_t>(p.sq), false);
  for (int64_t i = 0; i < p.sq; ++i) {
    double* row = &P[i * p.sk];
    double mx = ninf;
    for (int64_t j = 0; j < p.sk; ++j) {
      double s = 0;
      for (int64_t e = 0; e < p.d; ++e) s += q[i * p.d + e] * k[j * p.d + e];
      s = p.scale * s + (mask ? mask->v[ma.base + i * ma.rs + j * ma.cs] : 0.0);
      row[j] = p.causal && j > i ? ninf : s;
      mx = std::max(mx, row[j]);
    }
    if (mx == ninf) {
      (*dead)[i] = true;
      for (int64_t j = 0; j < p.sk; ++j) row[j] = 0;
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < p.sk; ++j) sum += row[j] = std::exp(row[j] - mx);
    for (int64_t j = 0; j < p.sk; ++j) row[j] /= sum;
  }
  return P;
}

// C[M,N] = alpha * A[M,K] B[K,N] with A and B given through element accessors.
template <class A, class B>
std::vector<double> matmul(int64_t M, int64_t N, int64_t K, double alpha, A a, B b) {
  std::vector<double> c(static_cast<size_t>(M * N), 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t x = 0; x < K; ++x) s += a(m, x) * b(x, n);
      c[m * N + n] = alpha * s;
    }
  return c;
}

}  // namespace

AttnRef attention_ref(const AttnShape& p, const HostT& qt, const HostT& kt, const HostT& vt,
                      const HostT* mask, const HostT* dyt, int64_t b) {
  const int64_t sq = p.sq, sk = p.sk, d = p.d, dv = p.dv;
  const double *q = qt.v.data() + b * sq * d, *k = kt.v.data() + b * sk * d;
  const double* v = vt.v.data() + b * sk * dv;
  AttnRef r;
  const std::vector<double> P = probabilities(p, q, k, mask, b, &r.dead);
  const auto pm = [&](int64_t i, int64_t j) { return P[i * sk + j]; };
  const auto pt = [&](int64_t j, int64_t i) { return P[i * sk + j]; };
  r.y = matmul(sq, dv, sk, 1.0, pm, [&](int64_t j, int64_t e) { return v[j * dv + e]; });
  if (!dyt) return r;
  const double* dy = dyt->v.data() + b * sq * dv;
  std::vector<double> dS = matmul(
      sq, sk, dv, 1.0, [&](int64_t i, int64_t e) { return dy[i * dv + e]; },
      [&](int64_t e, int64_t j) { return v[j * dv + e]; });
  for (int64_t i = 0; i < sq; ++i) {
    double dot = 0;
    for (int64_t j = 0; j < sk; ++j) dot += P[i * sk + j] * dS[i * sk + j];
    for (int64_t j = 0; j < sk; ++j) dS[i * sk + j] = P[i * sk + j] * (dS[i * sk + j] - dot);
  }
  const auto ds = [&](int64_t i, int64_t j) { return dS[i * sk + j]; };
  const auto dst = [&](int64_t j, int64_t i) { return dS[i * sk + j]; };
  r.dq = matmul(sq, d, sk, p.scale, ds, [&](int64_t j, int64_t e) { return k[j * d + e]; });
  r.dk = matmul(sk, d, sq, p.scale, dst, [&](int64_t i, int64_t e) { return q[i * d + e]; });
  r.dv = matmul(sk, dv, sq, 1.0, pt, [&](int64_t i, int64_t e) { return dy[i * dv + e]; });
  return r;
}

}  // namespace tessera::kernels::attn_test
