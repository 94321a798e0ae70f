// The pass registry for tessera-opt: one explicit list, no static initialisers.
#include "mlir/Pass/PassRegistry.h"
#include "passes/autodiff.h"
#include "passes/graph_pass.h"

namespace tessera::passes {

struct PassEntry {
  const char* arg;
  const char* description;
  GraphFn fn;
};

static const PassEntry kPasses[] = {
    {"tessera-gelu", "Fuse decomposed GELU chains (tanh and erf forms) into Gelu (tessera.gelu)",
     run_gelu},
    {"tessera-attention",
     "Fuse MatMul->scale->mask->Softmax->MatMul into FusedAttention (tessera.attention)",
     run_attention},
    {"tessera-linear-bias", "Fuse MatMul + bias Add into Gemm (tessera.linear_bias)",
     run_linear_bias},
    {"tessera-attention-layout",
     "Fold the head Transposes around FusedAttention into the op (tessera.attention_layout)",
     run_attention_layout},
    {"tessera-quantize", "Calibrate and rewrite MatMul/Gemm/Conv into int8 ops (infer mode)",
     run_quantize},
    {"tessera-autodiff", "Train mode: append the loss, the backward graph and the optimizer",
     run_autodiff_stage},
    {"tessera-precision", "Infer mode: run inside the graph in bf16/fp16 (tessera.precision)",
     run_precision},
    {"tessera-fold-casts",
     "Fold f32<->bf16/f16 Casts into LayerNormalization(Grad) and the loss (tessera.fold_casts)",
     run_fold_casts},
    {"tessera-spmd-search", "Choose a sharding strategy per op under the memory budget",
     run_spmd_search},
    {"tessera-reshard", "Insert collectives where producer and consumer specs differ", run_reshard},
    {"tessera-partition", "Rewrite the global program into the per-rank local program",
     run_partition},
    {"tessera-checkpoint", "Recompute activations in the backward pass to meet the memory budget",
     run_checkpoint},
    {"tessera-chunk", "Split activation-heavy regions into chunks along a free dimension",
     run_chunk},
};

void register_passes() {
  for (const PassEntry& p : kPasses) {
    mlir::PassRegistration<GraphPass>(
        [p] { return std::make_unique<GraphPass>(p.arg, p.description, p.fn); });
  }
}

}  // namespace tessera::passes
