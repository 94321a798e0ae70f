// Cross-checks (second author) of MatMul, Gemm, Conv, ConvTranspose and pooling against naive
// float64 loops written here from the ONNX definitions.
#include <algorithm>
#include <cmath>
#include <limits>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

// numpy matmul of a [..., M, K] and b [..., K, N] (1-d operands promoted and then squeezed).
std::vector<double> matmul_ref(const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Shape sa = a.shape, sb = b.shape;
  if (sa.size() == 1) sa.insert(sa.begin(), 1);
  if (sb.size() == 1) sb.push_back(1);
  const int64_t M = sa[sa.size() - 2], K = sa.back(), N = sb.back();
  const Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  Shape batch(std::max(ba.size(), bb.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    const size_t ia = i + ba.size(), ib = i + bb.size();
    const int64_t da = ia < batch.size() ? 1 : ba[ia - batch.size()];
    const int64_t db = ib < batch.size() ? 1 : bb[ib - batch.size()];
    batch[i] = std::max(da, db);
  }
  const int64_t nb = num_elements(batch);
  std::vector<double> out(nb * M * N);
  for (int64_t t = 0; t < nb; ++t) {
    const int64_t oa = bcast_index(ba, batch, t) * M * K, ob = bcast_index(bb, batch, t) * K * N;
    for (int64_t i = 0; i < M; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += a.get(oa + i * K + k) * b.get(ob + k * N + j);
        out[(t * M + i) * N + j] = s;
      }
    }
  }
  EXPECT_EQ(num_elements(out_shape), static_cast<int64_t>(out.size()));
  return out;
}

TEST(XCheckMatMul, NumpySemanticsRandom) {
  struct Case {
    Shape a, b, o;
  };
  const Case cases[] = {{{3, 5}, {5, 4}, {3, 4}},
                        {{5}, {5, 4}, {4}},
                        {{3, 5}, {5}, {3}},
                        {{5}, {5}, {}},
                        {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
                        {{2, 7, 16}, {16, 9}, {2, 7, 9}},
                        {{16}, {3, 16, 2}, {3, 2}},
                        {{3, 2, 16}, {16}, {3, 2}},
                        {{1, 1}, {1, 1}, {1, 1}},
                        {{4, 0}, {0, 3}, {4, 3}},
                        {{2, 64, 48}, {2, 48, 33}, {2, 64, 33}}};
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (const auto& c : cases) {
      Tensor a = rand_t(dt, c.a), b = rand_t(dt, c.b), o(dt, c.o);
      ASSERT_TRUE(run("MatMul", {}, {&a, &b}, {&o}).ok()) << shape_str(c.o);
      const bool f = dt == DType::kFloat32;
      expect_close(o, matmul_ref(a, b, c.o), f ? 1e-5 : 1e-12, f ? 2e-5 : 1e-12,
                   "MatMul " + shape_str(c.a) + "x" + shape_str(c.b));
    }
  }
}

TEST(XCheckMatMul, Errors) {
  Tensor a = rand_t(DType::kFloat32, {3, 5}), b = rand_t(DType::kFloat32, {4, 2});
  Tensor o(DType::kFloat32, {3, 2});
  EXPECT_FALSE(run("MatMul", {}, {&a, &b}, {&o}).ok()) << "K mismatch";
  Tensor b2 = rand_t(DType::kFloat32, {5, 2}), o2(DType::kFloat32, {3, 3});
  EXPECT_FALSE(run("MatMul", {}, {&a, &b2}, {&o2}).ok()) << "wrong output shape";
  Tensor ba = rand_t(DType::kFloat32, {2, 3, 5}), bb = rand_t(DType::kFloat32, {3, 5, 2});
  Tensor o3(DType::kFloat32, {3, 3, 2});
  EXPECT_FALSE(run("MatMul", {}, {&ba, &bb}, {&o3}).ok()) << "batch 2 vs 3";
}

TEST(XCheckGemm, TransposesAlphaBetaAndBiasBroadcast) {
  const int64_t M = 7, K = 11, N = 5;
  const Shape cshapes[] = {{M, N}, {N}, {1}, {M, 1}, {}, {1, N}};
  for (DType dt : {DType::kFloat32, DType::kFloat64}) {
    for (int ta = 0; ta < 2; ++ta) {
      for (int tb = 0; tb < 2; ++tb) {
        for (int ci = -1; ci < 6; ++ci) {
          Tensor a = rand_t(dt, ta ? Shape{K, M} : Shape{M, K});
          Tensor b = rand_t(dt, tb ? Shape{N, K} : Shape{K, N});
          Tensor c = ci >= 0 ? rand_t(dt, cshapes[ci]) : Tensor();
          Tensor o(dt, {M, N});
          const double alpha = 0.75, beta = ci >= 0 ? -1.5 : 1.0;
          AttrMap at{{"alpha", Attr::Float(alpha)},
                     {"beta", Attr::Float(beta)},
                     {"transA", Attr::Int(ta)},
                     {"transB", Attr::Int(tb)}};
          ASSERT_TRUE(run("Gemm", at, {&a, &b, ci >= 0 ? &c : nullptr}, {&o}).ok());
          std::vector<double> want(M * N);
          for (int64_t i = 0; i < M; ++i) {
            for (int64_t j = 0; j < N; ++j) {
              double s = 0;
              for (int64_t k = 0; k < K; ++k) {
                s += a.get(ta ? k * M + i : i * K + k) * b.get(tb ? j * K + k : k * N + j);
              }
              want[i * N + j] =
                  alpha * s + (ci >= 0 ? beta * c.get(bcast_index(c.shape, {M, N}, i * N + j)) : 0);
            }
          }
          expect_close(o, want, 1e-5, 1e-5, "Gemm");
        }
      }
    }
  }
  Tensor a = rand_t(DType::kFloat32, {M, K}), b = rand_t(DType::kFloat32, {K, N});
  Tensor c = rand_t(DType::kFloat32, {3}), o(DType::kFloat32, {M, N});
  EXPECT_FALSE(run("Gemm", {}, {&a, &b, &c}, {&o}).ok()) << "C does not broadcast";
}

// ---- convolution ----
struct ConvP {
  Shape x, w;
  std::vector<int64_t> strides, pads, dil;
  int64_t group;
  bool bias;
};

Shape conv_out_shape(const ConvP& p) {
  const size_t n = p.x.size() - 2;
  Shape o = {p.x[0], p.w[0]};
  for (size_t d = 0; d < n; ++d) {
    const int64_t ek = (p.w[2 + d] - 1) * p.dil[d] + 1;
    o.push_back((p.x[2 + d] + p.pads[d] + p.pads[n + d] - ek) / p.strides[d] + 1);
  }
  return o;
}

AttrMap conv_attrs(const ConvP& p) {
  return {{"kernel_shape", Attr::Ints(Shape(p.w.begin() + 2, p.w.end()))},
          {"strides", Attr::Ints(p.strides)},
          {"pads", Attr::Ints(p.pads)},
          {"dilations", Attr::Ints(p.dil)},
          {"group", Attr::Int(p.group)}};
}

std::vector<double> conv_ref(const ConvP& p, const Tensor& x, const Tensor& w, const Tensor* b,
                             const Shape& os) {
  const size_t n = p.x.size() - 2;
  const Shape in_sp(p.x.begin() + 2, p.x.end()), k_sp(p.w.begin() + 2, p.w.end()),
      o_sp(os.begin() + 2, os.end());
  const int64_t M = p.w[0], Cg = p.w[1], Mg = M / p.group;
  std::vector<double> out(num_elements(os));
  for (int64_t i = 0; i < num_elements(os); ++i) {
    const int64_t osz = num_elements(o_sp);
    const int64_t nm = i / osz, nn = nm / M, m = nm % M, g = m / Mg;
    const auto oc = unravel(i % osz, o_sp);
    double s = b ? b->get(m) : 0;
    for (int64_t c = 0; c < Cg; ++c) {
      for (int64_t k = 0; k < num_elements(k_sp); ++k) {
        const auto kc = unravel(k, k_sp);
        std::vector<int64_t> ic(n);
        bool inside = true;
        for (size_t d = 0; d < n; ++d) {
          ic[d] = oc[d] * p.strides[d] - p.pads[d] + kc[d] * p.dil[d];
          inside = inside && ic[d] >= 0 && ic[d] < in_sp[d];
        }
        if (!inside) continue;
        const int64_t xi = ((nn * p.x[1]) + g * Cg + c) * num_elements(in_sp) + ravel(ic, in_sp);
        s += x.get(xi) * w.get((m * Cg + c) * num_elements(k_sp) + k);
      }
    }
    out[i] = s;
  }
  return out;
}

TEST(XCheckConv, OneTwoThreeDimsWithGroupsPadsStridesDilations) {
  const ConvP cases[] = {
      {{2, 3, 9, 8}, {4, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, true},
      {{1, 4, 10, 9}, {6, 2, 3, 2}, {2, 1}, {1, 0, 2, 1}, {1, 2}, 2, false},
      {{1, 4, 7, 7}, {4, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}, 4, true},    // depthwise
      {{2, 3, 16, 16}, {8, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}, {1, 1}, 1, true},  // resnet stem-ish
      {{1, 5, 6, 6}, {3, 5, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},    // 1x1
      {{2, 3, 11}, {4, 3, 3}, {2}, {1, 2}, {2}, 1, true},                     // 1-d
      {{1, 2, 5, 4, 6}, {2, 2, 2, 3, 2}, {1, 2, 1}, {1, 0, 1, 0, 1, 1}, {1, 1, 2}, 1, true},  // 3-d
  };
  for (const auto& p : cases) {
    const Shape os = conv_out_shape(p);
    Tensor x = rand_t(DType::kFloat32, p.x), w = rand_t(DType::kFloat32, p.w);
    Tensor b = rand_t(DType::kFloat32, {p.w[0]}), o(DType::kFloat32, os);
    ASSERT_TRUE(run("Conv", conv_attrs(p), {&x, &w, p.bias ? &b : nullptr}, {&o}).ok())
        << shape_str(p.x) << " * " << shape_str(p.w);
    expect_close(o, conv_ref(p, x, w, p.bias ? &b : nullptr, os), 1e-5, 1e-5,
                 "Conv " + shape_str(p.x) + " * " + shape_str(p.w));
  }
}

TEST(XCheckConv, Errors) {
  ConvP p{{1, 4, 6, 6}, {2, 3, 3, 3}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, false};
  Tensor x = rand_t(DType::kFloat32, p.x), w = rand_t(DType::kFloat32, p.w);
  Tensor o(DType::kFloat32, {1, 2, 4, 4});
  EXPECT_FALSE(run("Conv", conv_attrs(p), {&x, &w, nullptr}, {&o}).ok()) << "C/group != w[1]";
  p.w = {2, 4, 3, 3};
  Tensor w2 = rand_t(DType::kFloat32, p.w), bad(DType::kFloat32, {1, 2, 5, 5});
  EXPECT_FALSE(run("Conv", conv_attrs(p), {&x, &w2, nullptr}, {&bad}).ok()) << "output shape";
  EXPECT_TRUE(run("Conv", conv_attrs(p), {&x, &w2, nullptr}, {&o}).ok());
}

TEST(XCheckConvTranspose, TwoDimsAgainstScatterReference) {
  struct P {
    Shape x, w;
    std::vector<int64_t> s, pads, dil, opad;
    int64_t group;
  };
  const P cases[] = {{{1, 3, 4, 5}, {3, 2, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {1, 1}, 1},
                     {{2, 4, 3, 3}, {4, 3, 2, 3}, {1, 2}, {0, 1, 0, 0}, {2, 1}, {0, 1}, 2},
                     {{1, 2, 5, 5}, {2, 4, 4, 4}, {2, 2}, {1, 1, 1, 1}, {1, 1}, {0, 0}, 1}};
  for (const auto& p : cases) {
    const int64_t Mg = p.w[1], M = Mg * p.group, Cg = p.x[1] / p.group;
    Shape os = {p.x[0], M};
    for (int d = 0; d < 2; ++d) {
      os.push_back(p.s[d] * (p.x[2 + d] - 1) + p.opad[d] + (p.w[2 + d] - 1) * p.dil[d] + 1 -
                   p.pads[d] - p.pads[2 + d]);
    }
    Tensor x = rand_t(DType::kFloat32, p.x), w = rand_t(DType::kFloat32, p.w);
    Tensor b = rand_t(DType::kFloat32, {M}), o(DType::kFloat32, os);
    AttrMap at{{"kernel_shape", Attr::Ints({p.w[2], p.w[3]})},
               {"strides", Attr::Ints(p.s)},
               {"pads", Attr::Ints(p.pads)},
               {"dilations", Attr::Ints(p.dil)},
               {"output_padding", Attr::Ints(p.opad)},
               {"group", Attr::Int(p.group)}};
    ASSERT_TRUE(run("ConvTranspose", at, {&x, &w, &b}, {&o}).ok()) << shape_str(os);
    std::vector<double> want(o.numel());
    const int64_t OH = os[2], OW = os[3];
    for (int64_t i = 0; i < o.numel(); ++i) want[i] = b.get((i / (OH * OW)) % M);
    for (int64_t n = 0; n < p.x[0]; ++n)
      for (int64_t c = 0; c < p.x[1]; ++c)
        for (int64_t ih = 0; ih < p.x[2]; ++ih)
          for (int64_t iw = 0; iw < p.x[3]; ++iw)
            for (int64_t m = 0; m < Mg; ++m)
              for (int64_t kh = 0; kh < p.w[2]; ++kh)
                for (int64_t kw = 0; kw < p.w[3]; ++kw) {
                  const int64_t oh = ih * p.s[0] - p.pads[0] + kh * p.dil[0];
                  const int64_t ow = iw * p.s[1] - p.pads[1] + kw * p.dil[1];
                  if (oh < 0 || oh >= OH || ow < 0 || ow >= OW) continue;
                  const int64_t om = (c / Cg) * Mg + m;
                  want[((n * M + om) * OH + oh) * OW + ow] +=
                      x.get(((n * p.x[1] + c) * p.x[2] + ih) * p.x[3] + iw) *
                      w.get(((c * Mg + m) * p.w[2] + kh) * p.w[3] + kw);
                }
    expect_close(o, want, 1e-5, 1e-5, "ConvTranspose " + shape_str(os));
  }
}

// ---- pooling ----
struct PoolP {
  Shape x;
  std::vector<int64_t> k, s, pads, dil;
  int64_t ceil_mode, include_pad;
};

int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t d, bool ceil) {
  const int64_t span = in + pb + pe - ((k - 1) * d + 1);
  int64_t o = (ceil ? (span + s - 1) / s : span / s) + 1;
  if (ceil && (o - 1) * s >= in + pb) --o;  // last window must start inside the input or pad
  return o;
}

void check_pool(const std::string& op, const PoolP& p) {
  const Shape os = {p.x[0], p.x[1],
                    pool_out(p.x[2], p.k[0], p.s[0], p.pads[0], p.pads[2], p.dil[0], p.ceil_mode),
                    pool_out(p.x[3], p.k[1], p.s[1], p.pads[1], p.pads[3], p.dil[1], p.ceil_mode)};
  Tensor x = rand_t(DType::kFloat32, p.x, -5, 5), o(DType::kFloat32, os);
  AttrMap at{{"kernel_shape", Attr::Ints(p.k)},
             {"strides", Attr::Ints(p.s)},
             {"pads", Attr::Ints(p.pads)},
             {"ceil_mode", Attr::Int(p.ceil_mode)}};
  if (op == "MaxPool") at["dilations"] = Attr::Ints(p.dil);
  if (op == "AveragePool") at["count_include_pad"] = Attr::Int(p.include_pad);
  ASSERT_TRUE(run(op, at, {&x}, {&o}).ok()) << op << " " << shape_str(os);
  std::vector<double> want(o.numel());
  const int64_t H = p.x[2], W = p.x[3];
  for (int64_t i = 0; i < o.numel(); ++i) {
    const auto c = unravel(i, os);
    double mx = -std::numeric_limits<double>::infinity(), sum = 0;
    int64_t valid = 0, padded = 0;
    for (int64_t kh = 0; kh < p.k[0]; ++kh) {
      for (int64_t kw = 0; kw < p.k[1]; ++kw) {
        const int64_t h = c[2] * p.s[0] - p.pads[0] + kh * p.dil[0];
        const int64_t w = c[3] * p.s[1] - p.pads[1] + kw * p.dil[1];
        if (h < H + p.pads[2] && w < W + p.pads[3]) ++padded;  // within the padded extent
        if (h < 0 || h >= H || w < 0 || w >= W) continue;
        const double v = x.get(((c[0] * p.x[1] + c[1]) * H + h) * W + w);
        mx = std::max(mx, v);
        sum += v;
        ++valid;
      }
    }
    want[i] = op == "MaxPool" ? mx : sum / (p.include_pad ? padded : valid);
  }
  expect_close(o, want, 1e-5, 1e-6, op + " " + shape_str(os));
}

TEST(XCheckPool, MaxAndAverage) {
  const PoolP cases[] = {
      {{2, 3, 8, 8}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 0, 0},
      {{1, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 0},
      {{1, 2, 9, 7}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 1},
      {{1, 2, 5, 5}, {2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1, 0},  // ceil: partial last window
      {{1, 1, 7, 9}, {3, 2}, {1, 2}, {0, 1, 2, 0}, {1, 1}, 0, 1},
      {{2, 2, 112, 112}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 0, 0}};
  for (const auto& p : cases) {
    check_pool("MaxPool", p);
    check_pool("AveragePool", p);
  }
  check_pool("MaxPool", {{1, 2, 9, 9}, {3, 3}, {1, 1}, {1, 1, 1, 1}, {2, 2}, 0, 0});  // dilated
}

TEST(XCheckPool, GlobalAveragePoolAndErrors) {
  Tensor x = rand_t(DType::kFloat32, {2, 3, 5, 4}), o(DType::kFloat32, {2, 3, 1, 1});
  ASSERT_TRUE(run("GlobalAveragePool", {}, {&x}, {&o}).ok());
  std::vector<double> want(6, 0);
  for (int64_t i = 0; i < x.numel(); ++i) want[i / 20] += x.get(i) / 20;
  expect_close(o, want);
  Tensor bad(DType::kFloat32, {2, 3});
  EXPECT_FALSE(run("GlobalAveragePool", {}, {&x}, {&bad}).ok());
  Tensor wrong(DType::kFloat32, {2, 3, 3, 3});
  AttrMap at{{"kernel_shape", Attr::Ints({2, 2})},
             {"strides", Attr::Ints({2, 2})},
             {"pads", Attr::Ints({0, 0, 0, 0})}};
  EXPECT_FALSE(run("MaxPool", at, {&x}, {&wrong}).ok()) << "5x4 / 2 -> 2x2, not 3x3";
}

}  // namespace
}  // namespace tessera::kernels::xcheck
