// The passes as graph-level functions (what the driver calls) plus their MLIR registrations
// (what tessera-opt and lit tests call). Options travel on the graph's meta attributes
// (module attributes `tessera.mesh`, `tessera.cluster`, ... in MLIR), so a pass run from
// tessera-opt sees exactly what the driver would give it.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/core/cluster.h"
#include "passes/core/mesh.h"
#include "tessera/status.h"

namespace tessera::spmd {
struct Strategy;
}
namespace tessera::passes {

// Restricts the strategies spmd-search may choose for a node (benchmarks score hand-written
// plan families this way: pure data parallelism, Megatron-style tensor parallelism).
using StrategyFilter =
    std::function<bool(const ir::Graph&, const ir::Node&, const spmd::Strategy&)>;

struct PipelineContext {
  spmd::Mesh mesh;
  spmd::ClusterProfile cluster;
  std::string cluster_name = "cpu";
  int64_t memory_budget = 0;  // bytes per device; 0 = profile capacity
  std::string mode = "infer";
  std::string strategy_file;
  StrategyFilter filter;             // empty = every strategy allowed
  double modelled_step_seconds = 0;  // set by spmd-search
  double modelled_peak_bytes = 0;    // set by spmd-search
};

StatusOr<PipelineContext> make_context(const std::string& mesh, const std::string& cluster,
                                       int64_t memory_budget, const std::string& mode,
                                       const std::string& strategy_file);
// Writes the options into g.meta / reads them back.
void record_context(const PipelineContext& ctx, ir::Graph& g);
StatusOr<PipelineContext> context_from_graph(const ir::Graph& g);

// Quantization options (docs/quantization.md); type "" = off. Written into g.meta so that
// tessera-opt runs of the pass see what the driver would give it.
struct QuantizeOptions {
  std::string type;             // "int8"
  std::string calibration;      // directory of input_N.pb sets
  std::string method = "auto";  // auto | minmax | percentile | entropy
  double percentile = 99.99;
  double smooth_alpha = -1;  // SmoothQuant; 0 = off, < 0 = auto (outlier channels only)
  std::vector<std::string> keep_float;
  std::string activation_scales = "auto";  // auto | tensor | token (per-row, at run time)
};
void record_quantize_options(const QuantizeOptions& q, ir::Graph& g);

// Right after import: decomposed GELU chains (tanh and erf forms) into one Gelu node (g.meta
// "gelu": fused | unfused; passes/gelu.cpp).
Status run_gelu(ir::Graph& g, PipelineContext& ctx);
// Before autodiff: MatMul -> scale -> mask -> Softmax -> MatMul into FusedAttention (g.meta
// "attention": auto | fused | unfused; passes/attention.cpp).
Status run_attention(ir::Graph& g, PipelineContext& ctx);
// After attention: MatMul + bias Add into Gemm with the bias as C (g.meta "linear_bias": fused |
// unfused; passes/linear_bias.cpp).
Status run_linear_bias(ir::Graph& g, PipelineContext& ctx);
// After attention, before autodiff: head Transposes around FusedAttention folded into the op
// (layout bshd; g.meta "attention_layout": bshd | bhsd; passes/attention_layout.cpp).
Status run_attention_layout(ir::Graph& g, PipelineContext& ctx);
Status run_quantize(ir::Graph& g, PipelineContext& ctx);
// The same with every interpreter run of the pass (calibration, bias correction, the auto
// comparison) on calibration_graph: g's twin at other dims (the same nodes and values in the
// same order; only activation shapes differ).
Status run_quantize(ir::Graph& g, PipelineContext& ctx, const ir::Graph& calibration_graph);
// Infer mode: f32 -> bf16/fp16 inside the graph, Casts at its edges (g.meta "precision";
// passes/precision.cpp).
Status run_precision(ir::Graph& g, PipelineContext& ctx);
// After autodiff and precision: a Cast between f32 and bf16/f16 next to LayerNormalization(Grad)
// or SoftmaxCrossEntropy{Loss,Grad} becomes that op's 16-bit operand (g.meta "fold_casts": on |
// off; passes/fold_casts.cpp).
Status run_fold_casts(ir::Graph& g, PipelineContext& ctx);
Status run_spmd_search(ir::Graph& g, PipelineContext& ctx);
Status run_reshard(ir::Graph& g, PipelineContext& ctx);
Status run_partition(ir::Graph& g, PipelineContext& ctx);
// Train mode: recompute instead of keeping activations (g.meta "checkpoint";
// passes/checkpoint.cpp).
Status run_checkpoint(ir::Graph& g, PipelineContext& ctx);
Status run_chunk(ir::Graph& g, PipelineContext& ctx);  // after partition: local shapes

// Registers every pass with MLIR's pass registry (explicit; called from tessera-opt's main).
void register_passes();

}  // namespace tessera::passes
