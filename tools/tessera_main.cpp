// `tessera`: compile (when built with the compiler), run, inspect. Every failure prints one line
// `error: ...` and exits non-zero; --help works for every subcommand.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "compare.h"
#include "emit_executable.h"
#include "inspect.h"
#include "inspect_cli.h"
#include "run_cli.h"
#include "size_parse.h"
#include "train_cli.h"

#ifdef TESSERA_HAVE_COMPILER
#include "compiler/driver.h"
#include "inspect_compile_summary.h"
#endif

namespace {

#ifdef TESSERA_HAVE_COMPILER
void add_compile(CLI::App& app, tessera::compiler::CompileOptions& o, std::string& shapes,
                 std::string& calib_shapes, std::string& budget, std::string& emit) {
  auto* c = app.add_subcommand("compile", "Compile an ONNX model into a plan");
  c->add_option("model", o.model, "Model file (.onnx)")->required();
  c->add_option("-o,--output", o.output, "Plan file to write")->capture_default_str();
  c->add_option("--shape", shapes, "Bind symbolic dims, e.g. batch=8,seq=1024");
  c->add_option("--inputs", o.example_inputs,
                "Input dtypes and shapes from DIR/input_N.pb (TorchScript archives)");
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
  c->add_option("--precision", o.precision,
                "fp32, or bf16/fp16 inside the graph (train mode: f32 master weights, fp16 "
                "with dynamic loss scaling)")
      ->capture_default_str();
  c->add_option("--batchnorm", o.batchnorm,
                "Train mode: train (batch statistics, running statistics updated) or eval "
                "(running statistics)")
      ->capture_default_str();
  c->add_option("--seed", o.seed, "Train mode: seed of Dropout's masks")->capture_default_str();
  c->add_option("--freeze", o.freeze, "Train mode: glob of weights kept out of the optimizer")
      ->delimiter(',');
  c->add_flag("--gradients-only", o.gradients_only,
              "Train mode: outputs are the loss and each weight's gradient, no update");
  c->add_flag("--output-gradients", o.output_gradients,
              "Train mode: also output each weight's gradient (for run --dump-gradients)");
  c->add_option("--checkpoint", o.checkpoint,
                "Train mode: recompute activations: auto (fit --memory-budget at least added "
                "time), none, every-layer, sqrt-n")
      ->check(CLI::IsMember({"auto", "none", "every-layer", "sqrt-n"}))
      ->capture_default_str();
  c->add_option("--chunk", o.chunk,
                "Split activation-heavy regions into chunks to fit --memory-budget: auto, none")
      ->check(CLI::IsMember({"auto", "none"}))
      ->capture_default_str();
  c->add_option("--attention", o.attention,
                "Fuse attention subgraphs into FusedAttention (scores recomputed in the "
                "backward, query rows chunked): auto (fused unless --chunk none), fused, "
                "unfused")
      ->check(CLI::IsMember({"auto", "fused", "unfused"}))
      ->capture_default_str();
  c->add_option("--gelu", o.gelu,
                "Fuse decomposed GELU chains (tanh and erf forms) into one Gelu op: fused, "
                "unfused")
      ->check(CLI::IsMember({"fused", "unfused"}))
      ->capture_default_str();
  c->add_option("--linear-bias", o.linear_bias,
                "Fuse MatMul followed by a bias Add into one Gemm (the bias in the GEMM's "
                "epilogue): fused, unfused")
      ->check(CLI::IsMember({"fused", "unfused"}))
      ->capture_default_str();
  c->add_option("--attention-layout", o.attention_layout,
                "Layout of FusedAttention's q, k, v, y: bshd ([B,S,H,D], the head Transposes "
                "around it folded into the op), bhsd (Transposes kept)")
      ->check(CLI::IsMember({"bshd", "bhsd"}))
      ->capture_default_str();
  c->add_option("--fold-casts", o.fold_casts,
                "Fold the f32<->bf16/f16 Casts around LayerNormalization and the loss into "
                "those ops (16-bit reads and writes, f32 compute; bf16/fp16 training): on, off")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  c->add_option("--chunk-budget", o.chunk_budget,
                "Arena+weights bytes per device the chunk pass aims for (default: "
                "--memory-budget), e.g. 6GiB")
      ->transform(CLI::AsSizeValue(false));
  c->add_option("--chunk-count", o.chunk_count,
                "Debug: chunk every region the pass can, into this many chunks");
  c->add_option("--quantize", o.quantize, "Infer mode: int8 (docs/quantization.md)")
      ->check(CLI::IsMember({"int8"}));
  c->add_option("--calibration", o.calibration,
                "Quantize: directory of input_N.pb sets (or numbered subdirs of them)");
  c->add_option("--calibration-method", o.calibration_method,
                "Quantize: auto|minmax|percentile|entropy (auto: minmax for transformers, "
                "percentile otherwise)")
      ->check(CLI::IsMember({"auto", "minmax", "percentile", "entropy"}))
      ->capture_default_str();
  c->add_option("--calibration-percentile", o.calibration_percentile,
                "Quantize: percentile of |x| kept unclipped")
      ->capture_default_str();
  c->add_option("--smooth-alpha", o.smooth_alpha,
                "Quantize: SmoothQuant migration strength for MatMul/Gemm inputs (0 = off; "
                "default auto: 0.5 on activations with outlier channels only)");
  c->add_option("--activation-scales", o.activation_scales,
                "Quantize: int8 activation scale per tensor (static, calibrated) or per token "
                "(each row's abs-max at run time, MatMul/Gemm layers); auto: per token when it "
                "lowers the error on the calibration sets")
      ->check(CLI::IsMember({"auto", "tensor", "token"}))
      ->capture_default_str();
  c->add_option("--calibration-shape", calib_shapes,
                "Quantize: run calibration with the model at these dims (over --shape), e.g. "
                "batch=1,seq=128 for a plan at batch=32,seq=512");
  c->add_option("--random-weights", o.random_weights,
                "Quantize a graph-only model: fill its weights with seeded random values for "
                "calibration; the plan stores none (benchmarks: run with random weights)");
  c->add_option("--keep-float", o.keep_float,
                "Quantize: globs of node or weight names left in float (first/last layers always)")
      ->delimiter(',');
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
               const std::string& calib_shapes, const std::string& budget,
               const std::string& emit) {
  auto bind = tessera::tools::parse_bindings(shapes);
  if (!bind.ok()) return tessera::tools::fail("--shape: " + bind.status().message());
  o.shapes = *bind;
  if (!calib_shapes.empty()) {
    auto cb = tessera::tools::parse_bindings(calib_shapes);
    if (!cb.ok()) return tessera::tools::fail("--calibration-shape: " + cb.status().message());
    o.calibration_shapes = *cb;
  }
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
    st =
        tessera::tools::emit_executable(o.output, tessera::tools::default_runner_path(), final_out);
    std::remove(o.output.c_str());
    if (!st.ok()) return tessera::tools::fail(st.message());
    s.plan_path = final_out;
  }
  // The closing paragraph (tools/inspect_compile_summary.h): where the plan went, what it is.
  if (!o.quiet)
    std::fputs(tessera::tools::compile_paragraph(s, o, emit == "executable").c_str(), stdout);
  return 0;
}
#endif

// `run` in training mode (runtime/src/train_cli.h): --data replaces --inputs/--output-dir.
void add_train_options(CLI::App* run, CLI::Option* inputs, tessera::runtime::TrainCliOptions& t) {
  auto* data =
      run->add_option("--data", t.data, "Train: directory with input_N.pb + labels.pb, or 0/ 1/..");
  inputs->excludes(data);
  run->add_option("--steps", t.steps, "Train: number of steps (default 1 with --data)");
  run->add_option("--dump-gradients", t.dump_gradients, "Train: write last step's gradients here");
  run->add_option("--save-weights", t.save_weights, "Train: write weights + optimizer state here");
  run->add_option("--load-weights", t.load_weights, "Train: resume from a --save-weights dir");
  run->add_option("--export-onnx", t.export_onnx, "Train: write the trained model as ONNX");
  run->add_option("--source-model", t.source_model,
                  "Train: ONNX model for --export-onnx "
                  "(default: the plan's recorded source)");
}

}  // namespace

int main(int argc, char** argv) {
  // Named explicitly: --help then says "tessera", not argv[0], so docs/cli.md is path-free.
  CLI::App app{"Tessera: an ahead-of-time compiler for parallel model execution", "tessera"};
  app.require_subcommand(1);
#ifdef TESSERA_HAVE_COMPILER
  tessera::compiler::CompileOptions copts;
  std::string shapes, calib_shapes, budget, emit = "plan";
  add_compile(app, copts, shapes, calib_shapes, budget, emit);
#endif
  std::string plan, inputs, outdir;
  tessera::runtime::RunCliOptions ropts;
  auto* run = app.add_subcommand("run", "Run a plan on this rank (under mpirun/srun: all ranks)");
  run->add_option("plan", plan, "Plan file")->required();
  auto* inputs_opt = run->add_option("--inputs", inputs, "Directory with input_N.pb files");
  run->add_option("--output-dir", outdir, "Directory for output_N.pb files");
  tessera::runtime::TrainCliOptions topts;
  add_train_options(run, inputs_opt, topts);
  run->add_flag("--profile", ropts.profile, "Print per-instruction times");
  run->add_flag("-v,--verbose", ropts.verbose, "Print a summary line");
  run->add_flag("--report-memory", ropts.report_memory,
                "Print `rank R peak_bytes N` per rank: weights + arena high-water mark");
  run->add_option("--backend", ropts.backend, "cpu, cuda, or auto (cuda when a GPU is present)")
      ->check(CLI::IsMember({"cpu", "cuda", "auto"}))
      ->capture_default_str();

  tessera::tools::InspectCli icli;  // inspect, explain (tools/inspect_cli.h)
  tessera::tools::add_inspect_commands(app, icli);

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
  if (app.got_subcommand("compile")) return do_compile(copts, shapes, calib_shapes, budget, emit);
#endif
  if (app.got_subcommand("run") && topts.any())
    return tessera::runtime::run_train_cli(plan, topts, ropts);
  if (app.got_subcommand("run") && (inputs.empty() || outdir.empty()))
    return tessera::tools::fail("run: --inputs and --output-dir are required (or --data to train)");
  if (app.got_subcommand("run")) return tessera::runtime::run_plan_cli(plan, inputs, outdir, ropts);
  if (app.got_subcommand("compare")) return tessera::tools::compare_tensors(ca, cb, tol);
  if (int rc = 0; tessera::tools::run_inspect_commands(icli, &rc)) return rc;
  return 1;
}
