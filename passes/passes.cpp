// The pass registry for tessera-opt: one explicit list, no static initialisers.
#include "mlir/Pass/PassRegistry.h"
#include "passes/graph_pass.h"

namespace tessera::passes {

struct PassEntry {
  const char* arg;
  const char* description;
  GraphFn fn;
};

static const PassEntry kPasses[] = {
    {"tessera-spmd-search", "Choose a sharding strategy per op under the memory budget",
     run_spmd_search},
    {"tessera-reshard", "Insert collectives where producer and consumer specs differ",
     run_reshard},
    {"tessera-partition", "Rewrite the global program into the per-rank local program",
     run_partition},
};

void register_passes() {
  for (const PassEntry& p : kPasses) {
    mlir::PassRegistration<GraphPass>(
        [p] { return std::make_unique<GraphPass>(p.arg, p.description, p.fn); });
  }
}

}  // namespace tessera::passes
