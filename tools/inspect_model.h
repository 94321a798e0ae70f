// What `tessera inspect` shows, computed once from a plan and shared by every view (text, JSON,
// DOT, trace, HTML, explain): per-op rows with the collectives inserted for them, the modelled
// step split, and per-device memory over the instruction schedule. Reads plan files only (no
// compiler headers), so it builds with the runtime alone. Everything is in plan order:
// the same plan always gives the same output.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "plan.pb.h"

namespace tessera::tools {

struct TensorRef {
  int id = -1;
  std::string name, shape, local_shape, spec;  // shapes printed "[2, 8, 64]"
};

struct OpRow {
  int instruction = 0;  // index in plan.instructions
  std::string node, op, strategy, layer;
  std::vector<TensorRef> inputs, outputs;
  double seconds = 0;            // the kernel's own modelled seconds
  std::vector<int> collectives;  // indices into InspectModel::collectives
  double comm_seconds = 0;       // of those collectives
  int64_t comm_bytes = 0;
  int64_t output_bytes = 0;  // local bytes of results
  int64_t weight_bytes = 0;  // local bytes of weights read
  double total_seconds() const { return seconds + comm_seconds; }
};

struct CollectiveRow {
  int instruction = 0;
  std::string node, op, layer;
  std::vector<std::string> axes;
  int64_t bytes = 0;  // per device, B of the α-β formula
  double seconds = 0;
  int tensor = -1;  // output tensor id
  int for_op = -1;  // index into InspectModel::ops: the consumer (or, for graph outputs,
                    // the producer) it was inserted for; -1 if none
};

// Per-device bytes. Weight-section tensors split by name suffix; arena tensors at the peak step
// split by who produced them (a collective's buffer is a temporary, unless it is a graph output).
struct MemoryBreakdown {
  int64_t parameters = 0, gradients = 0, optimizer_state = 0, activations = 0, temporaries = 0;
  int64_t weight_bytes = 0;     // every weight-section tensor (parameters, state, constants)
  int64_t arena_bytes = 0;      // the planned arena (>= peak live: fragmentation)
  int64_t peak_live_arena = 0;  // most arena bytes live at one step
  int peak_step = 0;
  // The five parts plus fragmentation add up to peak_per_device().
  int64_t fragmentation() const { return arena_bytes - peak_live_arena; }
  int64_t peak_per_device() const { return weight_bytes + arena_bytes; }
};

struct InspectModel {
  const plan::Plan* plan = nullptr;
  std::string model, producer, mode, cluster, mesh;  // mesh printed "dp=2,tp=2"
  int64_t ranks = 1;
  int64_t parameters = 0;
  // Recomputation: instructions the checkpoint pass cloned ("<node>/recompute"), kernels and
  // collectives alike; communication is all exposed (the runtime does not overlap it yet).
  double compute_seconds = 0, comm_seconds = 0, recompute_seconds = 0;
  double solver_seconds = 0;  // spmd-search's objective (meta modelled_step_seconds)
  bool has_costs = false;     // false for plans written before the cost fields existed
  MemoryBreakdown memory;
  std::vector<int64_t> live_arena;  // arena bytes live at each instruction step
  std::vector<OpRow> ops;
  std::vector<CollectiveRow> collectives;
  std::vector<int> op_of_instruction;          // instruction -> ops index, -1 for collectives
  std::vector<int> collective_of_instruction;  // instruction -> collectives index, -1 for kernels
  double step_seconds() const { return compute_seconds + comm_seconds + recompute_seconds; }
};

bool is_collective_op(const std::string& op);
InspectModel build_inspect_model(const plan::Plan& p);
// Rank coordinates printed "dp=1,tp=0" (row-major, first axis slowest, as in plan.proto).
std::string rank_coords(const plan::Plan& p, int64_t rank);

}  // namespace tessera::tools
