// Plan quality: the searched plan's modelled step time against hand-plan families scored by the
// same cost model in the same run (benchmarks/baselines.h), per model, mesh and mode; then a
// memory budget where pure data parallelism does not fit. Ratios searched/baseline: goal <= 1.
//   plan_quality [--models DIR] [--only gpt2|bert] [--modes infer,train] [--meshes tp=8:dp=2,tp=4]
//   (":" separates meshes)
// Search times are CPU seconds of this process (the build machine is shared: wall time there
// measures the neighbours).
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "benchmarks/baselines.h"
#include "frontends/onnx/onnx_import.h"
#include "passes/autodiff.h"

namespace tessera::bench {
namespace {

struct ModelCase {
  const char* label;
  const char* path;  // under the models dir
  std::map<std::string, int64_t> dims;
};

struct Run {
  Status status = Status::Ok();
  double seconds = 0, peak = 0, wall = 0;
};

constexpr double kGiB = double(1 << 30);

Run search(const ir::Graph& base, passes::PipelineContext ctx, passes::StrategyFilter f) {
  ir::Graph g = base;
  ctx.filter = std::move(f);
  std::clock_t t0 = std::clock();
  Run r;
  r.status = passes::run_spmd_search(g, ctx);
  r.wall = static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC;
  r.seconds = ctx.modelled_step_seconds;
  r.peak = ctx.modelled_peak_bytes;
  return r;
}

// The driver's train-mode defaults: every float weight of rank >= 1 trains (scalars are
// exporter literals), cross-entropy loss, AdamW.
StatusOr<ir::Graph> training_graph(const ir::Graph& g) {
  ir::Graph t = g;
  passes::TrainOptions o;
  for (const ir::Value& v : t.values)
    if (v.kind == ir::ValueKind::kWeight && dtype_is_float(v.dtype))
      (v.shape.empty() ? o.frozen : o.trainable).push_back(v.name);
  TSR_RETURN_IF_ERROR(passes::run_autodiff(t, o));
  return t;
}

std::string ms(const Run& r) {
  char b[32];
  std::snprintf(b, sizeof b, "%.2f", r.seconds * 1e3);
  return r.status.ok() ? b : "fail";
}
std::string ratio(const Run& s, double base) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3f", s.seconds / base);
  return s.status.ok() && base > 0 ? b : "-";
}
std::string gib(double bytes) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", bytes / kGiB);
  return b;
}

void compare(const char* label, const char* mode, const ir::Graph& g, const char* mesh,
             const char* cluster) {
  auto ctx = passes::make_context(mesh, cluster, 0, mode, "");
  if (!ctx.ok()) {
    std::printf("| %s | %s | %s | error: %s |\n", label, mode, mesh,
                ctx.status().message().c_str());
    return;
  }
  Run s = search(g, *ctx, {});
  Run dp = search(g, *ctx, data_parallel_filter());
  MegatronPlan mp = classify_megatron(g, ctx->mesh);
  Run mg = search(g, *ctx, megatron_filter(mp));
  Zero3 z3 = dp.status.ok() ? zero3_estimate(g, *ctx, dp.seconds, dp.peak) : Zero3{};
  for (const Run* r : {&s, &dp, &mg})
    if (!r->status.ok())
      std::fprintf(stderr, "  %s %s %s: %s\n", label, mode, mesh, r->status.message().c_str());
  std::printf(
      "| %s | %s | %s %s | %s | %s | %s | %.2f | %s | %s | %s | %s / %s / %s / %s | "
      "%.1f / %.1f / %.1f | %d+%d |\n",
      label, mode, mesh, cluster, ms(s).c_str(), ms(dp).c_str(), ms(mg).c_str(), z3.seconds * 1e3,
      ratio(s, dp.seconds).c_str(), ratio(s, mg.seconds).c_str(), ratio(s, z3.seconds).c_str(),
      gib(s.peak).c_str(), gib(dp.peak).c_str(), gib(mg.peak).c_str(), gib(z3.peak_bytes).c_str(),
      s.wall, dp.wall, mg.wall, mp.column, mp.row);
  std::fflush(stdout);
}

// Pure DP over a budget it cannot meet: the solver says what it needs; the search still plans.
void budget_case(const char* label, const char* mode, const ir::Graph& g, const char* mesh,
                 int64_t budget) {
  auto ctx = passes::make_context(mesh, "h100-nvlink", budget, mode, "");
  if (!ctx.ok()) return;
  Run dp = search(g, *ctx, data_parallel_filter());
  Run s = search(g, *ctx, {});
  std::printf("\n%s %s, mesh %s, h100-nvlink, budget %s GiB per device:\n", label, mode, mesh,
              gib(static_cast<double>(budget)).c_str());
  std::printf("  pure DP : %s\n",
              dp.status.ok() ? ("fits?! " + ms(dp) + " ms").c_str() : dp.status.message().c_str());
  std::printf("  searched: %s\n", s.status.ok()
                                      ? (ms(s) + " ms, peak " + gib(s.peak) + " GiB (search CPU " +
                                         std::to_string(s.wall).substr(0, 4) + " s)")
                                            .c_str()
                                      : s.status.message().c_str());
  std::fflush(stdout);
}

}  // namespace
}  // namespace tessera::bench

int main(int argc, char** argv) {
  using namespace tessera;
  std::string dir = "../shared/models/full", only, modes = "infer,train", mesh_list;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--models")) dir = argv[i + 1];
    if (!std::strcmp(argv[i], "--only")) only = argv[i + 1];
    if (!std::strcmp(argv[i], "--modes")) modes = argv[i + 1];
    if (!std::strcmp(argv[i], "--meshes")) mesh_list = argv[i + 1];
  }
  const std::vector<bench::ModelCase> models = {
      {"gpt2-xl", "gpt2-xl-1.5b/model.onnx", {{"batch", 8}, {"seq", 1024}}},
      {"bert-large", "bert-large-340m/model.onnx", {{"batch", 8}, {"seq", 512}}},
  };
  const char* meshes[][2] = {{"tp=8", "h100-nvlink"},
                             {"dp=2,tp=4", "h100-nvlink"},
                             {"dp=8", "h100-nvlink"},
                             {"dp=2,tp=8", "h100-ib"}};
  std::printf(
      "| model | mode | mesh | searched ms | DP ms | Megatron ms | ZeRO-3 ms | s/DP | "
      "s/Meg | s/Z3 | peak GiB s / DP / Meg / Z3 | search CPU s (s / DP / Meg) | col+row "
      "GEMMs |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& m : models) {
    if (!only.empty() && std::string(m.label).find(only) == std::string::npos) continue;
    onnx_fe::ImportOptions io;
    io.dim_bindings = m.dims;
    io.load_weights = false;
    auto g = onnx_fe::import_onnx(dir + "/" + m.path, io);
    if (!g.ok()) {
      std::fprintf(stderr, "%s: %s\n", m.label, g.status().message().c_str());
      return 1;
    }
    for (const char* mode : {"infer", "train"}) {
      if (modes.find(mode) == std::string::npos) continue;
      auto t = std::string(mode) == "train" ? bench::training_graph(*g) : StatusOr<ir::Graph>(*g);
      if (!t.ok()) {
        std::fprintf(stderr, "%s train: %s\n", m.label, t.status().message().c_str());
        continue;
      }
      for (auto& mc : meshes)
        if (mesh_list.empty() ||
            (":" + mesh_list + ":").find(":" + std::string(mc[0]) + ":") != std::string::npos)
          bench::compare(m.label, mode, *t, mc[0], mc[1]);
    }
  }
  if ((only.empty() || only == "gpt2") && mesh_list.empty()) {
    onnx_fe::ImportOptions io;
    io.dim_bindings = {{"batch", 8}, {"seq", 1024}};
    io.load_weights = false;
    auto g = onnx_fe::import_onnx(dir + "/gpt2-xl-1.5b/model.onnx", io);
    if (g.ok()) {
      bench::budget_case("gpt2-xl", "infer", *g, "dp=2,tp=4", int64_t{4} << 30);
      if (modes.find("train") != std::string::npos) {
        auto t = bench::training_graph(*g);
        if (t.ok()) bench::budget_case("gpt2-xl", "train", *t, "dp=2,tp=4", int64_t{20} << 30);
      }
    }
  }
  return 0;
}
