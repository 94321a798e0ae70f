#include "inspect.h"

#include <fnmatch.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "inspect_views.h"
#include "size_parse.h"

namespace tessera::tools {
namespace {

// The header's version field (bytes 8..11, little-endian; docs/plan-format.md), read directly
// so the message can say which side is newer even though the plan does not load.
int64_t header_version(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char h[12] = {};
  if (!f.read(reinterpret_cast<char*>(h), sizeof h)) return -1;
  return h[8] | h[9] << 8 | h[10] << 16 | static_cast<int64_t>(h[11]) << 24;
}

Status write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) return IoError(path + ": cannot open for writing: " + std::strerror(errno));
  f << text;
  f.close();
  if (!f) return IoError(path + ": write failed");
  return Status::Ok();
}

}  // namespace

StatusOr<std::unique_ptr<planfile::PlanFile>> open_plan_for_inspect(const std::string& path) {
  auto f = planfile::PlanFile::open(path);
  if (f.ok() || f.status().code() != Code::kVersion) return f;
  const int64_t v = header_version(path);
  const std::string ours = std::to_string(planfile::kFormatVersion);
  std::string what =
      v > planfile::kFormatVersion
          ? "it was written by a newer tessera: inspect it with that version, or recompile the "
            "model with this one"
          : "it was written by an older tessera: recompile the model with this one";
  return Status(Code::kVersion, path + ": plan format version " + std::to_string(v) +
                                    ", but this tessera reads format version " + ours + "; " +
                                    what);
}

std::vector<int> select_ops(const InspectModel& m, const std::string& pattern, int top) {
  std::vector<int> rows;
  for (size_t i = 0; i < m.ops.size(); ++i) {
    const OpRow& r = m.ops[i];
    if (!pattern.empty() && fnmatch(pattern.c_str(), r.op.c_str(), 0) != 0 &&
        fnmatch(pattern.c_str(), r.node.c_str(), 0) != 0)
      continue;
    rows.push_back(static_cast<int>(i));
  }
  if (top > 0) {
    std::stable_sort(rows.begin(), rows.end(), [&](int a, int b) {
      return m.ops[a].total_seconds() > m.ops[b].total_seconds();
    });
    if (rows.size() > static_cast<size_t>(top)) rows.resize(top);
  }
  return rows;
}

// Colossal-AI's notation for a tensor's layout: per dim R (replicated) or S<mesh axis indices>,
// e.g. [S01,R]; partial-sum axes, which it has no letter for, as " P<indices>".
std::string colossal_spec(const plan::Plan& p, int tensor) {
  if (tensor < 0 || tensor >= p.tensors_size()) return "";
  auto index = [&](const std::string& axis) {
    for (int i = 0; i < p.mesh().axes_size(); ++i)
      if (p.mesh().axes(i).name() == axis) return std::to_string(i);
    return std::string("?");
  };
  const plan::TensorInfo& t = p.tensors(tensor);
  std::string s = "[";
  for (int d = 0; d < t.global_shape_size(); ++d) {
    if (d) s += ",";
    const auto* dims = d < t.dims_size() ? &t.dims(d) : nullptr;
    if (!dims || dims->axes().empty()) {
      s += "R";
      continue;
    }
    s += "S";
    for (const auto& a : dims->axes()) s += index(a);
  }
  s += "]";
  if (!t.partial_axes().empty()) {
    s += " P";
    for (const auto& a : t.partial_axes()) s += index(a);
  }
  return s;
}

void use_colossal(const plan::Plan& p, InspectModel& m) {
  for (OpRow& op : m.ops)
    for (auto* refs : {&op.inputs, &op.outputs})
      for (TensorRef& r : *refs) r.spec = colossal_spec(p, r.id);
}

int inspect_plan(const std::string& path, const InspectOptions& opts) {
  auto f = open_plan_for_inspect(path);
  if (!f.ok()) return fail(f.status().message());
  const plan::Plan& p = (*f)->plan();
  InspectModel m = build_inspect_model(p);
  if (opts.colossal) use_colossal(p, m);
  const std::vector<int> rows = select_ops(m, opts.op_pattern, opts.top);
  const std::string out = opts.json ? inspect_json(m, rows, path) : inspect_text(m, rows);
  std::fwrite(out.data(), 1, out.size(), stdout);
  const std::pair<const std::string*, std::string (*)(const InspectModel&)> files[] = {
      {&opts.dot_file, plan_dot}, {&opts.trace_file, plan_trace}, {&opts.html_file, plan_html}};
  for (const auto& [file, view] : files) {
    if (file->empty()) continue;
    Status st = write_text(*file, view(m));
    if (!st.ok()) return fail(st.message());
    // Status lines go to stderr so that `--json --html x.html` still prints pure JSON.
    std::fprintf(stderr, "wrote %s\n", file->c_str());
  }
  return 0;
}

}  // namespace tessera::tools
