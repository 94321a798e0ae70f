#include "inspect_compile_summary.h"

#include <cstdio>

#include "inspect.h"
#include "inspect_format.h"
#include "inspect_model.h"

namespace tessera::tools {
namespace {

// Greedy wrap at `width` columns: the paragraph stays readable in an 80-100 column terminal.
std::string wrap(const std::string& text, size_t width) {
  std::string out, line, word;
  auto flush_word = [&] {
    if (word.empty()) return;
    if (!line.empty() && line.size() + 1 + word.size() > width) out += line + "\n", line.clear();
    line += (line.empty() ? "" : " ") + word;
    word.clear();
  };
  for (char c : text) {
    if (c == ' ')
      flush_word();
    else
      word += c;
  }
  flush_word();
  return out + line + "\n";
}

}  // namespace

std::string compile_paragraph(const compiler::CompileSummary& s, const compiler::CompileOptions& o,
                              bool executable) {
  std::string t = "Wrote " + std::string(executable ? "the executable" : "the plan") + " to " +
                  s.plan_path + ".";
  const std::string mesh = o.mesh.empty() ? "one device" : "mesh " + o.mesh;
  char buf[128];
  std::snprintf(buf, sizeof buf, ": %lld nodes, %.1fM parameters, %lld collective%s.",
                static_cast<long long>(s.nodes), s.parameters / 1e6,
                static_cast<long long>(s.collectives), s.collectives == 1 ? "" : "s");
  t += std::string(o.mode == "train" ? " Training step" : " Inference") + " for " + mesh + " (" +
       o.model + ", cluster profile " + o.cluster + ")" + buf;
  auto f = executable ? StatusOr<std::unique_ptr<planfile::PlanFile>>(NotFound(""))
                      : open_plan_for_inspect(s.plan_path);
  if (f.ok()) {
    const InspectModel m = build_inspect_model((*f)->plan());
    t += " Modelled step " + human_seconds(m.step_seconds()) + " (compute " +
         human_seconds(m.compute_seconds) + " + exposed communication " +
         human_seconds(m.comm_seconds) + "); peak memory " +
         human_bytes(m.memory.peak_per_device()) + " per device (weights " +
         human_bytes(m.memory.weight_bytes) + " + arena " + human_bytes(m.memory.arena_bytes) +
         ").";
  } else {
    t += " Modelled step " + human_seconds(s.modelled_step_seconds) + "; arena " +
         human_bytes(s.arena_bytes) + " + weights " + human_bytes(s.weight_bytes_per_rank) +
         " per rank.";
  }
  if (!s.has_weight_data) t += " Graph only: the model carries no weight data, so run will refuse.";
  std::snprintf(buf, sizeof buf, " Compiled in %.2f s.", s.seconds);
  t += buf;
  if (!executable)
    t += " Next: `tessera inspect " + s.plan_path +
         "` (add --html report.html for a page), or `tessera run " + s.plan_path +
         " --inputs DIR --output-dir DIR`.";
  return wrap(t, 100);
}

}  // namespace tessera::tools
