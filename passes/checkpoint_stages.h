// Internal to the checkpoint pass: the linearised training graph as a chain of forward stages
// (the input of core::ckpt_optimal) and the map back to nodes for the rewrite.
#pragma once
#include <vector>

#include "ir/graph.h"
#include "passes/core/checkpoint.h"
#include "passes/pipeline.h"

namespace tessera::passes {

struct ForwardChain {
  core::CkptProblem problem;
  std::vector<std::vector<int>> stage_nodes;  // node indices per stage, in order
  std::vector<std::vector<int>> boundary;     // values crossing the cut after each stage
  int backward_begin = -1;                    // first backward node; -1 = not a training graph
  // Bytes per device by kind, for the plan's breakdown.
  int64_t parameter_bytes = 0, optimizer_bytes = 0, gradient_bytes = 0, input_bytes = 0;
};

int64_t local_bytes(const ir::Value& v);
// Bytes in the arena or weight section: rounded up to 64 as the runtime lays tensors out.
int64_t arena_bytes(const ir::Value& v);

// Lifetimes in node steps as the plan emitter hands them to the arena planner: written at the
// producer (inputs at 0), dead after the last reader, graph outputs live to the end (step
// nodes.size()). `arena`: the value takes arena space of its own (not weights, not unused, not
// an optimizer update written into its state, not a reshape aliasing its input). `root`: the
// value whose buffer it shares (core/arena_alias.h), itself otherwise; a root's lifetime covers
// its whole group.
struct Liveness {
  std::vector<int> first, last;
  std::vector<bool> arena;
  std::vector<int> root;
};
Liveness liveness(const ir::Graph& g);

// The plan's per-device peak as `inspect` reports it: weight bytes + the arena planner's size
// over these lifetimes. O(values^2) worst case (the arena planner's best fit).
int64_t planned_peak(const ir::Graph& g);
// Forward nodes: before the first "grad/" node, minus collectives that only serve the backward.
// Stages: cut wherever at most one large value (>= 1/64 of the largest) crosses forward.
ForwardChain build_forward_chain(const ir::Graph& g, const PipelineContext& ctx);

}  // namespace tessera::passes
