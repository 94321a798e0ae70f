// Cross-checks (second author): randomized sweeps of Conv and ConvTranspose over 1-, 2- and 3-d
// configurations (groups, strides, dilations, asymmetric pads, output_padding) and of MatMul
// batch broadcasting, each against a naive float64 loop written here. Fixed seed: reproducible.
#include <algorithm>
#include <cmath>

#include "tests/unit/kernels_xcheck_util.h"

namespace tessera::kernels::xcheck {
namespace {

int64_t pick(int64_t lo, int64_t hi) {
  return std::uniform_int_distribution<int64_t>(lo, hi)(rng());
}

struct Geo {
  int nd;
  int64_t n, c, m, group;
  Shape in, k;
  std::vector<int64_t> s, d, pads, opad;
};

Geo random_geo(int nd, bool transpose) {
  Geo g;
  g.nd = nd;
  g.group = pick(1, 2);
  g.n = pick(1, 2);
  g.c = g.group * pick(1, 3);
  g.m = g.group * pick(1, 3);
  for (int i = 0; i < nd; ++i) {
    g.k.push_back(pick(1, 3));
    g.s.push_back(pick(1, 3));
    g.d.push_back(pick(1, 2));
    g.in.push_back(pick(1, 6) + (g.k[i] - 1) * g.d[i]);
    g.opad.push_back(transpose ? pick(0, std::min(g.s[i], g.d[i]) - 1) : 0);
  }
  g.pads.assign(2 * nd, 0);
  for (int i = 0; i < 2 * nd; ++i) g.pads[i] = pick(0, std::min<int64_t>(g.k[i % nd] - 1, 2));
  return g;
}

AttrMap geo_attrs(const Geo& g) {
  AttrMap a{{"kernel_shape", Attr::Ints(g.k)},
            {"strides", Attr::Ints(g.s)},
            {"pads", Attr::Ints(g.pads)},
            {"dilations", Attr::Ints(g.d)},
            {"group", Attr::Int(g.group)}};
  return a;
}

std::string geo_str(const Geo& g) {
  return "in " + shape_str(g.in) + " k " + shape_str(g.k) + " s " + shape_str(g.s) + " d " +
         shape_str(g.d) + " pads " + shape_str(g.pads) + " opad " + shape_str(g.opad) + " g " +
         std::to_string(g.group) + " c " + std::to_string(g.c) + " m " + std::to_string(g.m);
}

TEST(XCheckRandom, ConvSweep) {
  for (int iter = 0; iter < 60; ++iter) {
    const Geo g = random_geo(1 + iter % 3, false);
    Shape xs = {g.n, g.c}, ws = {g.m, g.c / g.group}, os = {g.n, g.m};
    xs.insert(xs.end(), g.in.begin(), g.in.end());
    ws.insert(ws.end(), g.k.begin(), g.k.end());
    for (int i = 0; i < g.nd; ++i) {
      os.push_back((g.in[i] + g.pads[i] + g.pads[g.nd + i] - (g.k[i] - 1) * g.d[i] - 1) / g.s[i] +
                   1);
    }
    Tensor x = rand_t(DType::kFloat32, xs), w = rand_t(DType::kFloat32, ws);
    Tensor b = rand_t(DType::kFloat32, {g.m}), o(DType::kFloat32, os);
    Status st = run("Conv", geo_attrs(g), {&x, &w, &b}, {&o});
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << geo_str(g);
    const Shape osp(os.begin() + 2, os.end());
    const int64_t Cg = g.c / g.group, Mg = g.m / g.group;
    std::vector<double> want(o.numel());
    for (int64_t i = 0; i < o.numel(); ++i) {
      const int64_t nm = i / num_elements(osp), n = nm / g.m, m = nm % g.m;
      const auto oc = unravel(i % num_elements(osp), osp);
      double acc = b.get(m);
      for (int64_t c = 0; c < Cg; ++c) {
        for (int64_t k = 0; k < num_elements(g.k); ++k) {
          const auto kc = unravel(k, g.k);
          std::vector<int64_t> ic(g.nd);
          bool ok = true;
          for (int d = 0; d < g.nd; ++d) {
            ic[d] = oc[d] * g.s[d] - g.pads[d] + kc[d] * g.d[d];
            ok = ok && ic[d] >= 0 && ic[d] < g.in[d];
          }
          if (!ok) continue;
          const int64_t ch = (m / Mg) * Cg + c;
          acc += x.get((n * g.c + ch) * num_elements(g.in) + ravel(ic, g.in)) *
                 w.get((m * Cg + c) * num_elements(g.k) + k);
        }
      }
      want[i] = acc;
    }
    expect_close(o, want, 1e-5, 1e-5, "Conv " + geo_str(g));
  }
}

TEST(XCheckRandom, ConvTransposeSweep) {
  for (int iter = 0; iter < 60; ++iter) {
    Geo g = random_geo(1 + iter % 3, true);
    for (int i = 0; i < g.nd; ++i) g.in[i] = pick(1, 4);
    const int64_t Cg = g.c / g.group, Mg = g.m / g.group;
    Shape xs = {g.n, g.c}, ws = {g.c, Mg}, os = {g.n, g.m};
    xs.insert(xs.end(), g.in.begin(), g.in.end());
    ws.insert(ws.end(), g.k.begin(), g.k.end());
    Shape osp;
    for (int i = 0; i < g.nd; ++i) {
      osp.push_back(g.s[i] * (g.in[i] - 1) + g.opad[i] + (g.k[i] - 1) * g.d[i] + 1 - g.pads[i] -
                    g.pads[g.nd + i]);
    }
    if (std::any_of(osp.begin(), osp.end(), [](int64_t v) { return v <= 0; })) continue;
    os.insert(os.end(), osp.begin(), osp.end());
    Tensor x = rand_t(DType::kFloat32, xs), w = rand_t(DType::kFloat32, ws);
    Tensor o(DType::kFloat32, os);
    AttrMap at = geo_attrs(g);
    at["output_padding"] = Attr::Ints(g.opad);
    Status st = run("ConvTranspose", at, {&x, &w, nullptr}, {&o});
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << geo_str(g);
    std::vector<double> want(o.numel(), 0);
    const int64_t isz = num_elements(g.in), ksz = num_elements(g.k), osz = num_elements(osp);
    for (int64_t xi = 0; xi < x.numel(); ++xi) {
      const int64_t n = xi / (g.c * isz), c = (xi / isz) % g.c;
      const auto ic = unravel(xi % isz, g.in);
      for (int64_t mm = 0; mm < Mg; ++mm) {
        for (int64_t k = 0; k < ksz; ++k) {
          const auto kc = unravel(k, g.k);
          std::vector<int64_t> oc(g.nd);
          bool ok = true;
          for (int d = 0; d < g.nd; ++d) {
            oc[d] = ic[d] * g.s[d] - g.pads[d] + kc[d] * g.d[d];
            ok = ok && oc[d] >= 0 && oc[d] < osp[d];
          }
          if (!ok) continue;
          const int64_t m = (c / Cg) * Mg + mm;
          want[(n * g.m + m) * osz + ravel(oc, osp)] += x.get(xi) * w.get((c * Mg + mm) * ksz + k);
        }
      }
    }
    expect_close(o, want, 1e-5, 1e-5, "ConvTranspose " + geo_str(g));
  }
}

TEST(XCheckRandom, MatMulBatchBroadcastSweep) {
  for (int iter = 0; iter < 40; ++iter) {
    const int64_t M = pick(1, 9), K = pick(1, 9), N = pick(1, 9);
    const int rank = static_cast<int>(pick(0, 3));
    Shape ba, bb, bo;
    for (int i = 0; i < rank; ++i) {
      const int64_t d = pick(1, 3);
      const int which = static_cast<int>(pick(0, 2));  // 0: both, 1: a broadcasts, 2: b broadcasts
      ba.push_back(which == 1 ? 1 : d);
      bb.push_back(which == 2 ? 1 : d);
      bo.push_back(d);
    }
    if (pick(0, 1) && !bb.empty() && ba[0] == bo[0]) {
      bb.erase(bb.begin());  // b of lower rank; a alone decides the leading batch dim
    }
    Shape sa = ba, sb = bb, so = bo;
    sa.insert(sa.end(), {M, K});
    sb.insert(sb.end(), {K, N});
    so.insert(so.end(), {M, N});
    Tensor a = rand_t(DType::kFloat32, sa), b = rand_t(DType::kFloat32, sb), o(DType::kFloat32, so);
    Status st = run("MatMul", {}, {&a, &b}, {&o});
    ASSERT_TRUE(st.ok()) << st.to_string() << " " << shape_str(sa) << " x " << shape_str(sb);
    std::vector<double> want(o.numel());
    const int64_t nb = num_elements(bo);
    for (int64_t t = 0; t < nb; ++t) {
      const int64_t oa = bcast_index(ba, bo, t), ob = bcast_index(bb, bo, t);
      for (int64_t i = 0; i < M; ++i) {
        for (int64_t j = 0; j < N; ++j) {
          double s = 0;
          for (int64_t k = 0; k < K; ++k) {
            s += a.get((oa * M + i) * K + k) * b.get((ob * K + k) * N + j);
          }
          want[(t * M + i) * N + j] = s;
        }
      }
    }
    expect_close(o, want, 1e-5, 1e-5, "MatMul " + shape_str(sa) + " x " + shape_str(sb));
  }
}

}  // namespace
}  // namespace tessera::kernels::xcheck
