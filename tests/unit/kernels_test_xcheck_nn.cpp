// Cross-checks (second author) of softmax, normalisations, reductions and CumSum against float64
// references computed here.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

// Splits `s` around `axis` into (outer, n, inner).
void split3(const Shape& s, int64_t axis, int64_t* outer, int64_t* n, int64_t* inner) {
  *outer = num_elements(Shape(s.begin(), s.begin() + axis));
  *n = s[axis];
  *inner = num_elements(Shape(s.begin() + axis + 1, s.end()));
}

TEST(XCheckSoftmax, SoftmaxAndLogSoftmaxEveryAxis) {
  const Shape s = {3, 4, 5};
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t axis = 0; axis < 3; ++axis) {
      Tensor x = rand_t(dt, s, -20, 20), y(dt, s), ly(dt, s);
      x.set(0, 80);  // exp overflow in float unless max-subtracted
      AttrMap at{{"axis", Attr::Int(axis)}};
      ASSERT_TRUE(run("Softmax", at, {&x}, {&y}).ok());
      ASSERT_TRUE(run("LogSoftmax", at, {&x}, {&ly}).ok());
      int64_t outer, n, inner;
      split3(s, axis, &outer, &n, &inner);
      std::vector<double> want(x.numel()), lwant(x.numel());
      for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
          double mx = -INFINITY, sum = 0;
          for (int64_t j = 0; j < n; ++j) mx = std::max(mx, x.get((o * n + j) * inner + i));
          for (int64_t j = 0; j < n; ++j) sum += std::exp(x.get((o * n + j) * inner + i) - mx);
          for (int64_t j = 0; j < n; ++j) {
            const int64_t k = (o * n + j) * inner + i;
            want[k] = std::exp(x.get(k) - mx) / sum;
            lwant[k] = x.get(k) - mx - std::log(sum);
          }
        }
      }
      const bool f = dt == DType::kFloat32;
      expect_close(y, want, f ? 1e-5 : 1e-12, f ? 1e-7 : 1e-15, "Softmax");
      expect_close(ly, lwant, f ? 1e-5 : 1e-12, f ? 1e-5 : 1e-12, "LogSoftmax");
    }
  }
  Tensor x = rand_t(DType::kFloat32, {2, 3}), bad(DType::kFloat32, {3, 2});
  EXPECT_FALSE(run("Softmax", {{"axis", Attr::Int(1)}}, {&x}, {&bad}).ok());
}

TEST(XCheckNorm, BatchNormalizationInference) {
  const Shape s = {2, 3, 4, 5};
  Tensor x = rand_t(DType::kFloat32, s, -3, 3), sc = rand_t(DType::kFloat32, {3});
  Tensor b = rand_t(DType::kFloat32, {3}), mean = rand_t(DType::kFloat32, {3});
  Tensor var = rand_t(DType::kFloat32, {3}, 0.1, 2), y(DType::kFloat32, s);
  ASSERT_TRUE(
      run("BatchNormalization", {{"epsilon", Attr::Float(1e-3)}}, {&x, &sc, &b, &mean, &var}, {&y})
          .ok());
  std::vector<double> want(x.numel());
  for (int64_t i = 0; i < x.numel(); ++i) {
    const int64_t c = (i / 20) % 3;
    want[i] = (x.get(i) - mean.get(c)) / std::sqrt(var.get(c) + 1e-3) * sc.get(c) + b.get(c);
  }
  expect_close(y, want, 1e-5, 1e-5, "BatchNormalization");
}

std::vector<double> layernorm_ref(const Tensor& x, int64_t axis, const Tensor& sc, const Tensor* b,
                                  double eps) {
  const int64_t inner = num_elements(Shape(x.shape.begin() + axis, x.shape.end()));
  const int64_t outer = x.numel() / inner;
  std::vector<double> out(x.numel());
  for (int64_t o = 0; o < outer; ++o) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < inner; ++i) mean += x.get(o * inner + i) / inner;
    for (int64_t i = 0; i < inner; ++i) var += std::pow(x.get(o * inner + i) - mean, 2) / inner;
    for (int64_t i = 0; i < inner; ++i) {
      out[o * inner + i] =
          (x.get(o * inner + i) - mean) / std::sqrt(var + eps) * sc.get(i) + (b ? b->get(i) : 0);
    }
  }
  return out;
}

TEST(XCheckNorm, LayerNormalizationAxesBiasAndDtypes) {
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (int64_t axis : {1, 2}) {
      const Shape s = {3, 4, 64};
      const Shape ns(s.begin() + axis, s.end());
      Tensor x = rand_t(dt, s, -2, 5), sc = rand_t(dt, ns), b = rand_t(dt, ns), y(dt, s);
      for (int with_bias = 0; with_bias < 2; ++with_bias) {
        AttrMap at{{"axis", Attr::Int(axis)}, {"epsilon", Attr::Float(1e-5)}};
        ASSERT_TRUE(run("LayerNormalization", at, {&x, &sc, with_bias ? &b : nullptr}, {&y}).ok());
        const bool f = dt == DType::kFloat32;
        expect_close(y, layernorm_ref(x, axis, sc, with_bias ? &b : nullptr, 1e-5),
                     f ? 1e-5 : 1e-11, f ? 1e-5 : 1e-11, "LayerNormalization");
      }
    }
  }
  // A large common offset: a one-pass E[x^2]-E[x]^2 in float would lose everything.
  Tensor x = rand_t(DType::kFloat32, {2, 32}, 1000, 1001),
         sc = make(DType::kFloat32, {32}, std::vector<double>(32, 1));
  Tensor y(DType::kFloat32, {2, 32});
  ASSERT_TRUE(run("LayerNormalization", {{"axis", Attr::Int(1)}, {"epsilon", Attr::Float(1e-5)}},
                  {&x, &sc, nullptr}, {&y})
                  .ok());
  expect_close(y, layernorm_ref(x, 1, sc, nullptr, 1e-5), 2e-3, 2e-3, "LayerNorm offset");
}

TEST(XCheckNorm, GroupNormalizationPerChannelOrPerGroupScale) {
  const Shape s = {2, 6, 3, 4};
  const int64_t G = 3, C = 6, HW = 12, Cg = C / G;
  Tensor x = rand_t(DType::kFloat32, s, -2, 2), y(DType::kFloat32, s);
  for (int64_t sc_len : {C, G}) {
    Tensor sc = rand_t(DType::kFloat32, {sc_len}), b = rand_t(DType::kFloat32, {sc_len});
    Status st =
        run("GroupNormalization", {{"num_groups", Attr::Int(G)}, {"epsilon", Attr::Float(1e-5)}},
            {&x, &sc, &b}, {&y});
    if (sc_len == G && !st.ok()) continue;  // per-group scale is opset-18 only; optional here
    ASSERT_TRUE(st.ok()) << st.to_string();
    std::vector<double> want(x.numel());
    for (int64_t n = 0; n < 2; ++n) {
      for (int64_t g = 0; g < G; ++g) {
        const int64_t base = (n * C + g * Cg) * HW, cnt = Cg * HW;
        double mean = 0, var = 0;
        for (int64_t i = 0; i < cnt; ++i) mean += x.get(base + i) / cnt;
        for (int64_t i = 0; i < cnt; ++i) var += std::pow(x.get(base + i) - mean, 2) / cnt;
        for (int64_t i = 0; i < cnt; ++i) {
          const int64_t c = g * Cg + i / HW, p = sc_len == C ? c : g;
          want[base + i] = (x.get(base + i) - mean) / std::sqrt(var + 1e-5) * sc.get(p) + b.get(p);
        }
      }
    }
    expect_close(y, want, 1e-5, 1e-5, "GroupNormalization");
  }
}

// ---- reductions ----
struct RedCase {
  const char* op;
  double init;
  double (*f)(double, double);
  bool mean;
};

void check_reduce(const RedCase& r, DType dt, const Shape& s, const std::vector<int64_t>& axes,
                  int64_t keepdims) {
  Shape os;
  std::vector<bool> red(s.size(), axes.empty());
  for (int64_t a : axes) red[a] = true;
  for (size_t d = 0; d < s.size(); ++d) {
    if (!red[d])
      os.push_back(s[d]);
    else if (keepdims)
      os.push_back(1);
  }
  Tensor x = rand_t(dt, s, dt == DType::kInt64 ? -5 : 0.5, dt == DType::kInt64 ? 5 : 1.5);
  Tensor y(dt, os);
  AttrMap at{{"axes", Attr::Ints(axes)}, {"keepdims", Attr::Int(keepdims)}};
  ASSERT_TRUE(run(r.op, at, {&x}, {&y}).ok()) << r.op << " " << shape_str(os);
  Shape kshape = s;  // keepdims shape, for indexing
  for (size_t d = 0; d < s.size(); ++d)
    if (red[d]) kshape[d] = 1;
  std::vector<double> want(y.numel(), r.init);
  std::vector<int64_t> cnt(y.numel(), 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    auto c = unravel(i, s);
    for (size_t d = 0; d < s.size(); ++d)
      if (red[d]) c[d] = 0;
    const int64_t o = ravel(c, kshape);
    want[o] = r.f(want[o], x.get(i));
    ++cnt[o];
  }
  if (r.mean)
    for (size_t o = 0; o < want.size(); ++o) want[o] /= cnt[o];
  if (dt == DType::kInt64 && r.mean)
    for (double& w : want) w = std::trunc(w);
  expect_close(y, want, dt == DType::kFloat32 ? 2e-6 : 1e-12, 1e-6,
               std::string(r.op) + " " + shape_str(s) + "->" + shape_str(os));
}

TEST(XCheckReduce, AllOpsAxesKeepdims) {
  const RedCase ops[] = {
      {"ReduceSum", 0, [](double a, double b) { return a + b; }, false},
      {"ReduceMean", 0, [](double a, double b) { return a + b; }, true},
      {"ReduceMax", -INFINITY, [](double a, double b) { return std::max(a, b); }, false},
      {"ReduceMin", INFINITY, [](double a, double b) { return std::min(a, b); }, false},
      {"ReduceProd", 1, [](double a, double b) { return a * b; }, false}};
  const Shape s = {3, 4, 5};
  const std::vector<std::vector<int64_t>> axes_list = {{},     {0},    {1},      {2},
                                                       {0, 2}, {1, 2}, {0, 1, 2}};
  for (const auto& r : ops) {
    for (DType dt : {DType::kFloat32, DType::kFloat64}) {
      for (const auto& axes : axes_list) {
        for (int64_t kd : {0, 1}) check_reduce(r, dt, s, axes, kd);
      }
    }
    if (!r.mean) check_reduce(r, DType::kInt64, s, {1}, 0);
  }
}

TEST(XCheckReduce, NoopWithEmptyAxesAndBadOutput) {
  Tensor x = rand_t(DType::kFloat32, {2, 3}), y(DType::kFloat32, {2, 3});
  ASSERT_TRUE(run("ReduceSum",
                  {{"axes", Attr::Ints({})},
                   {"keepdims", Attr::Int(1)},
                   {"noop_with_empty_axes", Attr::Int(1)}},
                  {&x}, {&y})
                  .ok());
  expect_close(y, x.values(), 0, 0, "noop");
  Tensor bad(DType::kFloat32, {3});
  EXPECT_FALSE(
      run("ReduceSum", {{"axes", Attr::Ints({1})}, {"keepdims", Attr::Int(0)}}, {&x}, {&bad}).ok());
  // Long float32 sums must not drift: 1e6 ones plus a few thousandths.
  Tensor big(DType::kFloat32, {1 << 20}), s(DType::kFloat32, {});
  for (int64_t i = 0; i < big.numel(); ++i) big.set(i, i % 2 ? 1.001 : 0.999);
  ASSERT_TRUE(
      run("ReduceSum", {{"axes", Attr::Ints({0})}, {"keepdims", Attr::Int(0)}}, {&big}, {&s}).ok());
  double want = 0;
  for (int64_t i = 0; i < big.numel(); ++i) want += big.get(i);
  expect_close(s, {want}, 1e-6, 0, "long sum");
}

TEST(XCheckCumSum, ExclusiveReverseAxes) {
  const Shape s = {3, 4};
  for (DType dt : {DType::kFloat32, DType::kInt64, DType::kFloat64}) {
    Tensor x = rand_t(dt, s, -5, 5), y(dt, s);
    for (int64_t axis : {0, 1}) {
      for (int64_t excl : {0, 1}) {
        for (int64_t rev : {0, 1}) {
          ASSERT_TRUE(run("CumSum",
                          {{"axis", Attr::Int(axis)},
                           {"exclusive", Attr::Int(excl)},
                           {"reverse", Attr::Int(rev)}},
                          {&x}, {&y})
                          .ok());
          std::vector<double> want(12);
          for (int64_t i = 0; i < 12; ++i) {
            const auto c = unravel(i, s);
            double acc = 0;
            for (int64_t j = 0; j < s[axis]; ++j) {
              const bool take =
                  rev ? (excl ? j > c[axis] : j >= c[axis]) : (excl ? j < c[axis] : j <= c[axis]);
              auto cc = c;
              cc[axis] = j;
              if (take) acc += x.get(ravel(cc, s));
            }
            want[i] = acc;
          }
          expect_close(y, want, 1e-6, 1e-5, "CumSum");
        }
      }
    }
  }
}

}  // namespace
}  // namespace tessera::kernels::xcheck
