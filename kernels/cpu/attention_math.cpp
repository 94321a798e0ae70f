// The chunk loops of FusedAttention and FusedAttentionGrad: per batch-head, per chunk of R query
// rows, the scores of the chunk's rows against every key (so the softmax is exact, no online
// rescaling), then the matrix products through the gemm helper (OpenBLAS when built with it).
// Cost per batch-head: the forward's two products, 2·Sq·Sk·(D+Dv) flops, and ~5 passes over
// the R x Sk scratch per chunk; the gradient's five products, 2·Sq·Sk·(3D+2Dv), and ~8 passes.
// Under a causal mask a chunk computes only the keys up to its last row (the rest are masked
// for all of its rows), which halves the work of long sequences cut into many chunks.
#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

#include "cpu/attention_impl.h"

namespace tessera::kernels::cpu {
namespace {

// Stores and reloads n values through the 16-bit dtype `t` (round to nearest even), as the
// unfused 16-bit graph stores them between ops; nothing when t is not 16-bit.
template <class T>
void round_to(DType t, T* p, int64_t n) {
  if constexpr (std::is_same_v<T, float>) {
    if (t == DType::kBFloat16)
      for (int64_t i = 0; i < n; ++i) p[i] = bf16_bits_to_float(float_to_bf16_bits(p[i]));
    if (t == DType::kFloat16)
      for (int64_t i = 0; i < n; ++i) p[i] = half_bits_to_float(float_to_half_bits(p[i]));
  }
}

// s[j] += mask[off + j·step] for j < n, reading the mask in its own dtype (any float dtype).
template <class T, class M, class Load>
void add_row(const M* m, int64_t step, int64_t n, T* s, Load load) {
  for (int64_t j = 0; j < n; ++j) s[j] += static_cast<T>(load(m[j * step]));
}

template <class T>
void add_mask_row(const TensorRef& m, int64_t off, int64_t step, int64_t n, T* s) {
  auto same = [](auto x) { return x; };
  switch (m.dtype) {
    case DType::kFloat32:
      return add_row(m.as<const float>() + off, step, n, s, same);
    case DType::kFloat64:
      return add_row(m.as<const double>() + off, step, n, s, same);
    case DType::kBFloat16:
      return add_row(m.as<const uint16_t>() + off, step, n, s, bf16_bits_to_float);
    case DType::kFloat16:
      return add_row(m.as<const uint16_t>() + off, step, n, s, half_bits_to_float);
    default:
      return;  // attention.cpp accepts float masks only
  }
}

// Keys a chunk of rows [r0, r0 + rr) can see: all, or under the causal mask those up to its
// last row.
int64_t live_keys(const AttnDims& d, int64_t r0, int64_t rr) {
  return d.causal ? std::min(d.sk, r0 + rr) : d.sk;
}

// s (rr rows, leading dim Sk) = scale·q[r0..]·kᵀ + mask over the first kv keys; keys after the
// query row are -inf under the causal mask. q, k: this batch-head's (rows d.ld(d.d) apart).
template <class T>
Status scores(const AttnDims& d, int64_t b, int64_t r0, int64_t rr, int64_t kv, const T* q,
              const T* k, T* s) {
  const int64_t ld = d.ld(d.d);
  TSR_RETURN_IF_ERROR(
      gemm<T>(false, true, rr, kv, d.d, T(d.scale), q + r0 * ld, ld, k, ld, T(0), s, d.sk));
  for (int64_t i = 0; i < rr; ++i) {
    T* row = s + i * d.sk;
    if (d.mask) add_mask_row(*d.mask, d.mask_off[b] + (r0 + i) * d.mask_rs, d.mask_cs, kv, row);
    if (d.causal)
      for (int64_t j = r0 + i + 1; j < kv; ++j) row[j] = -std::numeric_limits<T>::infinity();
    round_to(d.round, row, kv);
  }
  return Status::Ok();
}

// In place: rows of scores to probabilities over the first kv keys. Sums in double. A row whose
// keys are all -inf gets P = 0, so its y is 0 and it passes no gradient.
template <class T>
void softmax_rows(const AttnDims& d, int64_t rr, int64_t kv, T* s) {
  for (int64_t i = 0; i < rr; ++i) {
    T* row = s + i * d.sk;
    T mx = -std::numeric_limits<T>::infinity();
    for (int64_t j = 0; j < kv; ++j) mx = std::max(mx, row[j]);
    if (mx == -std::numeric_limits<T>::infinity()) {
      std::fill(row, row + kv, T(0));
      continue;
    }
    double sum = 0;
    for (int64_t j = 0; j < kv; ++j) {
      row[j] = std::exp(row[j] - mx);
      sum += row[j];
    }
    const T inv = static_cast<T>(1.0 / sum);
    for (int64_t j = 0; j < kv; ++j) row[j] *= inv;
    round_to(d.round, row, kv);
  }
}

// In place: g = dP to dS = P∘(dP − rowsum(P∘dP)) over the first kv keys (rowsum in double).
template <class T>
void softmax_grad_rows(const AttnDims& d, int64_t rr, int64_t kv, const T* p, T* g) {
  for (int64_t i = 0; i < rr; ++i) {
    const T* pr = p + i * d.sk;
    T* gr = g + i * d.sk;
    round_to(d.round, gr, kv);  // dP as the unfused graph stores it
    double dot = 0;
    for (int64_t j = 0; j < kv; ++j) dot += double(pr[j]) * double(gr[j]);
    for (int64_t j = 0; j < kv; ++j) gr[j] = static_cast<T>(pr[j] * (double(gr[j]) - dot));
    round_to(d.round, gr, kv);
  }
}

}  // namespace

template <class T>
Status attention_forward(const AttnDims& d, const Ins& in, const Ins& out) {
  for (int64_t b = 0; b < d.n; ++b) {
    const T* q = in[0].as<const T>() + d.off(b, d.sq, d.d);
    const T* k = in[1].as<const T>() + d.off(b, d.sk, d.d);
    const T* v = in[2].as<const T>() + d.off(b, d.sk, d.dv);
    T* y = out[0].as<T>() + d.off(b, d.sq, d.dv);
    T* s = out[1].as<T>() + b * d.rows * d.sk;
    const int64_t ldv = d.ld(d.dv);
    for (int64_t r0 = 0; r0 < d.sq; r0 += d.rows) {
      const int64_t rr = std::min(d.rows, d.sq - r0), kv = live_keys(d, r0, rr);
      TSR_RETURN_IF_ERROR(scores(d, b, r0, rr, kv, q, k, s));
      softmax_rows(d, rr, kv, s);
      TSR_RETURN_IF_ERROR(
          gemm<T>(false, false, rr, d.dv, kv, T(1), s, d.sk, v, ldv, T(0), y + r0 * ldv, ldv));
    }
  }
  return Status::Ok();
}

// One chunk's share of the gradient: dq for its rows, its sums into dk and dv.
template <class T>
Status backward_chunk(const AttnDims& d, int64_t b, int64_t r0, const Ins& in, const Ins& out) {
  const int64_t rr = std::min(d.rows, d.sq - r0), kv = live_keys(d, r0, rr);
  const int64_t ld = d.ld(d.d), ldv = d.ld(d.dv);  // row strides of q, k, dq, dk / v, dy, dv
  const T* q = in[0].as<const T>() + d.off(b, d.sq, d.d);
  const T* k = in[1].as<const T>() + d.off(b, d.sk, d.d);
  const T* v = in[2].as<const T>() + d.off(b, d.sk, d.dv);
  const T* dy = in[3].as<const T>() + d.off(b, d.sq, d.dv) + r0 * ldv;
  T* dq = out[0].as<T>() + d.off(b, d.sq, d.d) + r0 * ld;
  T* dk = out[1].as<T>() + d.off(b, d.sk, d.d);
  T* dv = out[2].as<T>() + d.off(b, d.sk, d.dv);
  T* p = out[3].as<T>() + b * d.rows * d.sk;
  T* g = out[4].as<T>() + b * d.rows * d.sk;
  TSR_RETURN_IF_ERROR(scores(d, b, r0, rr, kv, q, k, p));
  softmax_rows(d, rr, kv, p);
  TSR_RETURN_IF_ERROR(gemm<T>(false, true, rr, kv, d.dv, T(1), dy, ldv, v, ldv, T(0), g, d.sk));
  softmax_grad_rows(d, rr, kv, p, g);
  const T sc = T(d.scale);
  TSR_RETURN_IF_ERROR(gemm<T>(false, false, rr, d.d, kv, sc, g, d.sk, k, ld, T(0), dq, ld));
  TSR_RETURN_IF_ERROR(
      gemm<T>(true, false, kv, d.d, rr, sc, g, d.sk, q + r0 * ld, ld, T(1), dk, ld));
  return gemm<T>(true, false, kv, d.dv, rr, T(1), p, d.sk, dy, ldv, T(1), dv, ldv);
}

template <class T>
Status attention_backward(const AttnDims& d, const Ins& in, const Ins& out) {
  std::fill(out[1].as<T>(), out[1].as<T>() + out[1].numel(), T(0));  // dk, dv are sums over
  std::fill(out[2].as<T>(), out[2].as<T>() + out[2].numel(), T(0));  // the chunks
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t r0 = 0; r0 < d.sq; r0 += d.rows)
      TSR_RETURN_IF_ERROR(backward_chunk<T>(d, b, r0, in, out));
  return Status::Ok();
}

template Status attention_forward<float>(const AttnDims&, const Ins&, const Ins&);
template Status attention_forward<double>(const AttnDims&, const Ins&, const Ins&);
template Status attention_backward<float>(const AttnDims&, const Ins&, const Ins&);
template Status attention_backward<double>(const AttnDims&, const Ins&, const Ins&);

}  // namespace tessera::kernels::cpu
