// Activation checkpoint placement over a chain of forward stages (plain C++, no IR).
//
// The forward graph is cut at articulation points into stages 0..n-1. In the backward pass a
// stage is either kept (its saved activations stay from the forward pass) or belongs to a
// recomputed run l..r: the run's forward is replayed from the boundary kept before it, once,
// right before the backward needs it (single-level, as in Chen et al. 2016; Rotor's DP over
// that space). Costs are in bytes and seconds per device.
//
// Memory model (what ckpt_peak computes, and what ckpt_simulate_peak re-derives step by step):
//   stored(segment) = kept stage: saved (+ out_extra when a run follows);
//                     run:        out of its last stage when another run follows, else 0
//   backward of kept stage i:   fixed + stored(<i) + saved_i + temp_i
//   backward of run l..r at j:  fixed + stored(<l) + sum(saved_l..j) + temp_j
// peak = the max of those and `floor`. The objective is the recompute time, sum of seconds over
// runs.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::core {

struct CkptStage {
  std::string name;       // first node, for messages
  double seconds = 0;     // forward time, collectives included (they are replayed too)
  int64_t saved = 0;      // bytes of this stage's values the backward reads
  int64_t out = 0;        // bytes of the boundary the next stage is recomputed from
  int64_t out_extra = 0;  // part of `out` not already in `saved`
  int64_t temp = 0;       // transient bytes while this stage's backward runs
  int layer = -1;         // transformer block / layer index, -1 outside layers
};

struct CkptProblem {
  std::vector<CkptStage> stages;
  int64_t fixed = 0;  // bytes live all along: parameters, optimizer state (weight storage)
  // Peak no placement changes (fixed included): e.g. the optimizer update after the backward,
  // when every activation is gone but the updated states and gradients are live.
  int64_t floor = 0;
};

struct CkptPlan {
  std::vector<bool> recompute;  // per stage
  double recompute_seconds = 0;
  int64_t peak = 0;   // modelled per-device peak, fixed bytes included
  int64_t saved = 0;  // activation bytes held at the end of the forward pass
};

// The model's peak for a recompute mask (formula above), and the same by an independent
// step-by-step liveness simulation (tests cross-check the two).
int64_t ckpt_peak(const CkptProblem& p, const std::vector<bool>& recompute);
int64_t ckpt_simulate_peak(const CkptProblem& p, const std::vector<bool>& recompute);
CkptPlan ckpt_evaluate(const CkptProblem& p, std::vector<bool> recompute);

// Least recompute time with peak <= budget: an exact DP from the right over segments whose state
// is a Pareto set of (recompute seconds, bytes needed above the prefix). O(n^2 * front) time;
// fronts are exact (tests compare with exhaustive search), bucketed only past 256 entries.
// Errors name the smallest budget any placement in this space meets.
StatusOr<CkptPlan> ckpt_optimal(const CkptProblem& p, int64_t budget);
int64_t ckpt_min_budget(const CkptProblem& p);
// Every plan, 3^n (kept, in a run, ending a run): the reference for tests (n <= 13).
StatusOr<CkptPlan> ckpt_exhaustive(const CkptProblem& p, int64_t budget);

// Baselines. every-layer: each layer a run (stages outside layers kept). sqrt-n (Chen): ~sqrt(n)
// runs of equal forward time covering the chain.
CkptPlan ckpt_none(const CkptProblem& p);
CkptPlan ckpt_every_layer(const CkptProblem& p);
CkptPlan ckpt_sqrt_n(const CkptProblem& p);

}  // namespace tessera::core
