// MatMul (numpy semantics: 1-D operands, batch broadcast) and Gemm, on one gemm helper that
// calls OpenBLAS when available. f32 and f64.
#include <algorithm>
#include <climits>
#include <type_traits>
#include <vector>

#include "cpu/kernel_util.h"

#ifdef TESSERA_HAVE_CBLAS
#include <cblas.h>
#endif

namespace tessera::kernels::cpu {

template <class T>
void gemm_fallback(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A,
                   int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  std::vector<double> acc(static_cast<size_t>(N));  // one row of C in double
  for (int64_t i = 0; i < M; ++i) {
    std::fill(acc.begin(), acc.end(), 0.0);
    for (int64_t k = 0; k < K; ++k) {
      const double a = ta ? A[k * lda + i] : A[i * lda + k];
      if (tb) {
        for (int64_t j = 0; j < N; ++j) acc[j] += a * B[j * ldb + k];
      } else {
        const T* brow = B + k * ldb;
        for (int64_t j = 0; j < N; ++j) acc[j] += a * brow[j];
      }
    }
    T* c = C + i * ldc;
    for (int64_t j = 0; j < N; ++j) {
      const double prev = beta == T(0) ? 0.0 : static_cast<double>(beta) * c[j];
      c[j] = static_cast<T>(static_cast<double>(alpha) * acc[j] + prev);
    }
  }
}
template void gemm_fallback<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*,
                                   int64_t, const float*, int64_t, float, float*, int64_t);
template void gemm_fallback<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*,
                                    int64_t, const double*, int64_t, double, double*, int64_t);

template <class T>
Status gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
            const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (M == 0 || N == 0) return Status::Ok();
#ifdef TESSERA_HAVE_CBLAS
  for (int64_t v : {M, N, K, lda, ldb, ldc}) {
    if (v > INT_MAX) return Unimplemented("matrix dimension " + std::to_string(v) + " > INT_MAX");
  }
  if (K == 0) {  // BLAS would leave C = beta*C, which with beta 0 may read garbage; be explicit
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == T(0) ? T(0) : beta * C[i * ldc + j];
    return Status::Ok();
  }
  const auto tra = ta ? CblasTrans : CblasNoTrans, trb = tb ? CblasTrans : CblasNoTrans;
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if constexpr (std::is_same_v<T, float>) {
    cblas_sgemm(CblasRowMajor, tra, trb, m, n, k, alpha, A, static_cast<int>(lda), B,
                static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
  } else {
    cblas_dgemm(CblasRowMajor, tra, trb, m, n, k, alpha, A, static_cast<int>(lda), B,
                static_cast<int>(ldb), beta, C, static_cast<int>(ldc));
  }
#else
  gemm_fallback(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
  return Status::Ok();
}
template Status gemm<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                            const float*, int64_t, float, float*, int64_t);
template Status gemm<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t,
                             const double*, int64_t, double, double*, int64_t);

namespace {

struct MatMulPlan {
  Shape batch;                  // broadcast batch dims
  std::vector<int64_t> sa, sb;  // batch strides of a and b, in matrices
  int64_t M = 1, N = 1, K = 1;
  Shape out;
};

Status plan_matmul(const Shape& a, const Shape& b, MatMulPlan* p) {
  if (a.empty() || b.empty()) return InvalidArgument("operands must have rank >= 1");
  const bool vec_a = a.size() == 1, vec_b = b.size() == 1;
  const Shape ba(a.begin(), a.end() - (vec_a ? 1 : 2));
  const Shape bb(b.begin(), b.end() - (vec_b ? 1 : 2));
  p->M = vec_a ? 1 : a[a.size() - 2];
  p->K = a.back();
  const int64_t kb = vec_b ? b[0] : b[b.size() - 2];
  p->N = vec_b ? 1 : b.back();
  if (kb != p->K) {
    return InvalidArgument("inner dims differ: " + shape_str(a) + " x " + shape_str(b));
  }
  TSR_RETURN_IF_ERROR(broadcast_shapes(ba, bb, &p->batch));
  TSR_RETURN_IF_ERROR(broadcast_strides(ba, p->batch, &p->sa));
  TSR_RETURN_IF_ERROR(broadcast_strides(bb, p->batch, &p->sb));
  p->out = p->batch;
  if (!vec_a) p->out.push_back(p->M);
  if (!vec_b) p->out.push_back(p->N);
  return Status::Ok();
}

template <class T>
Status matmul_typed(const MatMulPlan& p, const TensorRef& a, const TensorRef& b,
                    const TensorRef& o) {
  const T* pa = a.as<const T>();
  const T* pb = b.as<const T>();
  T* po = o.as<T>();
  const int64_t nbatch = num_elements(p.batch);
  bool b_shared = true, a_dense = true;  // b the same for every batch, a a dense stack
  const std::vector<int64_t> dense = contiguous_strides(p.batch);
  for (size_t d = 0; d < p.batch.size(); ++d) {
    b_shared = b_shared && (p.sb[d] == 0 || p.batch[d] == 1);
    a_dense = a_dense && (p.sa[d] == dense[d] || p.batch[d] == 1);
  }
  if (b_shared && a_dense) {  // x[B,T,C] @ W[C,N]: one gemm with M = B*T
    return gemm<T>(false, false, nbatch * p.M, p.N, p.K, T(1), pa, p.K, pb, p.N, T(0), po, p.N);
  }
  for (int64_t i = 0; i < nbatch; ++i) {
    int64_t rem = i, oa = 0, ob = 0;
    for (size_t d = p.batch.size(); d-- > 0;) {  // unravel once per matrix, not per element
      const int64_t c = rem % p.batch[d];
      rem /= p.batch[d];
      oa += c * p.sa[d];
      ob += c * p.sb[d];
    }
    TSR_RETURN_IF_ERROR(gemm<T>(false, false, p.M, p.N, p.K, T(1), pa + oa * p.M * p.K, p.K,
                                pb + ob * p.K * p.N, p.N, T(0), po + i * p.M * p.N, p.N));
  }
  return Status::Ok();
}

// out = beta * broadcast(C) (unidirectional broadcast to [M, N]).
template <class T>
Status fill_bias(const TensorRef& c, T beta, const TensorRef& o) {
  std::vector<int64_t> sc;
  TSR_RETURN_IF_ERROR(broadcast_strides(c.shape, o.shape, &sc));
  const RowIter it = make_row_iter(o.shape, {sc, contiguous_strides(o.shape)});
  const T* pc = c.as<const T>();
  T* po = o.as<T>();
  for_each_row(it, [&](const int64_t* off, const int64_t* st, int64_t n) {
    for (int64_t j = 0; j < n; ++j) po[off[1] + j] = beta * pc[off[0] + j * st[0]];
  });
  return Status::Ok();
}

template <class T>
Status gemm_op_typed(const AttrMap& attrs, const Ins& in, const TensorRef& o, bool ta, bool tb,
                     int64_t M, int64_t N, int64_t K) {
  const T alpha = static_cast<T>(attr_float(attrs, "alpha", 1.0));
  T beta = static_cast<T>(attr_float(attrs, "beta", 1.0));
  const bool has_c = in.size() > 2 && in[2].present() && beta != T(0);
  if (has_c) {
    TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[2], "C"));
    TSR_RETURN_IF_ERROR(fill_bias<T>(in[2], beta, o));
  }
  const TensorRef &a = in[0], &b = in[1];
  return gemm<T>(ta, tb, M, N, K, alpha, a.as<const T>(), a.shape[1], b.as<const T>(), b.shape[1],
                 has_c ? T(1) : T(0), o.as<T>(), N);
}

}  // namespace

Status MatMul(const AttrMap&, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 2, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  MatMulPlan p;
  TSR_RETURN_IF_ERROR(plan_matmul(in[0].shape, in[1].shape, &p));
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], p.out));
  switch (in[0].dtype) {
    case DType::kFloat32:
      return matmul_typed<float>(p, in[0], in[1], out[0]);
    case DType::kFloat64:
      return matmul_typed<double>(p, in[0], in[1], out[0]);
    default:
      return unsupported_dtype(in[0], "input 0");
  }
}

Status Gemm(const AttrMap& attrs, const Ins& in, const Ins& out) {
  TSR_RETURN_IF_ERROR(check_arity(in, out, 2, 3, 1));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], in[1], "input 1"));
  TSR_RETURN_IF_ERROR(check_same_dtype(in[0], out[0], "output"));
  if (in[0].shape.size() != 2 || in[1].shape.size() != 2) {
    return InvalidArgument("A and B must be 2-D, got " + shape_str(in[0].shape) + " and " +
                           shape_str(in[1].shape));
  }
  const bool ta = attr_int(attrs, "transA", 0) != 0, tb = attr_int(attrs, "transB", 0) != 0;
  const int64_t M = in[0].shape[ta ? 1 : 0], K = in[0].shape[ta ? 0 : 1];
  const int64_t KB = in[1].shape[tb ? 1 : 0], N = in[1].shape[tb ? 0 : 1];
  if (K != KB) {
    return InvalidArgument("inner dims differ: A " + shape_str(in[0].shape) + " B " +
                           shape_str(in[1].shape));
  }
  TSR_RETURN_IF_ERROR(check_out_shape(out[0], {M, N}));
  switch (in[0].dtype) {
    case DType::kFloat32:
      return gemm_op_typed<float>(attrs, in, out[0], ta, tb, M, N, K);
    case DType::kFloat64:
      return gemm_op_typed<double>(attrs, in, out[0], ta, tb, M, N, K);
    default:
      return unsupported_dtype(in[0], "input 0");
  }
}

}  // namespace tessera::kernels::cpu
