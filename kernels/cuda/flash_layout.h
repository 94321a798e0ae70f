// Which elements each lane of a warp owns in the tensor-core operations of the flash kernels
// (flash_attention.cu): mma.sync.aligned.m16n8k16.row.col.f32.{bf16,f16}.{..}.f32 and
// ldmatrix.sync.aligned.m8n8.x4[.trans].shared.b16. Plain C++ (host and device), so that
// tests/unit/flash_layout_test.cpp can emulate the warp on the CPU with exactly these mappings.
//
// The PTX ISA facts these rest on (lane = 0..31, g = lane >> 2 "groupID", t = lane & 3
// "threadID_in_group"; a 32-bit register holds two 16-bit elements, the lower column/row index
// in the low half):
//
//   mma m16n8k16, A (16x16, row-major): registers a0..a3, each two elements:
//     a0: row g,     cols 2t, 2t+1        a1: row g + 8, cols 2t, 2t+1
//     a2: row g,     cols 2t+8, 2t+9      a3: row g + 8, cols 2t+8, 2t+9
//   B (16x8, "col": k down, n across): registers b0, b1:
//     b0: rows (k) 2t, 2t+1 of col (n) g  b1: rows 2t+8, 2t+9 of col g
//   C/D (16x8, f32): c0, c1: row g, cols 2t, 2t+1; c2, c3: row g + 8, cols 2t, 2t+1.
//
//   ldmatrix .x4: four 8x8 matrices of 16-bit elements; lanes 8i..8i+7 give the shared
//   addresses of rows 0..7 of matrix i (16 contiguous bytes each, 16-byte aligned), and
//   destination register i of every lane receives from matrix i:
//     without .trans: elements (row g, cols 2t, 2t+1)
//     with .trans:    elements (rows 2t, 2t+1, col g), i.e. the transpose's (row g, cols 2t..)
//   where "row r" means the 16 bytes lane 8i + r pointed at.
//
// How the kernels use them (all tiles row-major in shared memory, row stride kLd elements):
//   A operand, a 16x16 tile at (r0, c0): ldmatrix.x4, lane points at row r0 + lda_row(lane),
//     col c0 + lda_col(lane); registers 0..3 are a0..a3.
//   B operand of C = A·Xᵀ, X stored [n][k] (K for q·kᵀ, V for dy·vᵀ, Q for k·qᵀ, ..): one
//     ldmatrix.x4 (no .trans) gives the b0, b1 of two n-tiles: lane points at X row
//     n0 + ldbt_row(lane), col k0 + ldbt_col(lane); registers {0,1}: n-tile n0, {2,3}: n0 + 8.
//   B operand of C = A·X, X stored [k][n] (V for p·v, K for ds·k, dy for pᵀ·dy, Q for dsᵀ·q):
//     ldmatrix.x4.trans: lane points at X row k0 + ldbn_row(lane), col n0 + ldbn_col(lane);
//     registers {0,1}: n-tile n0, {2,3}: n-tile n0 + 8.
//   Accumulators: acc[j][i] is element i of n-tile j: row acc_row(lane, i), col
//     8j + acc_col(lane, i).
//   The FA2 register reuse: the accumulator of a 16 x 16·kk2 product, rounded to 16 bits, is
//   the A operand of the next product over that dimension: A register r of k-step kk is the
//   pair acc[repack_tile(kk, r)][repack_elem(r)], [repack_elem(r) + 1] (row and column
//   ownership coincide: compare a0..a3 with c0..c3 above).
#pragma once

#if defined(__CUDACC__)
#define TSR_FLASH_HD __host__ __device__
#else
#define TSR_FLASH_HD
#endif

namespace tessera::kernels::cuda::flash_layout {

TSR_FLASH_HD constexpr int group_of(int lane) { return lane >> 2; }
TSR_FLASH_HD constexpr int thread_in_group(int lane) { return lane & 3; }

// ldmatrix.x4 for an A operand: matrices 0..3 = (rows 0-7, cols 0-7), (rows 8-15, cols 0-7),
// (rows 0-7, cols 8-15), (rows 8-15, cols 8-15) = a0..a3.
TSR_FLASH_HD constexpr int lda_row(int lane) { return lane & 15; }
TSR_FLASH_HD constexpr int lda_col(int lane) { return (lane >> 4) * 8; }

// ldmatrix.x4 (no .trans) for B of two n-tiles from X stored [n][k]: matrices 0..3 =
// (n 0-7, k 0-7) = b0 of tile 0, (n 0-7, k 8-15) = b1 of tile 0, (n 8-15, k 0-7) = b0 of
// tile 1, (n 8-15, k 8-15) = b1 of tile 1. Lane l of a matrix reads (n = g, k = 2t, 2t+1):
// b0's (k = 2t, 2t+1, n = g).
TSR_FLASH_HD constexpr int ldbt_row(int lane) { return (lane & 7) + ((lane >> 4) << 3); }
TSR_FLASH_HD constexpr int ldbt_col(int lane) { return ((lane >> 3) & 1) * 8; }

// ldmatrix.x4.trans for B of two n-tiles from X stored [k][n]: matrices 0..3 = (k 0-7, n 0-7)
// = b0 of tile 0, (k 8-15, n 0-7) = b1 of tile 0, (k 0-7, n 8-15) = b0 of tile 1, (k 8-15,
// n 8-15) = b1 of tile 1. With .trans, lane l of a matrix gets its (rows 2t, 2t+1, col g):
// (k = 2t, 2t+1, n = g), b0's layout.
TSR_FLASH_HD constexpr int ldbn_row(int lane) { return (lane & 7) + (((lane >> 3) & 1) << 3); }
TSR_FLASH_HD constexpr int ldbn_col(int lane) { return (lane >> 4) * 8; }

// Accumulator element i (0..3) of an n-tile: row and column within the 16x8 tile.
TSR_FLASH_HD constexpr int acc_row(int lane, int i) { return (lane >> 2) + (i >> 1) * 8; }
TSR_FLASH_HD constexpr int acc_col(int lane, int i) { return (lane & 3) * 2 + (i & 1); }

// A register r (0..3) of k-step kk from accumulator n-tiles: a0 = tile 2kk (c0, c1), a1 = tile
// 2kk (c2, c3), a2 = tile 2kk + 1 (c0, c1), a3 = tile 2kk + 1 (c2, c3).
TSR_FLASH_HD constexpr int repack_tile(int kk, int r) { return 2 * kk + (r >> 1); }
TSR_FLASH_HD constexpr int repack_elem(int r) { return (r & 1) * 2; }

}  // namespace tessera::kernels::cuda::flash_layout
