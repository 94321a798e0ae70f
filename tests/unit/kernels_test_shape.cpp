// Data-movement and index kernels against references computed element by element here.
#include <algorithm>

#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

std::vector<double> iota(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<double>(i);
  return v;
}

TEST(ShapeOps, ReshapeFlattenSqueezeUnsqueeze) {
  Tensor x = f32({2, 1, 3}, iota(6));
  EXPECT_EQ(
      run1("Reshape", {{"shape", Attr::Ints({3, 2})}}, {&x}, DType::kFloat32, {3, 2}).values(),
      iota(6));
  EXPECT_EQ(run1("Flatten", {{"axis", Attr::Int(2)}}, {&x}, DType::kFloat32, {2, 3}).values(),
            iota(6));
  EXPECT_EQ(run1("Flatten", {{"axis", Attr::Int(0)}}, {&x}, DType::kFloat32, {1, 6}).values(),
            iota(6));
  EXPECT_EQ(run1("Squeeze", {{"axes", Attr::Ints({1})}}, {&x}, DType::kFloat32, {2, 3}).values(),
            iota(6));
  EXPECT_EQ(run1("Squeeze", {}, {&x}, DType::kFloat32, {2, 3}).values(), iota(6));
  EXPECT_EQ(
      run1("Unsqueeze", {{"axes", Attr::Ints({0, 4})}}, {&x}, DType::kFloat32, {1, 2, 1, 3, 1})
          .values(),
      iota(6));
  Tensor o = zeros(DType::kFloat32, {4, 2});
  EXPECT_FALSE(run("Reshape", {{"shape", Attr::Ints({4, 2})}}, {&x}, {&o}).ok());
  Tensor o2 = zeros(DType::kFloat32, {1, 3});
  EXPECT_FALSE(run("Squeeze", {{"axes", Attr::Ints({0})}}, {&x}, {&o2}).ok());  // dim 0 is 2
}

TEST(ShapeOps, TransposeAllPermsAnyDtype) {
  const Shape s = {2, 3, 4};
  Tensor x = zeros(DType::kInt64, s);
  for (int64_t i = 0; i < 24; ++i) x.as<int64_t>()[i] = i * 7 - 3;
  std::vector<int64_t> perm = {0, 1, 2};
  do {
    Shape os = {s[perm[0]], s[perm[1]], s[perm[2]]};
    std::vector<double> want;
    for (int64_t i = 0; i < 24; ++i) {
      const auto c = unravel(i, os);
      std::vector<int64_t> ic(3);
      for (int d = 0; d < 3; ++d) ic[perm[d]] = c[d];
      want.push_back(x.values()[(ic[0] * 3 + ic[1]) * 4 + ic[2]]);
    }
    EXPECT_EQ(run1("Transpose", {{"perm", Attr::Ints(perm)}}, {&x}, DType::kInt64, os).values(),
              want);
    Tensor h = zeros(DType::kFloat16, s);  // 2-byte elements
    for (int64_t i = 0; i < 24; ++i) h.as<uint16_t>()[i] = static_cast<uint16_t>(i);
    Tensor ho = run1("Transpose", {{"perm", Attr::Ints(perm)}}, {&h}, DType::kFloat16, os);
    for (int64_t i = 0; i < 24; ++i) EXPECT_EQ(ho.as<uint16_t>()[i], (want[i] + 3) / 7);
  } while (std::next_permutation(perm.begin(), perm.end()));
  Tensor o = zeros(DType::kInt64, s);
  EXPECT_FALSE(run("Transpose", {{"perm", Attr::Ints({0, 0, 1})}}, {&x}, {&o}).ok());
}

TEST(ShapeOps, ExpandTileConcatSplit) {
  Tensor x = f32({3, 1}, {1, 2, 3});
  EXPECT_EQ(
      run1("Expand", {{"shape", Attr::Ints({2, 1, 2})}}, {&x}, DType::kFloat32, {2, 3, 2}).values(),
      (std::vector<double>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  Tensor y = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(run1("Tile", {{"repeats", Attr::Ints({2, 3})}}, {&y}, DType::kFloat32, {4, 6}).values(),
            (std::vector<double>{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                                 1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}));
  Tensor a = i32({2, 1}, {1, 2}), b = i32({2, 2}, {3, 4, 5, 6});
  EXPECT_EQ(run1("Concat", {{"axis", Attr::Int(1)}}, {&a, &b}, DType::kInt32, {2, 3}).values(),
            (std::vector<double>{1, 3, 4, 2, 5, 6}));
  Tensor c = i32({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor p = zeros(DType::kInt32, {2, 1}), q = zeros(DType::kInt32, {2, 2});
  ASSERT_TRUE(
      run("Split", {{"axis", Attr::Int(1)}, {"split", Attr::Ints({1, 2})}}, {&c}, {&p, &q}).ok());
  EXPECT_EQ(p.values(), (std::vector<double>{1, 4}));
  EXPECT_EQ(q.values(), (std::vector<double>{2, 3, 5, 6}));
  EXPECT_FALSE(
      run("Split", {{"axis", Attr::Int(1)}, {"split", Attr::Ints({2, 2})}}, {&c}, {&p, &q}).ok());
  Tensor bad = zeros(DType::kInt32, {2, 4});
  EXPECT_FALSE(run("Concat", {{"axis", Attr::Int(1)}}, {&a, &b}, {&bad}).ok());
  Tensor bad_x = zeros(DType::kFloat32, {3, 3});
  EXPECT_FALSE(run("Expand", {{"shape", Attr::Ints({2, 3})}}, {&x}, {&bad_x}).ok());
}

// Reference slice on one axis for canonical (already clamped) bounds: b, b+st, ... before e.
std::vector<int64_t> canon_range(int64_t b, int64_t e, int64_t st) {
  std::vector<int64_t> r;
  for (int64_t i = b; st > 0 ? i < e : i > e; i += st) r.push_back(i);
  return r;
}

TEST(ShapeOps, SliceStepsIncludingNegative) {
  const Shape s = {4, 5, 6};
  Tensor x = f32(s, iota(120));
  struct C {
    std::vector<int64_t> starts, ends, axes, steps;
  };
  // Canonical bounds: positive steps in [0, dim], negative steps start in [0, dim-1] and end in
  // [-1, dim-1] where -1 means "past index 0" (x[::-1]).
  const C cases[] = {{{1}, {3}, {0}, {1}},
                     {{4}, {-1}, {1}, {-1}},
                     {{5, 0}, {0, 4}, {2, 0}, {-2, 2}},
                     {{0, 4, 4}, {3, -1, 1}, {0, 1, 2}, {1, -3, -1}},
                     {{2}, {2}, {2}, {1}},
                     {{0}, {5}, {1}, {3}},
                     {{3}, {0}, {0}, {-1}}};
  for (const auto& c : cases) {
    std::vector<std::vector<int64_t>> ranges;
    for (int d = 0; d < 3; ++d) ranges.push_back(canon_range(0, s[d], 1));
    for (size_t i = 0; i < c.axes.size(); ++i) {
      ranges[c.axes[i]] = canon_range(c.starts[i], c.ends[i], c.steps[i]);
    }
    Shape os = {static_cast<int64_t>(ranges[0].size()), static_cast<int64_t>(ranges[1].size()),
                static_cast<int64_t>(ranges[2].size())};
    std::vector<double> want;
    for (int64_t i : ranges[0])
      for (int64_t j : ranges[1])
        for (int64_t k : ranges[2]) want.push_back((i * 5 + j) * 6 + k);
    AttrMap at = {{"starts", Attr::Ints(c.starts)},
                  {"ends", Attr::Ints(c.ends)},
                  {"axes", Attr::Ints(c.axes)},
                  {"steps", Attr::Ints(c.steps)}};
    EXPECT_EQ(run1("Slice", at, {&x}, DType::kFloat32, os).values(), want) << shape_str(os);
  }
  // Out-of-range bounds from a malformed plan are clamped, never read outside the buffer.
  AttrMap wild = {{"starts", Attr::Ints({-7})},
                  {"ends", Attr::Ints({100})},
                  {"axes", Attr::Ints({1})},
                  {"steps", Attr::Ints({2})}};
  std::vector<double> want;
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j : {0, 2, 4})
      for (int64_t k = 0; k < 6; ++k) want.push_back((i * 5 + j) * 6 + k);
  EXPECT_EQ(run1("Slice", wild, {&x}, DType::kFloat32, {4, 3, 6}).values(), want);
  Tensor o = zeros(DType::kFloat32, s);
  EXPECT_FALSE(run("Slice",
                   {{"starts", Attr::Ints({0})},
                    {"ends", Attr::Ints({1})},
                    {"axes", Attr::Ints({0})},
                    {"steps", Attr::Ints({0})}},
                   {&x}, {&o})
                   .ok());
}

TEST(IndexOps, GatherBoundsAndNegative) {
  Tensor d = f32({3, 4}, iota(12));
  Tensor idx = i64({2, 2}, {2, -1, 0, 1});
  std::vector<double> want;
  for (int64_t r = 0; r < 3; ++r)
    for (int64_t k : {2, 3, 0, 1}) want.push_back(r * 4 + k);
  EXPECT_EQ(
      run1("Gather", {{"axis", Attr::Int(1)}}, {&d, &idx}, DType::kFloat32, {3, 2, 2}).values(),
      want);
  Tensor i0 = i32({2}, {2, -3});
  EXPECT_EQ(run1("Gather", {}, {&d, &i0}, DType::kFloat32, {2, 4}).values(),
            (std::vector<double>{8, 9, 10, 11, 0, 1, 2, 3}));
  Tensor oob = i64({1}, {3}), o = zeros(DType::kFloat32, {1, 4});
  Status s = run("Gather", {}, {&d, &oob}, {&o});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("out of range"), std::string::npos) << s.message();
  Tensor neg = i64({1}, {-4});
  EXPECT_FALSE(run("Gather", {}, {&d, &neg}, {&o}).ok());
  Tensor fidx = f32({1}, {0});
  EXPECT_FALSE(run("Gather", {}, {&d, &fidx}, {&o}).ok());
}

TEST(IndexOps, GatherElementsAndND) {
  Tensor d = f32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor idx = i64({2, 3}, {1, 2, 0, 2, 0, 0});  // ONNX example, axis 0
  EXPECT_EQ(run1("GatherElements", {{"axis", Attr::Int(0)}}, {&d, &idx}, DType::kFloat32, {2, 3})
                .values(),
            (std::vector<double>{4, 8, 3, 7, 2, 3}));
  Tensor idx1 = i64({3, 2}, {0, 0, 1, 0, -1, 2});
  EXPECT_EQ(run1("GatherElements", {{"axis", Attr::Int(1)}}, {&d, &idx1}, DType::kFloat32, {3, 2})
                .values(),
            (std::vector<double>{1, 1, 5, 4, 9, 9}));
  Tensor bad = i64({2, 3}, {1, 2, 0, 3, 0, 0}), o = zeros(DType::kFloat32, {2, 3});
  EXPECT_FALSE(run("GatherElements", {{"axis", Attr::Int(0)}}, {&d, &bad}, {&o}).ok());
  // GatherND examples from the ONNX spec
  Tensor d2 = i32({2, 2}, {0, 1, 2, 3}), n1 = i64({2, 2}, {0, 0, 1, 1});
  EXPECT_EQ(run1("GatherND", {}, {&d2, &n1}, DType::kInt32, {2}).values(),
            (std::vector<double>{0, 3}));
  Tensor n2 = i64({2, 1}, {1, 0});
  EXPECT_EQ(run1("GatherND", {}, {&d2, &n2}, DType::kInt32, {2, 2}).values(),
            (std::vector<double>{2, 3, 0, 1}));
  Tensor d3 = f32({2, 2, 2}, iota(8)), n3 = i64({2, 1}, {1, 0});
  EXPECT_EQ(run1("GatherND", {{"batch_dims", Attr::Int(1)}}, {&d3, &n3}, DType::kFloat32, {2, 2})
                .values(),
            (std::vector<double>{2, 3, 4, 5}));
  Tensor n4 = i64({1, 2}, {0, 2}), o4 = zeros(DType::kInt32, {1});
  EXPECT_FALSE(run("GatherND", {}, {&d2, &n4}, {&o4}).ok());
}

TEST(ShapeOps, PadModes) {
  Tensor x = f32({3, 2}, {1.0, 1.2, 2.3, 3.4, 4.5, 5.7});  // ONNX spec examples
  AttrMap at = {{"pads", Attr::Ints({0, 2, 0, 0})}};
  EXPECT_EQ(run1("Pad", at, {&x}, DType::kFloat32, {3, 4}).values(),
            f32({12}, {0, 0, 1.0, 1.2, 0, 0, 2.3, 3.4, 0, 0, 4.5, 5.7}).values());
  at["mode"] = Attr::Str("reflect");
  EXPECT_EQ(run1("Pad", at, {&x}, DType::kFloat32, {3, 4}).values(),
            f32({12}, {1.0, 1.2, 1.0, 1.2, 2.3, 3.4, 2.3, 3.4, 4.5, 5.7, 4.5, 5.7}).values());
  at["mode"] = Attr::Str("edge");
  EXPECT_EQ(run1("Pad", at, {&x}, DType::kFloat32, {3, 4}).values(),
            f32({12}, {1.0, 1.0, 1.0, 1.2, 2.3, 2.3, 2.3, 3.4, 4.5, 4.5, 4.5, 5.7}).values());
  Tensor y = i64({3}, {1, 2, 3});  // reflect wider than the dim, crop, constant value
  EXPECT_EQ(run1("Pad", {{"pads", Attr::Ints({4, 1})}, {"mode", Attr::Str("reflect")}}, {&y},
                 DType::kInt64, {8})
                .values(),
            (std::vector<double>{1, 2, 3, 2, 1, 2, 3, 2}));
  EXPECT_EQ(run1("Pad", {{"pads", Attr::Ints({-1, 2})}, {"constant_value", Attr::Float(9)}}, {&y},
                 DType::kInt64, {4})
                .values(),
            (std::vector<double>{2, 3, 9, 9}));
  Tensor o = zeros(DType::kFloat32, {3, 3});
  EXPECT_FALSE(run("Pad", at, {&x}, {&o}).ok());
}

TEST(ShapeOps, Trilu) {
  Tensor x = f32({2, 3, 4}, iota(24));
  for (int upper = 0; upper < 2; ++upper)
    for (int64_t k : {-1, 0, 2, 5}) {
      std::vector<double> want;
      for (int64_t i = 0; i < 24; ++i) {
        const int64_t r = (i / 4) % 3, c = i % 4;
        want.push_back((upper ? c - r >= k : c - r <= k) ? i : 0);
      }
      EXPECT_EQ(run1("Trilu", {{"upper", Attr::Int(upper)}, {"k", Attr::Int(k)}}, {&x},
                     DType::kFloat32, {2, 3, 4})
                    .values(),
                want)
          << upper << " " << k;
    }
}

}  // namespace
}  // namespace tessera::kernels::testing
