// A minimal mixed-integer program and its solution through COIN-OR CBC. Solving is
// deterministic: one thread, fixed random seeds, no output.
#pragma once
#include <vector>

#include "tessera/status.h"

namespace tessera::spmd {

struct Mip {
  std::vector<double> obj, col_lo, col_hi;  // minimise obj · x
  std::vector<char> integer;                // per column
  std::vector<int> row_of, col_of;          // sparse matrix triplets
  std::vector<double> value;
  std::vector<double> row_lo, row_hi;

  int add_col(double cost, double lo, double hi, bool is_int);
  int add_row(double lo, double hi);
  void set(int row, int col, double v);
};

enum class MipResult { kOptimal, kInfeasible, kStopped };

// Fills x with the best solution found; kStopped when the time limit ended the search.
MipResult solve_mip(const Mip& m, double time_limit_s, std::vector<double>* x);

}  // namespace tessera::spmd
