// Cross-checks (second author) of data-movement and index ops against index arithmetic written
// here, for several element sizes, plus their error paths.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

// Tensor whose element i holds i+1 (exact in every tested dtype for small sizes).
Tensor iota(DType dt, Shape s) {
  Tensor t(dt, std::move(s));
  for (int64_t i = 0; i < t.numel(); ++i) t.set(i, static_cast<double>((i + 1) % 100));
  return t;
}

TEST(XCheckShape, ReshapeFlattenSqueezeUnsqueezeCopyAndCheck) {
  Tensor x = iota(DType::kFloat32, {2, 3, 4});
  struct C {
    const char* op;
    AttrMap at;
    Shape out;
  };
  const C cases[] = {{"Reshape", {{"shape", Attr::Ints({4, 6})}}, {4, 6}},
                     {"Flatten", {{"axis", Attr::Int(1)}}, {2, 12}},
                     {"Flatten", {{"axis", Attr::Int(0)}}, {1, 24}},
                     {"Unsqueeze", {{"axes", Attr::Ints({0, 3})}}, {1, 2, 3, 1, 4}},
                     {"Identity", {}, {2, 3, 4}}};
  for (const auto& c : cases) {
    Tensor y(DType::kFloat32, c.out);
    ASSERT_TRUE(run(c.op, c.at, {&x}, {&y}).ok()) << c.op;
    expect_close(y, x.values(), 0, 0, c.op);
  }
  Tensor u = iota(DType::kInt64, {1, 3, 1, 2}), sq(DType::kInt64, {3, 2}),
         sq1(DType::kInt64, {3, 1, 2});
  ASSERT_TRUE(run("Squeeze", {{"axes", Attr::Ints({0, 2})}}, {&u}, {&sq}).ok());
  expect_close(sq, u.values(), 0, 0, "Squeeze");
  ASSERT_TRUE(run("Squeeze", {{"axes", Attr::Ints({0})}}, {&u}, {&sq1}).ok());
  Tensor bad(DType::kFloat32, {5, 5});
  EXPECT_FALSE(run("Reshape", {{"shape", Attr::Ints({5, 5})}}, {&x}, {&bad}).ok());
  Tensor bad2(DType::kFloat32, {4, 6});
  EXPECT_FALSE(run("Flatten", {{"axis", Attr::Int(1)}}, {&x}, {&bad2}).ok());
  EXPECT_FALSE(run("Squeeze", {{"axes", Attr::Ints({1})}}, {&u}, {&sq1}).ok()) << "dim 3 != 1";
}

TEST(XCheckShape, TransposeAllElementSizes) {
  const Shape s = {2, 3, 4, 5};
  const std::vector<int64_t> perms[] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {0, 2, 1, 3}, {1, 3, 0, 2}};
  for (DType dt :
       {DType::kFloat32, DType::kFloat64, DType::kInt8, DType::kFloat16, DType::kInt64}) {
    Tensor x = iota(dt, s);
    for (const auto& p : perms) {
      Shape os(4);
      for (int d = 0; d < 4; ++d) os[d] = s[p[d]];
      Tensor y(dt, os);
      ASSERT_TRUE(run("Transpose", {{"perm", Attr::Ints(p)}}, {&x}, {&y}).ok());
      std::vector<double> want(y.numel());
      for (int64_t i = 0; i < y.numel(); ++i) {
        const auto oc = unravel(i, os);
        std::vector<int64_t> ic(4);
        for (int d = 0; d < 4; ++d) ic[p[d]] = oc[d];
        want[i] = x.get(ravel(ic, s));
      }
      expect_close(y, want, 0, 0, "Transpose");
    }
  }
  Tensor x = iota(DType::kFloat32, {2, 3}), y(DType::kFloat32, {2, 3});
  EXPECT_FALSE(run("Transpose", {{"perm", Attr::Ints({1, 0})}}, {&x}, {&y}).ok());
  Tensor y2(DType::kFloat32, {3, 2});
  EXPECT_FALSE(run("Transpose", {{"perm", Attr::Ints({1, 1})}}, {&x}, {&y2}).ok()) << "bad perm";
}

TEST(XCheckShape, ExpandTileConcatSplit) {
  Tensor x = iota(DType::kFloat32, {3, 1}), e(DType::kFloat32, {2, 3, 4});
  ASSERT_TRUE(run("Expand", {{"shape", Attr::Ints({2, 3, 4})}}, {&x}, {&e}).ok());
  std::vector<double> want(24);
  for (int64_t i = 0; i < 24; ++i) want[i] = x.get(bcast_index(x.shape, e.shape, i));
  expect_close(e, want, 0, 0, "Expand");

  Tensor t = iota(DType::kInt64, {2, 3}), ty(DType::kInt64, {4, 6});
  ASSERT_TRUE(run("Tile", {{"repeats", Attr::Ints({2, 2})}}, {&t}, {&ty}).ok());
  for (int64_t i = 0; i < 24; ++i) want[i] = t.get(((i / 6) % 2) * 3 + (i % 6) % 3);
  expect_close(ty, want, 0, 0, "Tile");

  Tensor a = iota(DType::kFloat16, {2, 1, 3}), b = iota(DType::kFloat16, {2, 2, 3});
  Tensor z(DType::kFloat16, {2, 0, 3}), c(DType::kFloat16, {2, 3, 3});
  ASSERT_TRUE(run("Concat", {{"axis", Attr::Int(1)}}, {&a, &z, &b}, {&c}).ok());
  std::vector<double> cw;
  for (int64_t n = 0; n < 2; ++n) {
    for (int64_t j = 0; j < 3; ++j) cw.push_back(a.get(n * 3 + j));
    for (int64_t j = 0; j < 6; ++j) cw.push_back(b.get(n * 6 + j));
  }
  expect_close(c, cw, 0, 0, "Concat");
  Tensor badc(DType::kFloat16, {2, 4, 3});
  EXPECT_FALSE(run("Concat", {{"axis", Attr::Int(1)}}, {&a, &b}, {&badc}).ok());

  Tensor s = iota(DType::kFloat32, {2, 5}), s0(DType::kFloat32, {2, 2}),
         s1(DType::kFloat32, {2, 3});
  ASSERT_TRUE(
      run("Split", {{"axis", Attr::Int(1)}, {"split", Attr::Ints({2, 3})}}, {&s}, {&s0, &s1}).ok());
  expect_close(s0, {1, 2, 6, 7}, 0, 0, "Split 0");
  expect_close(s1, {3, 4, 5, 8, 9, 10}, 0, 0, "Split 1");
  Tensor s2(DType::kFloat32, {2, 2});
  EXPECT_FALSE(
      run("Split", {{"axis", Attr::Int(1)}, {"split", Attr::Ints({2, 2})}}, {&s}, {&s0, &s2}).ok())
      << "split sizes do not cover the axis";
}

TEST(XCheckShape, SlicePositiveAndNegativeSteps) {
  const Shape s = {5, 6, 3};
  Tensor x = iota(DType::kFloat32, s);
  struct C {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  // Canonical form: bounds already clamped per the spec (end -1 with a negative step = before 0).
  const C cases[] = {{{1}, {4}, {1}, {1}},
                     {{4, 1}, {-1, 6}, {0, 1}, {-2, 2}},
                     {{0, 5, 2}, {5, -1, -1}, {0, 1, 2}, {1, -1, -1}},
                     {{3}, {3}, {0}, {1}},
                     {{5}, {0}, {1}, {-3}}};
  for (const auto& c : cases) {
    Shape os = s;
    std::vector<int64_t> start(3, 0), step(3, 1);
    for (size_t k = 0; k < c.axes.size(); ++k) {
      const int64_t a = c.axes[k], st = c.steps[k];
      const int64_t len = st > 0 ? (c.ends[k] - c.starts[k] + st - 1) / st
                                 : (c.starts[k] - c.ends[k] - st - 1) / -st;
      os[a] = std::max<int64_t>(0, len);
      start[a] = c.starts[k];
      step[a] = st;
    }
    Tensor y(DType::kFloat32, os);
    AttrMap at{{"starts", Attr::Ints(c.starts)},
               {"ends", Attr::Ints(c.ends)},
               {"axes", Attr::Ints(c.axes)},
               {"steps", Attr::Ints(c.steps)}};
    ASSERT_TRUE(run("Slice", at, {&x}, {&y}).ok()) << shape_str(os);
    std::vector<double> want(y.numel());
    for (int64_t i = 0; i < y.numel(); ++i) {
      auto oc = unravel(i, os);
      for (int d = 0; d < 3; ++d) oc[d] = start[d] + oc[d] * step[d];
      want[i] = x.get(ravel(oc, s));
    }
    expect_close(y, want, 0, 0, "Slice " + shape_str(os));
  }
  Tensor bad(DType::kFloat32, {2, 6, 3});
  EXPECT_FALSE(run("Slice",
                   {{"starts", Attr::Ints({1})},
                    {"ends", Attr::Ints({4})},
                    {"axes", Attr::Ints({0})},
                    {"steps", Attr::Ints({1})}},
                   {&x}, {&bad})
                   .ok());
  Tensor ok(DType::kFloat32, {3, 6, 3});
  EXPECT_FALSE(run("Slice",
                   {{"starts", Attr::Ints({1})},
                    {"ends", Attr::Ints({4})},
                    {"axes", Attr::Ints({0})},
                    {"steps", Attr::Ints({0})}},
                   {&x}, {&ok})
                   .ok())
      << "step 0";
}

int64_t pad_src(int64_t c, int64_t n, const std::string& mode) {
  if (c >= 0 && c < n) return c;
  if (mode == "edge") return std::clamp<int64_t>(c, 0, n - 1);
  if (mode == "reflect") {
    const int64_t p = 2 * (n - 1);
    int64_t r = ((c % p) + p) % p;
    return r < n ? r : p - r;
  }
  return -1;
}

TEST(XCheckShape, PadConstantReflectEdge) {
  const Shape s = {2, 3, 4};
  for (const std::string mode : {"constant", "reflect", "edge"}) {
    for (DType dt : {DType::kFloat32, DType::kInt64}) {
      Tensor x = iota(dt, s);
      const std::vector<int64_t> pads = {0, 2, 1, 1, 1, 3};
      const Shape os = {3, 6, 8};
      Tensor y(dt, os);
      AttrMap at{{"pads", Attr::Ints(pads)},
                 {"mode", Attr::Str(mode)},
                 {"constant_value", Attr::Float(-7)}};
      ASSERT_TRUE(run("Pad", at, {&x}, {&y}).ok()) << mode;
      std::vector<double> want(y.numel());
      for (int64_t i = 0; i < y.numel(); ++i) {
        auto c = unravel(i, os);
        bool inside = true;
        for (int d = 0; d < 3; ++d) {
          c[d] = pad_src(c[d] - pads[d], s[d], mode);
          inside = inside && c[d] >= 0;
        }
        want[i] = inside ? x.get(ravel(c, s)) : -7;
      }
      expect_close(y, want, 0, 0, "Pad " + mode);
    }
  }
  Tensor x = iota(DType::kFloat32, {4}), crop(DType::kFloat32, {3});
  ASSERT_TRUE(run("Pad",
                  {{"pads", Attr::Ints({-2, 1})},
                   {"mode", Attr::Str("constant")},
                   {"constant_value", Attr::Float(0)}},
                  {&x}, {&crop})
                  .ok());
  expect_close(crop, {3, 4, 0}, 0, 0, "negative pad crops");
  Tensor bad(DType::kFloat32, {7});
  EXPECT_FALSE(
      run("Pad", {{"pads", Attr::Ints({1, 1})}, {"mode", Attr::Str("constant")}}, {&x}, {&bad})
          .ok());
}

TEST(XCheckShape, TriluUpperLowerWithK) {
  const Shape s = {2, 3, 4};
  Tensor x = iota(DType::kFloat32, s);
  for (int64_t upper : {0, 1}) {
    for (int64_t k : {-1, 0, 2}) {
      Tensor y(DType::kFloat32, s);
      ASSERT_TRUE(
          run("Trilu", {{"upper", Attr::Int(upper)}, {"k", Attr::Int(k)}}, {&x}, {&y}).ok());
      std::vector<double> want(24);
      for (int64_t i = 0; i < 24; ++i) {
        const int64_t r = (i / 4) % 3, c = i % 4;
        const bool keep = upper ? c - r >= k : c - r <= k;
        want[i] = keep ? x.get(i) : 0;
      }
      expect_close(y, want, 0, 0, "Trilu");
    }
  }
}

// ---- index ops ----
TEST(XCheckIndex, GatherAxesNegativeIndicesAndErrors) {
  Tensor d = iota(DType::kFloat32, {3, 4});
  for (DType it : {DType::kInt64, DType::kInt32}) {
    Tensor idx = make(it, {2, 2}, {0, -1, 2, 1});
    Tensor y0(DType::kFloat32, {2, 2, 4}), y1(DType::kFloat32, {3, 2, 2});
    ASSERT_TRUE(run("Gather", {{"axis", Attr::Int(0)}}, {&d, &idx}, {&y0}).ok());
    std::vector<double> w0, w1;
    for (int64_t r : {0, 2, 2, 1})
      for (int64_t c = 0; c < 4; ++c) w0.push_back(d.get(r * 4 + c));
    expect_close(y0, w0, 0, 0, "Gather axis 0");
    ASSERT_TRUE(run("Gather", {{"axis", Attr::Int(1)}}, {&d, &idx}, {&y1}).ok());
    for (int64_t r = 0; r < 3; ++r)
      for (int64_t c : {0, 3, 2, 1}) w1.push_back(d.get(r * 4 + c));
    expect_close(y1, w1, 0, 0, "Gather axis 1");
  }
  Tensor scalar_idx = i64({}, {-3}), row(DType::kFloat32, {4});
  ASSERT_TRUE(run("Gather", {{"axis", Attr::Int(0)}}, {&d, &scalar_idx}, {&row}).ok());
  expect_close(row, {1, 2, 3, 4}, 0, 0, "Gather scalar index");
  for (double bad : {3.0, -4.0, 1e12}) {
    Tensor idx = i64({1}, {bad}), y(DType::kFloat32, {1, 4});
    EXPECT_FALSE(run("Gather", {{"axis", Attr::Int(0)}}, {&d, &idx}, {&y}).ok()) << bad;
  }
  Tensor fidx = f32({1}, {0}), y(DType::kFloat32, {1, 4});
  EXPECT_FALSE(run("Gather", {{"axis", Attr::Int(0)}}, {&d, &fidx}, {&y}).ok()) << "float index";
  // Embedding-like: large table, int64 ids; bytes of any element size (f64 rows).
  Tensor emb = rand_t(DType::kFloat64, {50, 8}), ids = i64({2, 3}, {0, 49, 7, -1, 3, 3});
  Tensor e(DType::kFloat64, {2, 3, 8});
  ASSERT_TRUE(run("Gather", {{"axis", Attr::Int(0)}}, {&emb, &ids}, {&e}).ok());
  std::vector<double> ew;
  for (int64_t r : {0, 49, 7, 49, 3, 3})
    for (int64_t c = 0; c < 8; ++c) ew.push_back(emb.get(r * 8 + c));
  expect_close(e, ew, 0, 0, "Gather f64 rows");
}

TEST(XCheckIndex, GatherElements) {
  Tensor d = iota(DType::kInt64, {3, 3});
  Tensor idx = i64({3, 2}, {0, -1, 2, 1, 1, 1}), y(DType::kInt64, {3, 2});
  ASSERT_TRUE(run("GatherElements", {{"axis", Attr::Int(1)}}, {&d, &idx}, {&y}).ok());
  expect_close(y, {1, 3, 6, 5, 8, 8}, 0, 0, "GatherElements axis 1");
  Tensor idx0 = i64({2, 3}, {1, 2, 0, 2, 0, -3}), y0(DType::kInt64, {2, 3});
  ASSERT_TRUE(run("GatherElements", {{"axis", Attr::Int(0)}}, {&d, &idx0}, {&y0}).ok());
  expect_close(y0, {4, 8, 3, 7, 2, 3}, 0, 0, "GatherElements axis 0");
  Tensor bad = i64({1, 1}, {3}), yb(DType::kInt64, {1, 1});
  EXPECT_FALSE(run("GatherElements", {{"axis", Attr::Int(0)}}, {&d, &bad}, {&yb}).ok());
}

TEST(XCheckIndex, GatherNDBatchDims) {
  Tensor d = make(DType::kFloat32, {2, 2}, {0, 1, 2, 3});
  Tensor i1 = i64({2, 2}, {0, 0, 1, 1}), y1(DType::kFloat32, {2});
  ASSERT_TRUE(run("GatherND", {{"batch_dims", Attr::Int(0)}}, {&d, &i1}, {&y1}).ok());
  expect_close(y1, {0, 3}, 0, 0, "GatherND full index");
  Tensor i2 = i64({2, 1}, {1, 0}), y2(DType::kFloat32, {2, 2});
  ASSERT_TRUE(run("GatherND", {{"batch_dims", Attr::Int(0)}}, {&d, &i2}, {&y2}).ok());
  expect_close(y2, {2, 3, 0, 1}, 0, 0, "GatherND slices");
  Tensor d3 = make(DType::kFloat32, {2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Tensor i3 = i64({2, 1}, {1, 0}), y3(DType::kFloat32, {2, 2});
  ASSERT_TRUE(run("GatherND", {{"batch_dims", Attr::Int(1)}}, {&d3, &i3}, {&y3}).ok());
  expect_close(y3, {2, 3, 4, 5}, 0, 0, "GatherND batch_dims 1");
  Tensor i4 = i64({2, 1}, {-1, 0}), y4(DType::kFloat32, {2, 2});
  ASSERT_TRUE(run("GatherND", {{"batch_dims", Attr::Int(0)}}, {&d, &i4}, {&y4}).ok());
  expect_close(y4, {2, 3, 0, 1}, 0, 0, "GatherND negative index");
  Tensor i5 = i64({1, 2}, {0, 2}), y5(DType::kFloat32, {1});
  EXPECT_FALSE(run("GatherND", {{"batch_dims", Attr::Int(0)}}, {&d, &i5}, {&y5}).ok());
}

}  // namespace
}  // namespace tessera::kernels::xcheck
