// The terminal view of `tessera inspect`: a summary block, instruction counts by op (the
// "  Op  N" lines tests/e2e/strategy_test.sh greps) and the per-op table.
#include <cstdarg>
#include <cstdio>
#include <map>

#include "inspect_format.h"
#include "inspect_views.h"

namespace tessera::tools {
namespace {

void add(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void add(std::string& out, const char* fmt, ...) {
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  const int n = std::vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string buf(static_cast<size_t>(n) + 1, '\0');
  std::vsnprintf(&buf[0], buf.size(), fmt, again);
  va_end(again);
  out.append(buf.data(), static_cast<size_t>(n));
}

std::string join_specs(const std::vector<TensorRef>& ts) {
  std::string s;
  for (const auto& t : ts)
    if (t.id >= 0) s += (s.empty() ? "" : " ") + t.spec;
  return s;
}

void summary(std::string& out, const InspectModel& m) {
  const plan::Plan& p = *m.plan;
  const MemoryBreakdown& mem = m.memory;
  add(out, "model:        %s (%s), written by %s\n", m.model.c_str(),
      m.mode.empty() ? "infer" : m.mode.c_str(), m.producer.c_str());
  add(out, "mesh:         %s (%lld rank%s), cluster profile %s\n",
      m.mesh.empty() ? "single device" : m.mesh.c_str(), static_cast<long long>(m.ranks),
      m.ranks == 1 ? "" : "s", m.cluster.empty() ? "?" : m.cluster.c_str());
  add(out, "parameters:   %.1fM\n", m.parameters / 1e6);
  add(out, "step:         %s modelled = compute %s + exposed communication %s + recomputation %s",
      human_seconds(m.step_seconds()).c_str(), human_seconds(m.compute_seconds).c_str(),
      human_seconds(m.comm_seconds).c_str(), human_seconds(m.recompute_seconds).c_str());
  add(out, m.has_costs ? " (solver objective %s)\n" : " (plan has no cost annotations)\n",
      human_seconds(m.solver_seconds).c_str());
  add(out,
      "memory:       %s per device at peak = parameters %s + gradients %s + optimizer state %s\n",
      human_bytes(mem.peak_per_device()).c_str(), human_bytes(mem.parameters).c_str(),
      human_bytes(mem.gradients).c_str(), human_bytes(mem.optimizer_state).c_str());
  add(out,
      "              + activations %s + temporaries %s + arena fragmentation %s (peak at step "
      "%d)\n",
      human_bytes(mem.activations).c_str(), human_bytes(mem.temporaries).c_str(),
      human_bytes(mem.fragmentation()).c_str(), mem.peak_step);
  add(out, "weights:      %s per rank%s\n", human_bytes(mem.weight_bytes).c_str(),
      p.has_weight_data() ? "" : " (no data: graph-only plan)");
  add(out, "arena:        %s per rank\n", human_bytes(mem.arena_bytes).c_str());
  int64_t comm_bytes = 0;
  for (const auto& c : m.collectives) comm_bytes += c.bytes;
  add(out, "instructions: %d (%zu collectives, %s per device)\n", p.instructions_size(),
      m.collectives.size(), human_bytes(comm_bytes).c_str());
  std::map<std::string, int> ops;
  for (const auto& ins : p.instructions()) ops[ins.op()]++;
  for (const auto& [op, n] : ops) add(out, "  %-20s %d\n", op.c_str(), n);
}

void table(std::string& out, const InspectModel& m, const std::vector<int>& rows) {
  add(out, "\n%-24s %-18s %-22s %-16s %10s %10s %10s  %s\n", "node", "op", "strategy", "shape",
      "time", "comm", "out mem", "specs (inputs -> outputs); collectives");
  for (int i : rows) {
    const OpRow& r = m.ops[i];
    std::string shape = r.outputs.empty() ? "" : r.outputs[0].shape;
    add(out, "%-24s %-18s %-22s %-16s %10s %10s %10s  %s -> %s\n", r.node.c_str(), r.op.c_str(),
        r.strategy.c_str(), shape.c_str(), human_seconds(r.seconds).c_str(),
        human_seconds(r.comm_seconds).c_str(), human_bytes(r.output_bytes).c_str(),
        join_specs(r.inputs).c_str(), join_specs(r.outputs).c_str());
    for (int c : r.collectives) {
      const CollectiveRow& cr = m.collectives[c];
      std::string axes;
      for (const auto& a : cr.axes) axes += (axes.empty() ? "" : ",") + a;
      add(out, "%-24s   + %s{%s} %s, %s\n", "", cr.op.c_str(), axes.c_str(),
          human_bytes(cr.bytes).c_str(), human_seconds(cr.seconds).c_str());
    }
  }
  if (rows.size() < m.ops.size()) add(out, "(%zu of %zu ops shown)\n", rows.size(), m.ops.size());
}

}  // namespace

// What the memory and precision passes recorded in plan meta: quantized ops with their scales
// and calibration ranges (quant.*), chunked regions (chunk.*), checkpoint placement
// (checkpoint.*), fused subgraphs (attention.*, attention_layout.*, gelu.*, linear_bias.*),
// Casts folded into their neighbours (fold_casts.*). Printed as recorded, one line per key.
void pass_notes(std::string& out, const InspectModel& m) {
  if (!m.plan) return;
  bool header = false;
  for (const plan::AttrProto& a : m.plan->meta()) {
    const std::string& k = a.name();
    bool ours = k.rfind("quant", 0) == 0 || k.rfind("chunk", 0) == 0 ||
                k.rfind("attention.", 0) == 0 || k.rfind("attention_layout.", 0) == 0 ||
                k.rfind("gelu.", 0) == 0 || k.rfind("checkpoint.", 0) == 0 ||
                k.rfind("linear_bias.", 0) == 0 || k.rfind("fold_casts.", 0) == 0;
    if (!ours) continue;
    if (!header) out += "\npasses:\n";
    header = true;
    std::string v;
    switch (a.kind()) {
      case plan::AttrProto::STRING:
        v = a.s();
        break;
      case plan::AttrProto::INT:
        v = std::to_string(a.i());
        break;
      case plan::AttrProto::FLOAT:
        v = std::to_string(a.f());
        break;
      case plan::AttrProto::STRINGS:
        for (const auto& x : a.strings()) v += (v.empty() ? "" : "; ") + x;
        break;
      default:
        continue;
    }
    out += "  " + k + ": " + v + "\n";
  }
}

std::string inspect_text(const InspectModel& m, const std::vector<int>& rows) {
  std::string out;
  summary(out, m);
  table(out, m, rows);
  pass_notes(out, m);
  return out;
}

}  // namespace tessera::tools
