#include "compiler/driver.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "compiler/emit_plan.h"
#include "compiler/progress.h"
#include "frontends/onnx/onnx_import.h"
#include "ir/bridge.h"
#include "ir/dialect.h"
#include "mlir/IR/MLIRContext.h"
#include "passes/pipeline.h"

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

}  // namespace

Status compile(const CompileOptions& o, CompileSummary* summary) {
  auto t0 = std::chrono::steady_clock::now();
  TSR_ASSIGN_OR_RETURN(passes::PipelineContext ctx, passes::make_context(o.mesh, o.cluster,
                                                                          o.memory_budget, o.mode,
                                                                          o.strategy_file));
  ir::Graph g;
  onnx_fe::ImportOptions io;
  io.dim_bindings = o.shapes;
  std::vector<Stage> stages = {
      {"import", [&](ir::Graph& gr) -> Status {
         TSR_ASSIGN_OR_RETURN(gr, onnx_fe::import_onnx(o.model, io));
         // Counted before resharding may add per-layout copies of a weight.
         gr.meta["parameters"] = Attr::Int(gr.parameter_count());
         return Status::Ok();
       }},
      {"spmd-search", [&](ir::Graph& gr) { return passes::run_spmd_search(gr, ctx); }},
      {"reshard", [&](ir::Graph& gr) { return passes::run_reshard(gr, ctx); }},
      {"partition", [&](ir::Graph& gr) { return passes::run_partition(gr, ctx); }},
  };
  Progress progress(o.quiet, o.verbose);
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
