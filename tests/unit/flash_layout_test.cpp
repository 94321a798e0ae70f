// CPU emulation of the warp-level tensor-core data flow of the flash attention kernels
// (kernels/cuda/flash_attention.cu), with the lane mappings they use (kernels/cuda/
// flash_layout.h). ldmatrix and mma.m16n8k16 are emulated from the PTX ISA's description of
// their fragments (written out here independently of flash_layout.h); the loops mirror the
// kernels' mma_nt / mma_nn / repack helpers. Each product assembled from the 32 lanes'
// registers must equal a plain matmul, so a wrong lane-to-address mapping, operand order or
// repacking shows up here without a GPU. Also checks that every ldmatrix row address is
// 16-byte aligned and that each 8-lane phase hits 8 distinct 16-byte bank groups at the
// kernels' padded row stride (no shared-memory bank conflicts). FlashTiling replays the
// kernels' block loops in scalar double precision against textbook attention (below).
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "kernels/cuda/flash_layout.h"

namespace {

namespace fl = tessera::kernels::cuda::flash_layout;

// A 32-bit register: two 16-bit elements (kept as doubles; only the layout is under test).
struct Reg {
  double lo = 0, hi = 0;
};
using Warp4 = std::array<std::array<Reg, 4>, 32>;   // 4 registers per lane
using Acc = std::array<std::array<double, 4>, 32>;  // one 16x8 f32 accumulator per lane

// A row-major shared-memory tile with row stride ld (elements), 2-byte elements.
struct Tile {
  int rows, cols, ld;
  std::vector<double> v;
  Tile(int r, int c, int pad) : rows(r), cols(c), ld(c + pad), v(size_t(r) * (c + pad), NAN) {}
  double& at(int r, int c) { return v[size_t(r) * ld + c]; }
  double at(int r, int c) const { return v[size_t(r) * ld + c]; }
};

Tile random_tile(int rows, int cols, int pad, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(-8, 8);  // small integers: exact sums
  Tile t(rows, cols, pad);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) t.at(r, c) = u(rng);
  return t;
}

// PTX ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16: lane 8i + r addresses row r of matrix
// i (8 contiguous elements from (row[l], col[l])); register i of lane l gets (row g, cols 2t,
// 2t+1) of matrix i, or with .trans (rows 2t, 2t+1, col g).
Warp4 ldmatrix_x4(const Tile& s, const int (&row)[32], const int (&col)[32], bool trans) {
  for (int l = 0; l < 32; ++l) {
    EXPECT_GE(row[l], 0);
    EXPECT_LT(row[l], s.rows);
    EXPECT_GE(col[l], 0);
    EXPECT_LE(col[l] + 8, s.cols);
    EXPECT_EQ((size_t(row[l]) * s.ld + col[l]) * 2 % 16, 0u) << "ldmatrix row not 16B aligned";
  }
  // Bank conflicts: each phase (matrix) reads 8 rows of 16 bytes; their 4-bank groups
  // ((byte address / 16) mod 8) must all differ.
  for (int m = 0; m < 4; ++m) {
    std::set<size_t> groups;
    for (int r = 0; r < 8; ++r) {
      const int l = 8 * m + r;
      groups.insert((size_t(row[l]) * s.ld + col[l]) * 2 / 16 % 8);
    }
    EXPECT_EQ(groups.size(), 8u) << "bank conflict in ldmatrix matrix " << m;
  }
  Warp4 out;
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = l & 3;
    for (int m = 0; m < 4; ++m) {
      const auto elem = [&](int r, int c) { return s.at(row[8 * m + r], col[8 * m + r] + c); };
      out[l][m] =
          trans ? Reg{elem(2 * t, g), elem(2 * t + 1, g)} : Reg{elem(g, 2 * t), elem(g, 2 * t + 1)};
    }
  }
  return out;
}

// PTX mma.sync.aligned.m16n8k16.row.col.f32: d = a·b + c with the fragment layouts of the ISA
// (see flash_layout.h's header comment), assembled into matrices and distributed back.
void mma(Acc& c, const Warp4& a, const std::array<std::array<Reg, 2>, 32>& b) {
  double A[16][16], B[16][8], C[16][8];
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = l & 3;
    for (int r = 0; r < 4; ++r) {
      const int row = g + 8 * (r & 1), col = 2 * t + 8 * (r >> 1);
      A[row][col] = a[l][r].lo;
      A[row][col + 1] = a[l][r].hi;
    }
    for (int r = 0; r < 2; ++r) {
      B[2 * t + 8 * r][g] = b[l][r].lo;
      B[2 * t + 8 * r + 1][g] = b[l][r].hi;
    }
    for (int i = 0; i < 4; ++i) C[g + 8 * (i >> 1)][2 * t + (i & 1)] = c[l][i];
  }
  for (int l = 0; l < 32; ++l) {
    const int g = l >> 2, t = l & 3;
    for (int i = 0; i < 4; ++i) {
      const int row = g + 8 * (i >> 1), col = 2 * t + (i & 1);
      double s = C[row][col];
      for (int k = 0; k < 16; ++k) s += A[row][k] * B[k][col];
      c[l][i] = s;
    }
  }
}

std::array<std::array<Reg, 2>, 32> pick(const Warp4& r, int first) {
  std::array<std::array<Reg, 2>, 32> b;
  for (int l = 0; l < 32; ++l) b[l] = {r[l][first], r[l][first + 1]};
  return b;
}

// A fragments of a warp's 16 rows from shared memory (rows r0.., k-step kk), as the kernels'
// ldmatrix with lda_row / lda_col.
Warp4 load_a(const Tile& s, int r0, int kk) {
  int row[32], col[32];
  for (int l = 0; l < 32; ++l) row[l] = r0 + fl::lda_row(l), col[l] = kk * 16 + fl::lda_col(l);
  return ldmatrix_x4(s, row, col, false);
}

// The kernels' mma_nt: acc[kN/8] += A(16 x kK, rows r0.. of a) · Xᵀ, X = x stored [kN][kK].
void mma_nt(std::vector<Acc>& acc, const Tile& a, int r0, const Tile& x, int kK, int kN) {
  for (int kk = 0; kk < kK / 16; ++kk) {
    const Warp4 af = load_a(a, r0, kk);
    for (int np = 0; np < kN / 16; ++np) {
      int row[32], col[32];
      for (int l = 0; l < 32; ++l)
        row[l] = np * 16 + fl::ldbt_row(l), col[l] = kk * 16 + fl::ldbt_col(l);
      const Warp4 bf = ldmatrix_x4(x, row, col, false);
      mma(acc[2 * np], af, pick(bf, 0));
      mma(acc[2 * np + 1], af, pick(bf, 2));
    }
  }
}

// The kernels' repack: accumulators (16 x kK) to A fragments of kK/16 k-steps.
std::vector<Warp4> repack(const std::vector<Acc>& acc, int kK) {
  std::vector<Warp4> a(kK / 16);
  for (int kk = 0; kk < kK / 16; ++kk)
    for (int l = 0; l < 32; ++l)
      for (int r = 0; r < 4; ++r) {
        const Acc& c = acc[fl::repack_tile(kk, r)];
        a[kk][l][r] = {c[l][fl::repack_elem(r)], c[l][fl::repack_elem(r) + 1]};
      }
  return a;
}

// The kernels' mma_nn: acc[kN/8] += A(16 x kK, registers) · X, X = x stored [kK][kN].
void mma_nn(std::vector<Acc>& acc, const std::vector<Warp4>& af, const Tile& x, int kK, int kN) {
  for (int kk = 0; kk < kK / 16; ++kk)
    for (int np = 0; np < kN / 16; ++np) {
      int row[32], col[32];
      for (int l = 0; l < 32; ++l)
        row[l] = kk * 16 + fl::ldbn_row(l), col[l] = np * 16 + fl::ldbn_col(l);
      const Warp4 bf = ldmatrix_x4(x, row, col, true);
      mma(acc[2 * np], af[kk], pick(bf, 0));
      mma(acc[2 * np + 1], af[kk], pick(bf, 2));
    }
}

// The 16 x kN matrix the lanes' accumulators hold, read through acc_row / acc_col (the mapping
// the kernels' masking, softmax and stores use).
std::vector<std::vector<double>> gather(const std::vector<Acc>& acc, int kN) {
  std::vector<std::vector<double>> m(16, std::vector<double>(kN, NAN));
  std::set<std::pair<int, int>> seen;
  for (int j = 0; j < kN / 8; ++j)
    for (int l = 0; l < 32; ++l)
      for (int i = 0; i < 4; ++i) {
        const int r = fl::acc_row(l, i), c = 8 * j + fl::acc_col(l, i);
        EXPECT_TRUE(seen.insert({r, c}).second) << "element owned twice";
        m[r][c] = acc[j][l][i];
      }
  EXPECT_EQ(seen.size(), size_t(16) * kN);
  return m;
}

// The kernels' padding: row stride = width + 8 elements (16 bytes).
constexpr int kPad = 8;

// S = Q_w·Kᵀ (16 x kN) with Q_w the warp's rows r0.. of a [64, kD] tile and K [kN, kD]; then
// O = S·V (16 x kD) with S repacked as the A operand and V [kN, kD] through ldmatrix.trans:
// the forward's q·kᵀ and p·v, the dq pass's dy·vᵀ and ds·k, and (with K, Q swapped) the dk/dv
// pass's k·qᵀ, pᵀ·dy and dsᵀ·q.
void check_chain(int kD, int kN, int r0, uint32_t seed) {
  const Tile q = random_tile(64, kD, kPad, seed), k = random_tile(kN, kD, kPad, seed + 1),
             v = random_tile(kN, kD, kPad, seed + 2);
  std::vector<Acc> s(kN / 8, Acc{});
  mma_nt(s, q, r0, k, kD, kN);
  const auto sm = gather(s, kN);
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < kN; ++j) {
      double want = 0;
      for (int e = 0; e < kD; ++e) want += q.at(r0 + i, e) * k.at(j, e);
      ASSERT_EQ(sm[i][j], want) << "S(" << i << "," << j << ") kD=" << kD << " kN=" << kN;
    }
  std::vector<Acc> o(kD / 8, Acc{});
  mma_nn(o, repack(s, kN), v, kN, kD);
  const auto om = gather(o, kD);
  for (int i = 0; i < 16; ++i)
    for (int c = 0; c < kD; ++c) {
      double want = 0;
      for (int j = 0; j < kN; ++j) want += sm[i][j] * v.at(j, c);
      ASSERT_EQ(om[i][c], want) << "O(" << i << "," << c << ") kD=" << kD << " kN=" << kN;
    }
}

TEST(FlashLayout, AccumulatorOwnershipIsTheMmaSpec) {
  // c0, c1: row g; c2, c3: row g + 8; columns 2t, 2t + 1.
  for (int l = 0; l < 32; ++l)
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(fl::acc_row(l, i), l / 4 + (i >= 2 ? 8 : 0));
      EXPECT_EQ(fl::acc_col(l, i), (l % 4) * 2 + i % 2);
    }
}

TEST(FlashLayout, ScoresAndOutputForward) {
  for (int kD : {64, 128})
    for (int kN : {32, 64})
      for (int warp = 0; warp < 4; ++warp) check_chain(kD, kN, 16 * warp, 7 * kD + kN + warp);
}

TEST(FlashLayout, SmallTiles) { check_chain(16, 16, 48, 3); }

// ---- the kernels' tiling, scalar
// The block loops of flash_fwd_kernel, flash_dq_kernel and flash_dkdv_kernel with their ranges
// (key_end, the causal start of dk/dv, tile sizes), the warp-level "edge" tests that decide
// whether a tile is masked at all, the base-2 scores and the lse / D contract between the
// passes, in double precision on one batch-head, against the textbook formulas. Catches a tile
// skipped or masked wrongly at odd sizes, causal with Sq != Sk, dead rows and key-row masks.

struct Problem {
  int sq, sk, d;
  bool causal;
  int mask;  // 0 none, 1 key row ([Sk], row stride 0), 2 general ([Sq, Sk])
  std::vector<double> q, k, v, dy, m;  // m: [Sq, Sk] (rows equal for key-row masks)
  double scale;
  double mask_at(int i, int j) const { return mask ? m[size_t(i) * sk + j] : 0.0; }
};

constexpr int kM = 64;
constexpr double kLog2e = 1.4426950408889634;

Problem make_problem(int sq, int sk, int d, bool causal, int mask, int dead_row, uint32_t seed) {
  Problem p{sq, sk, d, causal, mask, {}, {}, {}, {}, {}, 1.0 / std::sqrt(double(d))};
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0, 1);
  const auto fill = [&](std::vector<double>& x, size_t n) {
    x.resize(n);
    for (auto& e : x) e = nd(rng);
  };
  fill(p.q, size_t(sq) * d), fill(p.k, size_t(sk) * d), fill(p.v, size_t(sk) * d);
  fill(p.dy, size_t(sq) * d);
  p.m.assign(size_t(sq) * sk, 0.0);
  std::vector<double> row(sk);
  for (int j = 0; j < sk; ++j) row[j] = rng() % 100 < 15 ? -INFINITY : nd(rng);
  for (int j = 0; j < std::min(sk, 70); ++j) row[j] = -INFINITY;  // a dead first key block
  for (int i = 0; i < sq; ++i)
    for (int j = 0; j < sk; ++j)
      p.m[size_t(i) * sk + j] =
          mask == 2 ? (i == dead_row ? -INFINITY : (rng() % 100 < 15 ? -INFINITY : nd(rng)))
                    : row[j];
  return p;
}

double dot(const std::vector<double>& a, int i, const std::vector<double>& b, int j, int d) {
  double s = 0;
  for (int e = 0; e < d; ++e) s += a[size_t(i) * d + e] * b[size_t(j) * d + e];
  return s;
}

// Score in log2 units as edge_scores computes it, or -inf; `edge` false: scale only.
double score2(const Problem& p, int i, int j, bool edge) {
  double x = dot(p.q, i, p.k, j, p.d) * p.scale * kLog2e;
  if (!edge) return x;
  if (p.mask && i < p.sq && j < p.sk) x += kLog2e * p.mask_at(i, j);
  return j >= p.sk || i >= p.sq || (p.causal && j > i) ? -INFINITY : x;
}

struct Grads {
  std::vector<double> y, dq, dk, dv, lse, drow;
};

Grads emulate(const Problem& p, int dq_n, int kv_m) {
  Grads r;
  r.y.assign(size_t(p.sq) * p.d, NAN), r.lse.assign(p.sq, NAN), r.drow.assign(p.sq, NAN);
  r.dq.assign(size_t(p.sq) * p.d, NAN), r.dk.assign(size_t(p.sk) * p.d, NAN);
  r.dv.assign(size_t(p.sk) * p.d, NAN);
  const auto key_end = [&](int q0) { return p.causal ? std::min({p.sk, q0 + kM, p.sq}) : p.sk; };
  // Forward (kN = 64), rows past Sq computed as zero-filled rows and not written.
  for (int q0 = 0; q0 < p.sq; q0 += kM)
    for (int w = 0; w < 4; ++w) {
      const int q0w = q0 + 16 * w;
      for (int i = q0w; i < q0w + 16; ++i) {
        double m = -INFINITY, l = 0;
        std::vector<double> o(p.d, 0.0);
        for (int k0 = 0; k0 < key_end(q0); k0 += 64) {
          const bool edge = p.mask || k0 + 64 > p.sk || (p.causal && k0 + 63 > q0w);
          std::vector<double> x(64);
          double mx = m;
          for (int c = 0; c < 64; ++c) {
            // Zero-filled rows/keys give a raw score of 0.
            const bool in = i < p.sq && k0 + c < p.sk;
            x[c] = in ? score2(p, i, k0 + c, edge)
                      : (edge && (k0 + c >= p.sk || (p.causal && k0 + c > i)) ? -INFINITY : 0.0);
            mx = std::max(mx, x[c]);
          }
          const double base = mx == -INFINITY ? 0 : mx, alpha = std::exp2(m - base);
          m = mx, l *= alpha;
          for (auto& e : o) e *= alpha;
          for (int c = 0; c < 64; ++c) {
            const double pr = std::exp2(x[c] - base);
            l += pr;
            if (k0 + c < p.sk)
              for (int e = 0; e < p.d; ++e) o[e] += pr * p.v[size_t(k0 + c) * p.d + e];
          }
        }
        if (i >= p.sq) continue;
        double dt = 0;
        for (int e = 0; e < p.d; ++e) {
          r.y[size_t(i) * p.d + e] = l > 0 ? o[e] / l : 0;
          dt += r.y[size_t(i) * p.d + e] * p.dy[size_t(i) * p.d + e];
        }
        r.lse[i] = l > 0 ? m + std::log2(l) : INFINITY;
        r.drow[i] = dt;
      }
    }
  // dq pass (kN = dq_n).
  for (int q0 = 0; q0 < p.sq; q0 += kM)
    for (int w = 0; w < 4; ++w) {
      const int q0w = q0 + 16 * w;
      for (int i = q0w; i < std::min(q0w + 16, p.sq); ++i) {
        std::vector<double> acc(p.d, 0.0);
        for (int k0 = 0; k0 < key_end(q0); k0 += dq_n) {
          const bool edge = p.mask || k0 + dq_n > p.sk || (p.causal && k0 + dq_n - 1 > q0w);
          for (int c = 0; c < dq_n; ++c) {
            const int j = k0 + c;
            const double x =
                j < p.sk ? score2(p, i, j, edge) : (edge ? -INFINITY : 0.0);  // zero-filled key
            const double pr = std::exp2(x - r.lse[i]);
            const double dp = j < p.sk ? dot(p.dy, i, p.v, j, p.d) : 0.0;
            const double ds = pr * (dp - r.drow[i]);
            if (j < p.sk)
              for (int e = 0; e < p.d; ++e) acc[e] += ds * p.k[size_t(j) * p.d + e];
          }
        }
        for (int e = 0; e < p.d; ++e) r.dq[size_t(i) * p.d + e] = acc[e] * p.scale;
      }
    }
  // dk/dv pass (query blocks of kv_m).
  for (int k0 = 0; k0 < p.sk; k0 += kM)
    for (int w = 0; w < 4; ++w) {
      const int k0w = k0 + 16 * w;
      const int qbegin = p.causal ? k0 : 0;
      for (int j = k0w; j < std::min(k0w + 16, p.sk); ++j) {
        std::vector<double> dk(p.d, 0.0), dv(p.d, 0.0);
        for (int q0 = qbegin; q0 < p.sq; q0 += kv_m) {
          const bool edge = p.mask || q0 + kv_m > p.sq || (p.causal && k0w + 15 > q0);
          for (int c = 0; c < kv_m; ++c) {
            const int i = q0 + c;
            // Past Sq: zero-filled q, dy, lse and D, and masked (edge is then true).
            const double x = i < p.sq ? score2(p, i, j, edge) : -INFINITY;
            const double pr = std::exp2(x - (i < p.sq ? r.lse[i] : 0.0));
            if (i >= p.sq) {
              EXPECT_EQ(pr, 0.0);
              continue;
            }
            const double ds = pr * (dot(p.v, j, p.dy, i, p.d) - r.drow[i]);
            for (int e = 0; e < p.d; ++e) {
              dv[e] += pr * p.dy[size_t(i) * p.d + e];
              dk[e] += ds * p.q[size_t(i) * p.d + e];
            }
          }
        }
        for (int e = 0; e < p.d; ++e) {
          r.dk[size_t(j) * p.d + e] = dk[e] * p.scale;
          r.dv[size_t(j) * p.d + e] = dv[e];
        }
      }
    }
  return r;
}

// Textbook attention and its gradient (natural exp), dead rows giving 0.
Grads reference(const Problem& p) {
  Grads r;
  r.y.assign(size_t(p.sq) * p.d, 0), r.dq.assign(size_t(p.sq) * p.d, 0);
  r.dk.assign(size_t(p.sk) * p.d, 0), r.dv.assign(size_t(p.sk) * p.d, 0);
  for (int i = 0; i < p.sq; ++i) {
    std::vector<double> s(p.sk), pr(p.sk, 0.0), dp(p.sk);
    double mx = -INFINITY;
    for (int j = 0; j < p.sk; ++j) {
      s[j] = p.causal && j > i ? -INFINITY : dot(p.q, i, p.k, j, p.d) * p.scale + p.mask_at(i, j);
      mx = std::max(mx, s[j]);
    }
    if (mx == -INFINITY) continue;
    double sum = 0;
    for (int j = 0; j < p.sk; ++j) sum += pr[j] = std::exp(s[j] - mx);
    for (int j = 0; j < p.sk; ++j) pr[j] /= sum;
    double dd = 0;
    for (int j = 0; j < p.sk; ++j) {
      dp[j] = dot(p.dy, i, p.v, j, p.d);
      dd += pr[j] * dp[j];
    }
    for (int j = 0; j < p.sk; ++j) {
      const double ds = pr[j] * (dp[j] - dd) * p.scale;
      for (int e = 0; e < p.d; ++e) {
        r.y[size_t(i) * p.d + e] += pr[j] * p.v[size_t(j) * p.d + e];
        r.dq[size_t(i) * p.d + e] += ds * p.k[size_t(j) * p.d + e];
        r.dk[size_t(j) * p.d + e] += ds * p.q[size_t(i) * p.d + e];
        r.dv[size_t(j) * p.d + e] += pr[j] * p.dy[size_t(i) * p.d + e];
      }
    }
  }
  return r;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const char* what,
                  const char* name) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-9 * (1 + std::fabs(want[i])))
        << what << "[" << i << "] " << name;
}

TEST(FlashTiling, MatchesTextbookAttention) {
  struct C {
    const char* name;
    int sq, sk, d;
    bool causal;
    int mask, dead_row;
  };
  const C cases[] = {
      {"s1", 1, 1, 16, false, 0, -1},
      {"s17_causal", 17, 17, 16, true, 0, -1},
      {"s65_causal", 65, 65, 16, true, 0, -1},
      {"s200_keyrow", 200, 200, 16, false, 1, -1},
      {"s130_causal_general", 130, 130, 16, true, 2, 3},
      {"cross_100_37", 100, 37, 16, false, 0, -1},
      {"causal_70_130", 70, 130, 16, true, 0, -1},
      {"causal_130_70_keyrow", 130, 70, 16, true, 1, -1},
      {"dead_first_block_causal", 150, 150, 16, true, 1, -1},
      {"cross_30_250_general", 30, 250, 16, false, 2, 7},
  };
  for (const C& c : cases)
    for (int tiles : {64, 32}) {  // the D <= 64 and the D = 128 gradient tiles
      const Problem p =
          make_problem(c.sq, c.sk, c.d, c.causal, c.mask, c.dead_row, c.sq * 31 + c.sk);
      const Grads got = emulate(p, tiles, tiles), want = reference(p);
      expect_close(got.y, want.y, "y", c.name);
      expect_close(got.dq, want.dq, "dq", c.name);
      expect_close(got.dk, want.dk, "dk", c.name);
      expect_close(got.dv, want.dv, "dv", c.name);
    }
}

}  // namespace
