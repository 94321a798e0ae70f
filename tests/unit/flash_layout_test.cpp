// CPU emulation of the warp-level tensor-core data flow of the flash attention kernels
// (kernels/cuda/flash_attention.cu), with the lane mappings they use (kernels/cuda/
// flash_layout.h). ldmatrix and mma.m16n8k16 are emulated from the PTX ISA's description of
// their fragments (written out here independently of flash_layout.h); the loops mirror the
// kernels' mma_nt / mma_nn / repack helpers. Each product assembled from the 32 lanes'
// registers must equal a plain matmul, so a wrong lane-to-address mapping, operand order or
// repacking shows up here without a GPU. Also checks that every ldmatrix row address is
// 16-byte aligned and that each 8-lane phase hits 8 distinct 16-byte bank groups at the
// kernels' padded row stride (no shared-memory bank conflicts).
#include <gtest/gtest.h>

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
using Warp4 = std::array<std::array<Reg, 4>, 32>;  // 4 registers per lane
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
      out[l][m] = trans ? Reg{elem(2 * t, g), elem(2 * t + 1, g)}
                        : Reg{elem(g, 2 * t), elem(g, 2 * t + 1)};
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

}  // namespace
