// MatMul, Gemm, Conv, ConvTranspose and the pools against naive float64 references.
#include <cmath>
#include <limits>

#include "kernels/cpu/kernel_util.h"
#include "tests/unit/kernels_test_util.h"

namespace tessera::kernels::testing {
namespace {

// Naive numpy matmul in double.
std::vector<double> ref_matmul(const Tensor& a, const Tensor& b, const Shape& os) {
  Shape as = a.shape, bs = b.shape;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  const int64_t M = as[as.size() - 2], K = as.back(), N = bs.back();
  const Shape ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  Shape batch(std::max(ba.size(), bb.size()));
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t x = i + ba.size() < batch.size() ? 1 : ba[i + ba.size() - batch.size()];
    const int64_t y = i + bb.size() < batch.size() ? 1 : bb[i + bb.size() - batch.size()];
    batch[i] = std::max(x, y);
  }
  const auto va = a.values(), vb = b.values();
  std::vector<double> r;
  for (int64_t bi = 0; bi < num_elements(batch); ++bi) {
    const auto c = unravel(bi, batch);
    const int64_t oa = bcast_index(c, ba) * M * K, ob = bcast_index(c, bb) * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k) s += va[oa + i * K + k] * vb[ob + k * N + j];
        r.push_back(s);
      }
  }
  EXPECT_EQ(static_cast<int64_t>(r.size()), num_elements(os));
  return r;
}

TEST(MatMul, NumpySemanticsRandom) {
  struct C {
    Shape a, b, out;
  };
  const C cases[] = {{{3, 4}, {4, 5}, {3, 5}},
                     {{2, 3, 4}, {4, 5}, {2, 3, 5}},
                     {{2, 3, 4}, {2, 4, 5}, {2, 3, 5}},
                     {{4}, {4, 5}, {5}},
                     {{3, 4}, {4}, {3}},
                     {{4}, {4}, {}},
                     {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
                     {{1, 3, 4}, {2, 4, 6}, {2, 3, 6}},
                     {{3, 4}, {2, 4, 5}, {2, 3, 5}},
                     {{2, 3, 0}, {0, 5}, {2, 3, 5}},
                     {{7, 64, 33}, {33, 65}, {7, 64, 65}}};
  uint32_t seed = 100;
  for (const auto& c : cases) {
    Tensor a = rand_f32(c.a, seed++), b = rand_f32(c.b, seed++);
    Tensor o = run1("MatMul", {}, {&a, &b}, DType::kFloat32, c.out);
    expect_near(o.values(), ref_matmul(a, b, c.out), 1e-5, 1e-5,
                shape_str(c.a) + "@" + shape_str(c.b));
    Tensor a64 = rand_f64(c.a, seed), b64 = rand_f64(c.b, seed + 1);
    Tensor o64 = run1("MatMul", {}, {&a64, &b64}, DType::kFloat64, c.out);
    expect_near(o64.values(), ref_matmul(a64, b64, c.out), 1e-12, 1e-12, "f64");
  }
  Tensor a = rand_f32({3, 4}, 1), b = rand_f32({5, 6}, 2), o = zeros(DType::kFloat32, {3, 6});
  EXPECT_EQ(run("MatMul", {}, {&a, &b}, {&o}).code(), Code::kInvalidArgument);
  Tensor b2 = rand_f32({4, 6}, 2), o2 = zeros(DType::kFloat32, {3, 7});
  EXPECT_EQ(run("MatMul", {}, {&a, &b2}, {&o2}).code(), Code::kInvalidArgument);
}

TEST(Gemm, TransposesBiasAlphaBeta) {
  const int64_t M = 5, N = 7, K = 6;
  uint32_t seed = 200;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb)
      for (const Shape& cs : {Shape{}, Shape{N}, Shape{M, 1}, Shape{M, N}, Shape{1}}) {
        Tensor a = rand_f32(ta ? Shape{K, M} : Shape{M, K}, seed++);
        Tensor b = rand_f32(tb ? Shape{N, K} : Shape{K, N}, seed++);
        Tensor c = rand_f32(cs, seed++);
        const double alpha = 0.7, beta = -1.3;
        AttrMap at = {{"alpha", Attr::Float(alpha)},
                      {"beta", Attr::Float(beta)},
                      {"transA", Attr::Int(ta)},
                      {"transB", Attr::Int(tb)}};
        Tensor o = run1("Gemm", at, {&a, &b, &c}, DType::kFloat32, {M, N});
        const auto va = a.values(), vb = b.values(), vc = c.values();
        std::vector<double> want;
        for (int64_t i = 0; i < M; ++i)
          for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k)
              s += va[ta ? k * M + i : i * K + k] * vb[tb ? j * K + k : k * N + j];
            want.push_back(alpha * s + beta * vc[bcast_index({i, j}, cs)]);
          }
        expect_near(o.values(), want, 1e-5, 1e-5, "gemm C " + shape_str(cs));
      }
  Tensor a = rand_f32({2, 3}, 1), b = rand_f32({3, 4}, 2);
  Tensor o = run1("Gemm", {}, {&a, &b, nullptr}, DType::kFloat32, {2, 4});  // absent C
  Tensor mm = run1("MatMul", {}, {&a, &b}, DType::kFloat32, {2, 4});
  expect_near(o.values(), mm.values(), 1e-6);
  Tensor bad_c = rand_f32({3}, 3), o2 = zeros(DType::kFloat32, {2, 4});
  EXPECT_FALSE(run("Gemm", {}, {&a, &b, &bad_c}, {&o2}).ok());
}

TEST(Gemm, FallbackLoopMatchesReference) {
  const int64_t M = 4, N = 3, K = 5;
  Tensor a = rand_f64({K, M}, 5), b = rand_f64({K, N}, 6);
  std::vector<double> c(M * N, 2.0);
  cpu::gemm_fallback<double>(true, false, M, N, K, 2.0, a.as<double>(), M, b.as<double>(), N, 0.5,
                             c.data(), N);
  const auto va = a.values(), vb = b.values();
  std::vector<double> want;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += va[k * M + i] * vb[k * N + j];
      want.push_back(2 * s + 1.0);
    }
  expect_near(c, want, 1e-12);
}

struct ConvCase {
  Shape x, w;
  std::vector<int64_t> strides, pads, dil;
  int64_t group;
  bool bias;
};

// Direct N-d convolution in double, straight from the definition.
std::vector<double> ref_conv(const Tensor& x, const Tensor& w, const Tensor* b, const ConvCase& c,
                             const Shape& os) {
  const int nd = static_cast<int>(c.x.size()) - 2;
  const int64_t C = c.x[1], M = c.w[0], G = c.group, Cg = C / G, Mg = M / G;
  const auto vx = x.values(), vw = w.values();
  std::vector<double> r(static_cast<size_t>(num_elements(os)));
  const Shape ks(c.w.begin() + 2, c.w.end()), ins(c.x.begin() + 2, c.x.end());
  for (int64_t oi = 0; oi < num_elements(os); ++oi) {
    const auto oc = unravel(oi, os);
    const int64_t n = oc[0], m = oc[1], g = m / Mg;
    double s = b ? b->values()[m] : 0;
    for (int64_t cc = 0; cc < Cg; ++cc)
      for (int64_t kr = 0; kr < num_elements(ks); ++kr) {
        const auto kc = unravel(kr, ks);
        int64_t xi = n * C + g * Cg + cc;
        bool ok = true;
        for (int d = 0; d < nd; ++d) {
          const int64_t p = oc[2 + d] * c.strides[d] - c.pads[d] + kc[d] * c.dil[d];
          ok = ok && p >= 0 && p < ins[d];
          xi = xi * ins[d] + p;
        }
        if (ok) s += vx[xi] * vw[(m * Cg + cc) * num_elements(ks) + kr];
      }
    r[oi] = s;
  }
  return r;
}

TEST(Conv, RandomAgainstDirectDefinition) {
  const ConvCase cases[] = {
      {{2, 4, 9, 8}, {6, 2, 3, 3}, {2, 1}, {1, 0, 2, 1}, {1, 2}, 2, true},
      {{1, 3, 7, 7}, {5, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 1, false},
      {{2, 3, 10}, {4, 3, 3}, {2}, {2, 1}, {2}, 1, true},
      {{1, 4, 5, 5}, {8, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4, true},  // depthwise x2
      {{2, 6, 4, 5}, {3, 6, 1, 1}, {1, 1}, {0, 0, 0, 0}, {1, 1}, 1, true},  // 1x1 direct path
      {{1, 2, 4, 5, 6}, {3, 2, 2, 3, 2}, {1, 2, 1}, {0, 1, 1, 1, 0, 0}, {1, 1, 2}, 1, true},
  };
  uint32_t seed = 300;
  for (const auto& c : cases) {
    const int nd = static_cast<int>(c.x.size()) - 2;
    Tensor x = rand_f32(c.x, seed++), w = rand_f32(c.w, seed++), b = rand_f32({c.w[0]}, seed++);
    Shape os = {c.x[0], c.w[0]};
    for (int d = 0; d < nd; ++d) {
      os.push_back((c.x[2 + d] + c.pads[d] + c.pads[d + nd] - ((c.w[2 + d] - 1) * c.dil[d] + 1)) /
                       c.strides[d] +
                   1);
    }
    AttrMap at = {{"strides", Attr::Ints(c.strides)},
                  {"pads", Attr::Ints(c.pads)},
                  {"dilations", Attr::Ints(c.dil)},
                  {"group", Attr::Int(c.group)},
                  {"kernel_shape", Attr::Ints(Shape(c.w.begin() + 2, c.w.end()))}};
    Tensor o = c.bias ? run1("Conv", at, {&x, &w, &b}, DType::kFloat32, os)
                      : run1("Conv", at, {&x, &w}, DType::kFloat32, os);
    expect_near(o.values(), ref_conv(x, w, c.bias ? &b : nullptr, c, os), 1e-5, 1e-5,
                "conv " + shape_str(c.x) + " * " + shape_str(c.w));
  }
  Tensor x = rand_f32({1, 3, 5, 5}, 1), w = rand_f32({4, 3, 3, 3}, 2);
  Tensor wrong = zeros(DType::kFloat32, {1, 4, 5, 5});  // no padding: 3x3 expected
  EXPECT_EQ(run("Conv", {}, {&x, &w}, {&wrong}).code(), Code::kInvalidArgument);
  Tensor w_bad = rand_f32({4, 2, 3, 3}, 2), o = zeros(DType::kFloat32, {1, 4, 3, 3});
  EXPECT_FALSE(run("Conv", {}, {&x, &w_bad}, {&o}).ok());
}

TEST(ConvTranspose, RandomAgainstScatterDefinition) {
  struct C {
    Shape x, w;
    std::vector<int64_t> s, pads, dil, opad;
    int64_t group;
  };
  const C cases[] = {{{2, 4, 3, 4}, {4, 3, 3, 3}, {2, 2}, {1, 0, 1, 1}, {1, 1}, {1, 0}, 2},
                     {{1, 2, 5}, {2, 3, 4}, {3}, {0, 2}, {2}, {0}, 1},
                     {{1, 3, 4, 4}, {3, 2, 2, 2}, {2, 2}, {0, 0, 0, 0}, {1, 1}, {0, 0}, 1}};
  uint32_t seed = 400;
  for (const auto& c : cases) {
    const int nd = static_cast<int>(c.x.size()) - 2;
    const int64_t C_ = c.x[1], G = c.group, Cg = C_ / G, Mg = c.w[1], M = Mg * G;
    Shape os = {c.x[0], M};
    for (int d = 0; d < nd; ++d) {
      os.push_back(c.s[d] * (c.x[2 + d] - 1) + c.opad[d] + (c.w[2 + d] - 1) * c.dil[d] + 1 -
                   c.pads[d] - c.pads[d + nd]);
    }
    Tensor x = rand_f32(c.x, seed++), w = rand_f32(c.w, seed++), b = rand_f32({M}, seed++);
    std::vector<double> want(static_cast<size_t>(num_elements(os)), 0);
    const auto vx = x.values(), vw = w.values(), vb = b.values();
    const Shape ks(c.w.begin() + 2, c.w.end()), ins(c.x.begin() + 2, c.x.end()),
        outs(os.begin() + 2, os.end());
    for (int64_t xi = 0; xi < x.numel(); ++xi) {
      const auto xc = unravel(xi, c.x);
      const int64_t n = xc[0], ch = xc[1], g = ch / Cg;
      for (int64_t m = 0; m < Mg; ++m)
        for (int64_t kr = 0; kr < num_elements(ks); ++kr) {
          const auto kc = unravel(kr, ks);
          int64_t oi = n * M + g * Mg + m;
          bool ok = true;
          for (int d = 0; d < nd; ++d) {
            const int64_t p = xc[2 + d] * c.s[d] - c.pads[d] + kc[d] * c.dil[d];
            ok = ok && p >= 0 && p < outs[d];
            oi = oi * outs[d] + p;
          }
          if (ok) want[oi] += vx[xi] * vw[(ch * Mg + m) * num_elements(ks) + kr];
        }
    }
    for (int64_t i = 0; i < num_elements(os); ++i) want[i] += vb[unravel(i, os)[1]];
    AttrMap at = {{"strides", Attr::Ints(c.s)},
                  {"pads", Attr::Ints(c.pads)},
                  {"dilations", Attr::Ints(c.dil)},
                  {"group", Attr::Int(G)},
                  {"output_padding", Attr::Ints(c.opad)}};
    Tensor o = run1("ConvTranspose", at, {&x, &w, &b}, DType::kFloat32, os);
    expect_near(o.values(), want, 1e-5, 1e-5, "convT " + shape_str(c.x));
  }
}

struct PoolCase {
  Shape x;
  std::vector<int64_t> k, s, pads, dil;
  int ceil;
};

// Window positions of output element `oc` (spatial coords), each as an input coordinate list;
// `all` also returns positions in the padding (for count_include_pad).
std::vector<std::vector<int64_t>> window(const PoolCase& c, const std::vector<int64_t>& oc) {
  const int nd = static_cast<int>(c.k.size());
  std::vector<std::vector<int64_t>> r;
  for (int64_t kr = 0; kr < num_elements(c.k); ++kr) {
    const auto kc = unravel(kr, c.k);
    std::vector<int64_t> p(nd);
    for (int d = 0; d < nd; ++d) p[d] = oc[d] * c.s[d] - c.pads[d] + kc[d] * c.dil[d];
    r.push_back(p);
  }
  return r;
}

TEST(Pool, MaxAndAverageAgainstDefinition) {
  const PoolCase cases[] = {{{2, 3, 7, 6}, {3, 2}, {2, 2}, {1, 0, 1, 1}, {1, 1}, 0},
                            {{1, 2, 7, 7}, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1},
                            {{1, 2, 8, 9}, {2, 3}, {1, 2}, {1, 1, 0, 1}, {2, 1}, 1},
                            {{2, 2, 11}, {4}, {3}, {2, 1}, {1}, 0}};
  uint32_t seed = 500;
  for (const auto& c : cases) {
    const int nd = static_cast<int>(c.k.size());
    Tensor x = rand_f32(c.x, seed++);
    Shape os = {c.x[0], c.x[1]};
    for (int d = 0; d < nd; ++d) {
      const int64_t span = c.x[2 + d] + c.pads[d] + c.pads[d + nd] - ((c.k[d] - 1) * c.dil[d] + 1);
      int64_t o = (c.ceil ? (span + c.s[d] - 1) / c.s[d] : span / c.s[d]) + 1;
      if (c.ceil && (o - 1) * c.s[d] >= c.x[2 + d] + c.pads[d]) --o;
      os.push_back(o);
    }
    const Shape ins(c.x.begin() + 2, c.x.end()), outs(os.begin() + 2, os.end());
    const auto vx = x.values();
    std::vector<double> mx, avg, avg_pad;
    for (int64_t oi = 0; oi < num_elements(os); ++oi) {
      const auto oc = unravel(oi, os);
      const int64_t plane = oc[0] * c.x[1] + oc[1];
      double m = -INFINITY, s = 0;
      int64_t n = 0, npad = 0;
      for (const auto& p : window(c, std::vector<int64_t>(oc.begin() + 2, oc.end()))) {
        bool in = true, in_pad = true;
        int64_t idx = plane;
        for (int d = 0; d < nd; ++d) {
          in = in && p[d] >= 0 && p[d] < ins[d];
          in_pad = in_pad && p[d] >= -c.pads[d] && p[d] < ins[d] + c.pads[d + nd];
          idx = idx * ins[d] + p[d];
        }
        npad += in_pad;
        if (!in) continue;
        m = std::max(m, vx[idx]);
        s += vx[idx];
        ++n;
      }
      mx.push_back(m);
      avg.push_back(s / n);
      avg_pad.push_back(s / npad);
    }
    AttrMap at = {{"kernel_shape", Attr::Ints(c.k)},
                  {"strides", Attr::Ints(c.s)},
                  {"pads", Attr::Ints(c.pads)},
                  {"ceil_mode", Attr::Int(c.ceil)}};
    AttrMap mat = at;
    mat["dilations"] = Attr::Ints(c.dil);
    expect_near(run1("MaxPool", mat, {&x}, DType::kFloat32, os).values(), mx, 0, 0, "maxpool");
    if (c.dil == std::vector<int64_t>(nd, 1)) {
      expect_near(run1("AveragePool", at, {&x}, DType::kFloat32, os).values(), avg, 1e-6, 1e-6,
                  "avgpool");
      at["count_include_pad"] = Attr::Int(1);
      expect_near(run1("AveragePool", at, {&x}, DType::kFloat32, os).values(), avg_pad, 1e-6, 1e-6,
                  "avgpool count_include_pad");
    }
  }
  Tensor x = f32({1, 1, 2, 2}, {1, 4, 3, 2});
  Tensor y = zeros(DType::kFloat32, {1, 1, 1, 1}), idx = zeros(DType::kInt64, {1, 1, 1, 1});
  ASSERT_TRUE(run("MaxPool", {{"kernel_shape", Attr::Ints({2, 2})}}, {&x}, {&y, &idx}).ok());
  EXPECT_EQ(y.values()[0], 4);
  EXPECT_EQ(idx.values()[0], 1);
  Tensor wrong = zeros(DType::kFloat32, {1, 1, 2, 2});
  EXPECT_FALSE(run("MaxPool", {{"kernel_shape", Attr::Ints({2, 2})}}, {&x}, {&wrong}).ok());
  EXPECT_FALSE(run("MaxPool", {}, {&x}, {&y}).ok());  // kernel_shape is required
  Tensor g = rand_f32({2, 3, 4, 5}, 9);
  std::vector<double> want;
  const auto vg = g.values();
  for (int p = 0; p < 6; ++p) {
    double s = 0;
    for (int i = 0; i < 20; ++i) s += vg[p * 20 + i];
    want.push_back(s / 20);
  }
  expect_near(run1("GlobalAveragePool", {}, {&g}, DType::kFloat32, {2, 3, 1, 1}).values(), want,
              1e-6);
}

}  // namespace
}  // namespace tessera::kernels::testing
