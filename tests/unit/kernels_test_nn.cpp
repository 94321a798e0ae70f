// Softmax, normalisations, reductions and CumSum against float64 references.
#include <cmath>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

// Splits `s` at `axis` into outer x n x inner for the references.
void split3(const Shape& s, int64_t axis, int64_t* o, int64_t* n, int64_t* i) {
  *o = num_elements(Shape(s.begin(), s.begin() + axis));
  *n = s[axis];
  *i = num_elements(Shape(s.begin() + axis + 1, s.end()));
}

TEST(Softmax, AllAxesBothForms) {
  const Shape s = {3, 4, 5};
  Tensor x = rand_f32(s, 11, -5, 5);
  const auto v = x.values();
  for (int64_t axis = 0; axis < 3; ++axis) {
    int64_t O, N, I;
    split3(s, axis, &O, &N, &I);
    std::vector<double> sm(v.size()), lsm(v.size());
    for (int64_t o = 0; o < O; ++o)
      for (int64_t i = 0; i < I; ++i) {
        double z = 0;
        for (int64_t j = 0; j < N; ++j) z += std::exp(v[(o * N + j) * I + i]);
        for (int64_t j = 0; j < N; ++j) {
          const int64_t e = (o * N + j) * I + i;
          sm[e] = std::exp(v[e]) / z;
          lsm[e] = v[e] - std::log(z);
        }
      }
    AttrMap at = {{"axis", Attr::Int(axis)}};
    expect_near(run1("Softmax", at, {&x}, DType::kFloat32, s).values(), sm, 1e-7, 1e-6, "softmax");
    expect_near(run1("LogSoftmax", at, {&x}, DType::kFloat32, s).values(), lsm, 1e-6, 1e-6,
                "logsoftmax");
  }
  Tensor big = f32({3}, {1000, 1000, -INFINITY});  // no overflow
  expect_near(run1("Softmax", {}, {&big}, DType::kFloat32, {3}).values(), {0.5, 0.5, 0}, 1e-7);
  Tensor o = zeros(DType::kFloat32, {3});
  EXPECT_FALSE(run("Softmax", {{"axis", Attr::Int(3)}}, {&big}, {&o}).ok());
}

TEST(Norms, BatchLayerGroup) {
  const Shape s = {2, 6, 3, 4};
  Tensor x = rand_f32(s, 21, -2, 3);
  const auto v = x.values();
  const double eps = 1e-3;
  // BatchNormalization
  Tensor sc = rand_f32({6}, 22), b = rand_f32({6}, 23), mu = rand_f32({6}, 24),
         var = rand_f32({6}, 25, 0.1, 2);
  std::vector<double> bn(v.size());
  for (size_t e = 0; e < v.size(); ++e) {
    const int64_t c = unravel(static_cast<int64_t>(e), s)[1];
    bn[e] =
        (v[e] - mu.values()[c]) / std::sqrt(var.values()[c] + eps) * sc.values()[c] + b.values()[c];
  }
  expect_near(run1("BatchNormalization", {{"epsilon", Attr::Float(eps)}}, {&x, &sc, &b, &mu, &var},
                   DType::kFloat32, s)
                  .values(),
              bn, 1e-5, 1e-5, "batchnorm");
  // LayerNormalization over the last two axes, scale of full and broadcast shape
  for (const Shape& ps : {Shape{3, 4}, Shape{4}, Shape{3, 1}}) {
    Tensor g = rand_f32(ps, 26), bb = rand_f32(ps, 27);
    std::vector<double> ln(v.size());
    for (int64_t r = 0; r < 12; ++r) {
      double m = 0, q = 0;
      for (int i = 0; i < 12; ++i) m += v[r * 12 + i] / 12;
      for (int i = 0; i < 12; ++i) q += (v[r * 12 + i] - m) * (v[r * 12 + i] - m) / 12;
      for (int64_t i = 0; i < 12; ++i) {
        const int64_t pi = bcast_index({i / 4, i % 4}, ps);
        ln[r * 12 + i] =
            (v[r * 12 + i] - m) / std::sqrt(q + eps) * g.values()[pi] + bb.values()[pi];
      }
    }
    AttrMap at = {{"axis", Attr::Int(2)}, {"epsilon", Attr::Float(eps)}};
    expect_near(run1("LayerNormalization", at, {&x, &g, &bb}, DType::kFloat32, s).values(), ln,
                1e-5, 1e-5, "layernorm scale " + shape_str(ps));
  }
  // GroupNormalization, 3 groups of 2 channels; per-channel and per-group parameters
  for (int64_t ns : {6, 3}) {
    Tensor g = rand_f32({ns}, 28), bb = rand_f32({ns}, 29);
    std::vector<double> gn(v.size());
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t grp = 0; grp < 3; ++grp) {
        const int64_t base = (n * 6 + grp * 2) * 12, cnt = 24;
        double m = 0, q = 0;
        for (int64_t i = 0; i < cnt; ++i) m += v[base + i] / cnt;
        for (int64_t i = 0; i < cnt; ++i) q += (v[base + i] - m) * (v[base + i] - m) / cnt;
        for (int64_t i = 0; i < cnt; ++i) {
          const int64_t pi = ns == 6 ? grp * 2 + i / 12 : grp;
          gn[base + i] = (v[base + i] - m) / std::sqrt(q + eps) * g.values()[pi] + bb.values()[pi];
        }
      }
    AttrMap at = {{"num_groups", Attr::Int(3)}, {"epsilon", Attr::Float(eps)}};
    expect_near(run1("GroupNormalization", at, {&x, &g, &bb}, DType::kFloat32, s).values(), gn,
                1e-5, 1e-5, "groupnorm");
  }
  Tensor o = zeros(DType::kFloat32, s), g4 = rand_f32({4}, 1);
  EXPECT_FALSE(
      run("GroupNormalization", {{"num_groups", Attr::Int(4)}}, {&x, &g4, &g4}, {&o}).ok());
  EXPECT_FALSE(run("BatchNormalization", {}, {&x, &g4, &g4, &g4, &g4}, {&o}).ok());
}

TEST(Reduce, AllOpsAllAxesSubsets) {
  const Shape s = {3, 4, 5};
  Tensor x = rand_f32(s, 31, 0.5, 1.5);
  const auto v = x.values();
  for (int mask = 0; mask < 8; ++mask) {
    std::vector<int64_t> axes;
    for (int d = 0; d < 3; ++d)
      if (mask & (1 << d)) axes.push_back(d);
    Shape keep = s, dropped;
    for (int d = 0; d < 3; ++d) {
      if (mask & (1 << d) || mask == 0)
        keep[d] = 1;
      else
        dropped.push_back(s[d]);
    }
    const int64_t no = num_elements(keep);
    std::vector<double> sum(no, 0), prod(no, 1), mx(no, -INFINITY), mn(no, INFINITY), cnt(no, 0);
    for (int64_t e = 0; e < x.numel(); ++e) {
      const int64_t o = bcast_index(unravel(e, s), keep);
      sum[o] += v[e];
      prod[o] *= v[e];
      mx[o] = std::max(mx[o], v[e]);
      mn[o] = std::min(mn[o], v[e]);
      cnt[o] += 1;
    }
    std::vector<double> mean(no);
    for (int64_t o = 0; o < no; ++o) mean[o] = sum[o] / cnt[o];
    for (int keepdims = 0; keepdims < 2; ++keepdims) {
      AttrMap at = {{"axes", Attr::Ints(axes)}, {"keepdims", Attr::Int(keepdims)}};
      const Shape os = keepdims ? keep : dropped;
      const std::string what = "mask " + std::to_string(mask);
      expect_near(run1("ReduceSum", at, {&x}, DType::kFloat32, os).values(), sum, 1e-5, 1e-6, what);
      expect_near(run1("ReduceMean", at, {&x}, DType::kFloat32, os).values(), mean, 1e-6, 1e-6,
                  what);
      expect_near(run1("ReduceProd", at, {&x}, DType::kFloat32, os).values(), prod, 1e-6, 1e-5,
                  what);
      expect_near(run1("ReduceMax", at, {&x}, DType::kFloat32, os).values(), mx, 0, 0, what);
      expect_near(run1("ReduceMin", at, {&x}, DType::kFloat32, os).values(), mn, 0, 0, what);
    }
  }
  Tensor xi = i64({2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(run1("ReduceSum", {{"axes", Attr::Ints({1})}, {"keepdims", Attr::Int(0)}}, {&xi},
                 DType::kInt64, {2})
                .values(),
            (std::vector<double>{6, 15}));
  EXPECT_EQ(
      run1("ReduceSum", {{"noop_with_empty_axes", Attr::Int(1)}}, {&xi}, DType::kInt64, {2, 3})
          .values(),
      xi.values());
  Tensor o = zeros(DType::kFloat32, {3, 5});
  EXPECT_FALSE(run("ReduceSum", {{"axes", Attr::Ints({1})}}, {&x}, {&o}).ok());  // keepdims=1
  EXPECT_FALSE(
      run("ReduceSum", {{"axes", Attr::Ints({3})}, {"keepdims", Attr::Int(0)}}, {&x}, {&o}).ok());
}

TEST(CumSum, FlagsAndAxes) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto cs = [&](int64_t axis, int ex, int rev) {
    return run1("CumSum",
                {{"axis", Attr::Int(axis)},
                 {"exclusive", Attr::Int(ex)},
                 {"reverse", Attr::Int(rev)}},
                {&x}, DType::kFloat32, {2, 3})
        .values();
  };
  EXPECT_EQ(cs(1, 0, 0), (std::vector<double>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(cs(1, 1, 0), (std::vector<double>{0, 1, 3, 0, 4, 9}));
  EXPECT_EQ(cs(1, 0, 1), (std::vector<double>{6, 5, 3, 15, 11, 6}));
  EXPECT_EQ(cs(1, 1, 1), (std::vector<double>{5, 3, 0, 11, 6, 0}));
  EXPECT_EQ(cs(0, 0, 0), (std::vector<double>{1, 2, 3, 5, 7, 9}));
  Tensor xi = i64({4}, {1, 2, 3, 4});
  EXPECT_EQ(run1("CumSum", {}, {&xi}, DType::kInt64, {4}).values(),
            (std::vector<double>{1, 3, 6, 10}));
}

}  // namespace
}  // namespace tessera::kernels::testing
