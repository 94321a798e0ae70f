#include "passes/core/mip.h"

#include <coin/CbcModel.hpp>
#include <coin/CoinPackedMatrix.hpp>
#include <coin/OsiClpSolverInterface.hpp>

namespace tessera::spmd {

int Mip::add_col(double cost, double lo, double hi, bool is_int) {
  obj.push_back(cost);
  col_lo.push_back(lo);
  col_hi.push_back(hi);
  integer.push_back(is_int);
  return static_cast<int>(obj.size()) - 1;
}

int Mip::add_row(double lo, double hi) {
  row_lo.push_back(lo);
  row_hi.push_back(hi);
  return static_cast<int>(row_lo.size()) - 1;
}

void Mip::set(int row, int col, double v) {
  row_of.push_back(row);
  col_of.push_back(col);
  value.push_back(v);
}

MipResult solve_mip(const Mip& m, double time_limit_s, std::vector<double>* x) {
  CoinPackedMatrix a(false, m.row_of.data(), m.col_of.data(), m.value.data(),
                     static_cast<CoinBigIndex>(m.value.size()));
  a.setDimensions(static_cast<int>(m.row_lo.size()), static_cast<int>(m.obj.size()));
  OsiClpSolverInterface lp;
  lp.messageHandler()->setLogLevel(0);
  lp.loadProblem(a, m.col_lo.data(), m.col_hi.data(), m.obj.data(), m.row_lo.data(),
                 m.row_hi.data());
  for (size_t c = 0; c < m.integer.size(); ++c) {
    if (m.integer[c]) lp.setInteger(static_cast<int>(c));
  }
  lp.getModelPtr()->setRandomSeed(1234567);
  CbcModel model(lp);
  model.setLogLevel(0);
  model.messageHandler()->setLogLevel(0);
  model.setNumberThreads(1);
  model.setRandomSeed(1234567);
  model.setMaximumSeconds(time_limit_s);
  model.setAllowableGap(1e-9);
  model.setAllowableFractionGap(1e-9);
  model.branchAndBound();
  if (model.isProvenInfeasible()) return MipResult::kInfeasible;
  if (!model.bestSolution()) {
    return model.isProvenOptimal() ? MipResult::kInfeasible : MipResult::kStopped;
  }
  x->assign(model.bestSolution(), model.bestSolution() + m.obj.size());
  return model.isProvenOptimal() ? MipResult::kOptimal : MipResult::kStopped;
}

}  // namespace tessera::spmd
