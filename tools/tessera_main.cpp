// `tessera`: compile (when built with the compiler), run, inspect. Every failure prints one line
// `error: ...` and exits non-zero; --help works for every subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "compare.h"
#include "emit_executable.h"
#include "inspect.h"
#include "run_cli.h"
#include "size_parse.h"

#ifdef TESSERA_HAVE_COMPILER
#include "compiler/driver.h"
#endif

namespace {

#ifdef TESSERA_HAVE_COMPILER
void add_compile(CLI::App& app, tessera::compiler::CompileOptions& o, std::string& shapes,
                 std::string& budget, std::string& emit) {
  auto* c = app.add_subcommand("compile", "Compile an ONNX model into a plan");
  c->add_option("model", o.model, "Model file (.onnx)")->required();
  c->add_option("-o,--output", o.output, "Plan file to write")->capture_default_str();
  c->add_option("--shape", shapes, "Bind symbolic dims, e.g. batch=8,seq=1024");
  c->add_option("--mesh", o.mesh, "Device mesh, e.g. dp=2,tp=4 (default: one device)");
  c->add_option("--cluster", o.cluster, "Cluster profile: h100-nvlink, h100-ib, cpu, or a file")
      ->capture_default_str();
  c->add_option("--memory-budget", budget, "Per-device memory budget, e.g. 16GiB");
  c->add_option("--mode", o.mode, "infer or train")->capture_default_str();
  c->add_option("--loss", o.loss, "Train mode: cross_entropy or mse")->capture_default_str();
  c->add_option("--optimizer", o.optimizer, "Train mode: adamw or sgd")->capture_default_str();
  c->add_option("--lr", o.lr, "Train mode: learning rate")->capture_default_str();
  c->add_option("--weight-decay", o.weight_decay, "Train mode: decoupled weight decay (adamw)")
      ->capture_default_str();
  c->add_option("--momentum", o.momentum, "Train mode: sgd momentum (0 = none)")
      ->capture_default_str();
  c->add_option("--precision", o.precision, "Train mode: fp32 (bf16, fp16: not yet)")
      ->capture_default_str();
  c->add_option("--batchnorm", o.batchnorm, "Train mode: eval (running statistics)")
      ->capture_default_str();
  c->add_option("--freeze", o.freeze, "Train mode: glob of weights kept out of the optimizer")
      ->delimiter(',');
  c->add_flag("--gradients-only", o.gradients_only,
              "Train mode: outputs are the loss and each weight's gradient, no update");
  c->add_option("--strategy", o.strategy_file, "File forcing strategies for named nodes");
  c->add_option("--emit", emit, "plan, or executable (runner + plan in one file)")
      ->check(CLI::IsMember({"plan", "executable"}))
      ->capture_default_str();
  c->add_option("--dump-dir", o.dump_dir, "Write the IR after each stage into this directory");
  c->add_flag("-v,--verbose", o.verbose, "Print each stage");
  c->add_flag("-q,--quiet", o.quiet, "Print nothing but errors");
  c->add_flag("--timings", o.timings, "Print seconds per stage");
}

int do_compile(tessera::compiler::CompileOptions& o, const std::string& shapes,
               const std::string& budget, const std::string& emit) {
  auto bind = tessera::tools::parse_bindings(shapes);
  if (!bind.ok()) return tessera::tools::fail("--shape: " + bind.status().message());
  o.shapes = *bind;
  if (!budget.empty()) {
    auto b = tessera::tools::parse_size(budget);
    if (!b.ok()) return tessera::tools::fail("--memory-budget: " + b.status().message());
    o.memory_budget = *b;
  }
  tessera::compiler::CompileSummary s;
  const std::string final_out = o.output;
  if (emit == "executable") o.output = final_out + ".plan.tmp";
  tessera::Status st = tessera::compiler::compile(o, &s);
  if (!st.ok()) return tessera::tools::fail(st.message());
  if (emit == "executable") {
    st = tessera::tools::emit_executable(o.output, tessera::tools::default_runner_path(), final_out);
    std::remove(o.output.c_str());
    if (!st.ok()) return tessera::tools::fail(st.message());
    s.plan_path = final_out;
  }
  if (!o.quiet)
    std::printf(
        "wrote %s: %lld nodes, %.1fM parameters, %lld collectives, arena %.2f MiB per rank, "
        "weights %.2f MiB per rank%s; compiled in %.2f s\n",
        s.plan_path.c_str(), static_cast<long long>(s.nodes), s.parameters / 1e6,
        static_cast<long long>(s.collectives), s.arena_bytes / 1048576.0,
        s.weight_bytes_per_rank / 1048576.0,
        s.has_weight_data ? "" : " (graph only: no weight data, run will refuse)", s.seconds);
  return 0;
}
#endif

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Tessera: an ahead-of-time compiler for parallel model execution"};
  app.require_subcommand(1);
#ifdef TESSERA_HAVE_COMPILER
  tessera::compiler::CompileOptions copts;
  std::string shapes, budget, emit = "plan";
  add_compile(app, copts, shapes, budget, emit);
#endif
  std::string plan, inputs, outdir;
  tessera::runtime::RunCliOptions ropts;
  auto* run = app.add_subcommand("run", "Run a plan on this rank (under mpirun/srun: all ranks)");
  run->add_option("plan", plan, "Plan file")->required();
  run->add_option("--inputs", inputs, "Directory with input_N.pb files")->required();
  run->add_option("--output-dir", outdir, "Directory for output_N.pb files")->required();
  run->add_flag("--profile", ropts.profile, "Print per-instruction times");
  run->add_flag("-v,--verbose", ropts.verbose, "Print a summary line");
  run->add_option("--backend", ropts.backend, "cpu, cuda, or auto (cuda when a GPU is present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();

  std::string iplan;
  tessera::tools::InspectOptions iopts;
  auto* insp = app.add_subcommand("inspect", "Summarise a plan");
  insp->add_option("plan", iplan, "Plan file")->required();
  insp->add_flag("--json", iopts.json, "Machine-readable output");

  std::string ca, cb;
  double tol = 1e-4;
  auto* cmp = app.add_subcommand("compare", "Compare a TensorProto file with a reference");
  cmp->add_option("actual", ca, "Tensor file")->required();
  cmp->add_option("reference", cb, "Reference tensor file")->required();
  cmp->add_option("--tolerance", tol, "Max |diff| / max |ref|")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
#ifdef TESSERA_HAVE_COMPILER
  if (app.got_subcommand("compile")) return do_compile(copts, shapes, budget, emit);
#endif
  if (app.got_subcommand("run")) return tessera::runtime::run_plan_cli(plan, inputs, outdir, ropts);
  if (app.got_subcommand("compare")) return tessera::tools::compare_tensors(ca, cb, tol);
  if (app.got_subcommand("inspect")) return tessera::tools::inspect_plan(iplan, iopts);
  return 1;
}
