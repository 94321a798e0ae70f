#include "compiler/driver.h"

#include <fnmatch.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "compiler/emit_plan.h"
#include "compiler/progress.h"
#include "compiler/random_weights.h"
#include "frontends/onnx/onnx_import.h"
#include "frontends/torchscript/torchscript_import.h"
#include "ir/bridge.h"
#include "ir/dialect.h"
#include "mlir/IR/MLIRContext.h"
#include "passes/autodiff.h"
#include "passes/pipeline.h"
#include "tessera/tensor_io.h"

namespace tessera::compiler {
namespace {

struct Stage {
  const char* name;
  std::function<Status(ir::Graph&)> run;
};

// Writes the IR after a stage as NN-name.mlir; a dump failure is reported, not fatal.
void dump(const CompileOptions& o, int index, const char* name, const ir::Graph& g) {
  if (o.dump_dir.empty()) return;
  std::filesystem::create_directories(o.dump_dir);
  char file[256];
  std::snprintf(file, sizeof file, "%02d-%s.mlir", index, name);
  mlir::DialectRegistry registry;
  ir::register_dialects(registry);
  mlir::MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();
  auto module = ir::graph_to_mlir(ctx, g);
  std::error_code ec;
  llvm::raw_fd_ostream os((std::filesystem::path(o.dump_dir) / file).string(), ec);
  if (ec) {
    std::fprintf(stderr, "warning: cannot write IR dump %s: %s\n", file, ec.message().c_str());
    return;
  }
  module->print(os);
}

StatusOr<passes::TrainOptions> train_options(const CompileOptions& o) {
  passes::TrainOptions t;
  if (o.loss != "cross_entropy" && o.loss != "mse")
    return InvalidArgument("--loss '" + o.loss + "': expected cross_entropy or mse");
  if (o.optimizer != "adamw" && o.optimizer != "sgd")
    return InvalidArgument("--optimizer '" + o.optimizer + "': expected adamw or sgd");
  if (!(o.lr > 0)) return InvalidArgument("--lr must be positive");
  if (o.weight_decay < 0) return InvalidArgument("--weight-decay must be >= 0");
  if (o.momentum < 0 || o.momentum >= 1) return InvalidArgument("--momentum must be in [0, 1)");
  if (o.precision != "fp32" && o.precision != "bf16" && o.precision != "fp16")
    return InvalidArgument("--precision '" + o.precision + "': expected fp32, bf16 or fp16");
  if (o.batchnorm != "train" && o.batchnorm != "eval")
    return InvalidArgument("--batchnorm '" + o.batchnorm + "': expected train or eval");
  t.loss = o.loss;
  t.optimizer = o.optimizer;
  t.lr = o.lr;
  t.weight_decay = o.weight_decay;
  t.momentum = o.momentum;
  t.gradients_only = o.gradients_only;
  t.output_gradients = o.output_gradients;
  t.batchnorm_eval = o.batchnorm == "eval";
  t.seed = o.seed;
  t.precision = o.precision;  // train mode: autodiff's autocast, f32 master weights
  return t;
}

// Float weights of rank >= 1 train unless a --freeze glob names them. Scalars are exporter
// literals (0.5, sqrt(2/pi), ...), not parameters.
Status select_trainable(const ir::Graph& g, const CompileOptions& o, passes::TrainOptions& t) {
  std::vector<bool> used(o.freeze.size(), false);
  for (const ir::Value& v : g.values) {
    if (v.kind != ir::ValueKind::kWeight || !dtype_is_float(v.dtype)) continue;
    bool frozen = v.shape.empty();
    for (size_t i = 0; i < o.freeze.size(); ++i)
      if (fnmatch(o.freeze[i].c_str(), v.name.c_str(), 0) == 0) frozen = used[i] = true;
    (frozen ? t.frozen : t.trainable).push_back(v.name);
  }
  for (size_t i = 0; i < o.freeze.size(); ++i)
    if (!used[i]) return InvalidArgument("--freeze '" + o.freeze[i] + "' matches no weight");
  if (t.trainable.empty()) return InvalidArgument("--mode train: no weight left to train");
  return Status::Ok();
}

// --random-weights and --calibration-shape serve --quantize (the only stage that reads weight
// and activation values at compile time); elsewhere they would silently do nothing.
Status check_quantize_flags(const CompileOptions& o) {
  if (o.random_weights < -1) return InvalidArgument("--random-weights: the seed must be >= 0");
  if (o.quantize.empty() && o.random_weights >= 0)
    return InvalidArgument(
        "--random-weights applies to --quantize (the only stage that reads weight values); a "
        "graph-only model compiles to a graph-only plan without it");
  if (o.quantize.empty() && !o.calibration_shapes.empty())
    return InvalidArgument("--calibration-shape applies to --quantize only");
  if (!o.calibration_shapes.empty() && ts_fe::is_torchscript_file(o.model))
    return Unimplemented("--calibration-shape: ONNX models only (a trace has fixed shapes)");
  return Status::Ok();
}

std::string bindings_str(const std::map<std::string, int64_t>& b) {
  std::string s;
  for (const auto& [k, v] : b) s += (s.empty() ? "" : ",") + k + "=" + std::to_string(v);
  return s;
}

// g's twin at the calibration dims (--calibration-shape over --shape): imported again without
// weight data, through the same stages before quantize (gelu, attention, linear-bias,
// attention-layout), then given g's weights. Costs one more import and four cheap passes; the
// interpreter then runs at, e.g., batch 1 x seq 128 instead of the plan's 32 x 512 (128x fewer
// tokens).
StatusOr<ir::Graph> calibration_twin(const CompileOptions& o, onnx_fe::ImportOptions io,
                                     passes::PipelineContext& ctx, const ir::Graph& g) {
  for (const auto& [k, v] : o.calibration_shapes) io.dim_bindings[k] = v;
  io.load_weights = false;
  const std::string dims = bindings_str(o.calibration_shapes);
  auto t = onnx_fe::import_onnx(o.model, io);
  if (!t.ok())
    return Status(t.status().code(), "--calibration-shape " + dims + ": " + t.status().message());
  ir::Graph twin = std::move(*t);
  for (const char* k : {"gelu", "attention", "linear_bias", "attention_layout", "mode", "chunk"})
    if (g.meta.count(k)) twin.meta[k] = g.meta.at(k);
  TSR_RETURN_IF_ERROR(passes::run_gelu(twin, ctx));
  TSR_RETURN_IF_ERROR(passes::run_attention(twin, ctx));
  TSR_RETURN_IF_ERROR(passes::run_linear_bias(twin, ctx));
  TSR_RETURN_IF_ERROR(passes::run_attention_layout(twin, ctx));
  TSR_RETURN_IF_ERROR(adopt_twin(g, twin, dims));
  bool same = true;
  for (int v : g.inputs) same = same && g.values[v].shape == twin.values[v].shape;
  if (same)
    return InvalidArgument("--calibration-shape " + dims +
                           " leaves the graph inputs' shapes as the plan's: no such dim in the "
                           "model, or the same values as --shape");
  return twin;
}

// The quantize stage: options into meta, the calibration twin if asked for, the pass; then a
// plan compiled on random weights forgets them (they are not the model's, and bert-large's
// would be 340 MB of int8 in the plan): it stays graph-only, as its model was.
Status quantize_stage(const CompileOptions& o, const onnx_fe::ImportOptions& io,
                      passes::PipelineContext& ctx, ir::Graph& g) {
  if (o.quantize.empty()) return Status::Ok();
  // Filled here, not at import: the stages before see the graph-only model as they would
  // without the flag (the gelu stage verifies constants that have data, and random ones would
  // keep every GELU unfused, unlike the bf16 plan of the same model).
  if (o.random_weights >= 0) {
    TSR_RETURN_IF_ERROR(fill_random_weights(g, o.random_weights));
  } else {
    int64_t weights = 0, with_data = 0;
    for (const ir::Value& v : g.values)
      if (v.kind == ir::ValueKind::kWeight) ++weights, with_data += v.data != nullptr;
    if (weights > 0 && with_data == 0)
      return InvalidArgument(
          "--quantize: the model carries no weight data (graph-only), so there is nothing to "
          "quantize; --random-weights SEED makes a benchmark plan from random weights");
  }
  passes::record_quantize_options(
      {o.quantize, o.calibration, o.calibration_method, o.calibration_percentile, o.smooth_alpha,
       o.keep_float, o.activation_scales},
      g);
  if (o.calibration_shapes.empty()) {
    TSR_RETURN_IF_ERROR(passes::run_quantize(g, ctx));
  } else {
    TSR_ASSIGN_OR_RETURN(ir::Graph twin, calibration_twin(o, io, ctx, g));
    g.meta["quant_calibration_shape"] = Attr::Str(bindings_str(o.calibration_shapes));
    TSR_RETURN_IF_ERROR(passes::run_quantize(g, ctx, twin));
  }
  if (o.random_weights < 0) return Status::Ok();
  drop_weight_data(g);
  g.meta["quant_random_weights"] = Attr::Str(
      "seed " + std::to_string(o.random_weights) +
      ": calibrated and quantized on random weights (uniform +-0.05); the plan stores no weight "
      "data, so run needs SessionOptions::random_weights (benchmarks: timing only)");
  return Status::Ok();
}

}  // namespace

// The TorchScript import's input shapes: DIR/input_0.pb, input_1.pb, ... (dtype and shape only).
static StatusOr<ts_fe::ImportOptions> torchscript_options(const CompileOptions& o) {
  ts_fe::ImportOptions to;
  if (o.example_inputs.empty()) return to;
  for (int i = 0;; ++i) {
    const std::string f = o.example_inputs + "/input_" + std::to_string(i) + ".pb";
    if (!std::filesystem::exists(f)) break;
    auto t = read_tensor_proto(f);
    if (!t.ok()) return Status(t.status().code(), "--inputs: " + t.status().message());
    to.input_shapes.push_back({t->dtype, t->shape});
  }
  if (to.input_shapes.empty())
    return InvalidArgument("--inputs '" + o.example_inputs + "': no input_0.pb there");
  return to;
}

Status compile(const CompileOptions& o, CompileSummary* summary) {
  auto t0 = std::chrono::steady_clock::now();
  TSR_RETURN_IF_ERROR(check_quantize_flags(o));
  TSR_ASSIGN_OR_RETURN(
      passes::PipelineContext ctx,
      passes::make_context(o.mesh, o.cluster, o.memory_budget, o.mode, o.strategy_file));
  ir::Graph g;
  onnx_fe::ImportOptions io;
  io.dim_bindings = o.shapes;
  io.train_dropout = o.mode == "train";
  TSR_ASSIGN_OR_RETURN(passes::TrainOptions train, train_options(o));
  std::vector<Stage> stages = {
      {"import",
       [&](ir::Graph& gr) -> Status {
         if (ts_fe::is_torchscript_file(o.model)) {
           // Traced archives of torch >= 2.0 carry their example inputs' shapes
           // (traced_inputs.pkl); --inputs overrides them or stands in for them.
           TSR_ASSIGN_OR_RETURN(ts_fe::ImportOptions to, torchscript_options(o));
           TSR_ASSIGN_OR_RETURN(gr, ts_fe::import_torchscript(o.model, to));
         } else {
           TSR_ASSIGN_OR_RETURN(gr, onnx_fe::import_onnx(o.model, io));
         }
         // For `tessera run --export-onnx`: the trained weights go back into this file.
         gr.meta["source_model"] = Attr::Str(std::filesystem::absolute(o.model).string());
         // Counted before resharding may add per-layout copies of a weight.
         gr.meta["parameters"] = Attr::Int(gr.parameter_count());
         return Status::Ok();
       }},
      {"gelu",
       [&](ir::Graph& gr) -> Status {
         gr.meta["gelu"] = Attr::Str(o.gelu);
         TSR_RETURN_IF_ERROR(passes::run_gelu(gr, ctx));
         const int64_t unverified = attr_int(gr.meta, "gelu.unverified", 0);
         if (unverified > 0 && !o.quiet)
           std::fprintf(stderr,
                        "gelu: %lld chains fused on structure alone: the model carries no values "
                        "for their constants\n",
                        static_cast<long long>(unverified));
         return Status::Ok();
       }},
      {"attention",
       [&](ir::Graph& gr) -> Status {
         gr.meta["attention"] = Attr::Str(o.attention);
         gr.meta["mode"] = Attr::Str(o.mode);
         gr.meta["chunk"] = Attr::Str(o.chunk);
         return passes::run_attention(gr, ctx);
       }},
      {"linear-bias",
       [&](ir::Graph& gr) -> Status {
         gr.meta["linear_bias"] = Attr::Str(o.linear_bias);
         return passes::run_linear_bias(gr, ctx);
       }},
      {"attention-layout",
       [&](ir::Graph& gr) -> Status {
         gr.meta["attention_layout"] = Attr::Str(o.attention_layout);
         return passes::run_attention_layout(gr, ctx);
       }},
      {"autodiff",
       [&](ir::Graph& gr) -> Status {
         if (o.mode != "train") return Status::Ok();
         TSR_RETURN_IF_ERROR(select_trainable(gr, o, train));
         gr.meta["checkpoint"] = Attr::Str(o.checkpoint);  // spmd-search reads it too
         return passes::run_autodiff(gr, train);
       }},
      {"quantize", [&](ir::Graph& gr) { return quantize_stage(o, io, ctx, gr); }},
      {"precision",
       [&](ir::Graph& gr) -> Status {
         if (o.precision == "fp32") return Status::Ok();
         gr.meta["precision"] = Attr::Str(o.precision);
         if (o.mode == "train") return Status::Ok();  // done by autodiff (autocast_forward)
         return passes::run_precision(gr, ctx);
       }},
      {"fold-casts",
       [&](ir::Graph& gr) -> Status {
         gr.meta["fold_casts"] = Attr::Str(o.fold_casts);
         return passes::run_fold_casts(gr, ctx);
       }},
      {"spmd-search", [&](ir::Graph& gr) { return passes::run_spmd_search(gr, ctx); }},
      {"reshard", [&](ir::Graph& gr) { return passes::run_reshard(gr, ctx); }},
      {"partition", [&](ir::Graph& gr) { return passes::run_partition(gr, ctx); }},
      {"checkpoint",
       [&](ir::Graph& gr) -> Status {
         if (o.mode != "train") return Status::Ok();
         gr.meta["checkpoint"] = Attr::Str(o.checkpoint);
         return passes::run_checkpoint(gr, ctx);
       }},
      {"chunk",
       [&](ir::Graph& gr) -> Status {
         gr.meta["chunk"] = Attr::Str(o.chunk);
         if (o.chunk_count > 0) gr.meta["chunk_count"] = Attr::Int(o.chunk_count);
         if (o.chunk_budget > 0) gr.meta["chunk_budget"] = Attr::Int(o.chunk_budget);
         return passes::run_chunk(gr, ctx);
       }},
  };
  Progress progress(o.quiet, o.verbose);
  progress.set_total(static_cast<int>(stages.size()) + 1);  // + emit
  int index = 0;
  for (const Stage& s : stages) {
    auto st = std::chrono::steady_clock::now();
    progress.begin(s.name);
    TSR_RETURN_IF_ERROR(s.run(g));
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - st).count();
    progress.end(s.name, secs, o.timings);
    dump(o, index++, s.name, g);
  }
  auto st = std::chrono::steady_clock::now();
  progress.begin("emit");
  CompileSummary local;
  CompileSummary* sum = summary ? summary : &local;
  TSR_RETURN_IF_ERROR(emit_plan(g, ctx.mesh, o.output, sum));
  progress.end("emit", std::chrono::duration<double>(std::chrono::steady_clock::now() - st).count(),
               o.timings);
  sum->plan_path = o.output;
  sum->parameters = attr_int(g.meta, "parameters", 0);
  sum->nodes = static_cast<int64_t>(g.nodes.size());
  for (const auto& n : g.nodes) sum->collectives += ir::is_collective_op(n.op);
  sum->modelled_step_seconds = ctx.modelled_step_seconds;
  sum->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace tessera::compiler
