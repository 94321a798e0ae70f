// `tessera inspect --json`: schema version 2, documented in docs/inspect-json.md. Keys are
// written in a fixed order; numbers with %.9g; seconds and bytes are per device.
#include <map>

#include "inspect_format.h"
#include "inspect_views.h"
#include "tessera/plan_file.h"

namespace tessera::tools {
namespace {

constexpr int kSchemaVersion = 2;

std::string kv(const std::string& k, const std::string& v) { return json_str(k) + ": " + v; }
std::string kv(const std::string& k, int64_t v) { return json_str(k) + ": " + std::to_string(v); }

template <class T, class F>
std::string array(const std::vector<T>& xs, F f) {
  std::string s = "[";
  for (size_t i = 0; i < xs.size(); ++i) s += (i ? ", " : "") + f(xs[i]);
  return s + "]";
}

std::string tensor(const TensorRef& t) {
  if (t.id < 0) return "null";
  return "{" + kv("tensor", t.id) + ", " + kv("name", json_str(t.name)) + ", " +
         kv("shape", json_str(t.shape)) + ", " + kv("local_shape", json_str(t.local_shape)) + ", " +
         kv("spec", json_str(t.spec)) + "}";
}

std::string op_row(const OpRow& r) {
  return "{" + kv("instruction", r.instruction) + ", " + kv("node", json_str(r.node)) + ", " +
         kv("op", json_str(r.op)) + ", " + kv("layer", json_str(r.layer)) + ", " +
         kv("strategy", json_str(r.strategy)) + ", " + kv("inputs", array(r.inputs, tensor)) +
         ", " + kv("outputs", array(r.outputs, tensor)) + ", " +
         kv("seconds", json_num(r.seconds)) + ", " +
         kv("collectives", array(r.collectives, [](int c) { return std::to_string(c); })) + ", " +
         kv("comm_bytes", r.comm_bytes) + ", " + kv("comm_seconds", json_num(r.comm_seconds)) +
         ", " + kv("output_bytes", r.output_bytes) + ", " + kv("weight_bytes", r.weight_bytes) +
         "}";
}

std::string collective_row(const CollectiveRow& c) {
  return "{" + kv("instruction", c.instruction) + ", " + kv("node", json_str(c.node)) + ", " +
         kv("op", json_str(c.op)) + ", " + kv("layer", json_str(c.layer)) + ", " +
         kv("axes", array(c.axes, json_str)) + ", " + kv("bytes", c.bytes) + ", " +
         kv("seconds", json_num(c.seconds)) + ", " + kv("tensor", c.tensor) + ", " +
         kv("for_op", c.for_op) + "}";
}

std::string memory(const MemoryBreakdown& m) {
  return "{" + kv("peak_per_device_bytes", m.peak_per_device()) + ", " +
         kv("parameters", m.parameters) + ", " + kv("gradients", m.gradients) + ", " +
         kv("optimizer_state", m.optimizer_state) + ", " + kv("activations", m.activations) + ", " +
         kv("temporaries", m.temporaries) + ", " + kv("fragmentation", m.fragmentation()) + ", " +
         kv("weight_bytes", m.weight_bytes) + ", " + kv("arena_bytes", m.arena_bytes) + ", " +
         kv("peak_live_arena_bytes", m.peak_live_arena) + ", " + kv("peak_step", m.peak_step) + "}";
}

}  // namespace

std::string inspect_json(const InspectModel& m, const std::vector<int>& rows,
                         const std::string& plan_path) {
  const plan::Plan& p = *m.plan;
  std::string axes = "[";
  for (const auto& a : p.mesh().axes())
    axes += (axes.size() > 1 ? ", {" : "{") + kv("name", json_str(a.name())) + ", " +
            kv("size", a.size()) + "}";
  axes += "]";
  std::map<std::string, int> counts;
  for (const auto& ins : p.instructions()) counts[ins.op()]++;
  std::string by_op = "{";
  for (const auto& [op, n] : counts) by_op += (by_op.size() > 1 ? ", " : "") + kv(op, n);
  by_op += "}";
  std::vector<OpRow> selected;
  for (int i : rows) selected.push_back(m.ops[i]);
  std::string s = "{";
  s += kv("schema_version", kSchemaVersion) + ",\n";
  s += kv("plan", "{" + kv("path", json_str(plan_path)) + ", " +
                      kv("format_version", planfile::kFormatVersion) + ", " +
                      kv("producer", json_str(m.producer)) + ", " +
                      kv("has_weight_data", p.has_weight_data() ? "true" : "false") + "}") +
       ",\n";
  s += kv("model", json_str(m.model)) + ",\n" + kv("mode", json_str(m.mode)) + ",\n";
  s += kv("mesh", "{" + kv("axes", axes) + ", " + kv("ranks", m.ranks) + ", " +
                      kv("text", json_str(m.mesh)) + "}") +
       ",\n";
  s += kv("cluster", json_str(m.cluster)) + ",\n" + kv("parameters", m.parameters) + ",\n";
  s += kv("step", "{" + kv("modelled_seconds", json_num(m.step_seconds())) + ", " +
                      kv("compute_seconds", json_num(m.compute_seconds)) + ", " +
                      kv("exposed_comm_seconds", json_num(m.comm_seconds)) + ", " +
                      kv("recompute_seconds", json_num(m.recompute_seconds)) + ", " +
                      kv("solver_seconds", json_num(m.solver_seconds)) + ", " +
                      kv("has_costs", m.has_costs ? "true" : "false") + "}") +
       ",\n";
  s += kv("memory", memory(m.memory)) + ",\n";
  s += kv("counts", "{" + kv("instructions", p.instructions_size()) + ", " +
                        kv("kernels", static_cast<int64_t>(m.ops.size())) + ", " +
                        kv("collectives", static_cast<int64_t>(m.collectives.size())) + ", " +
                        kv("by_op", by_op) + "}") +
       ",\n";
  s += kv("memory_timeline", array(m.live_arena, [](int64_t b) { return std::to_string(b); })) +
       ",\n";
  s += kv("collectives", array(m.collectives, collective_row)) + ",\n";
  s += kv("total_ops", static_cast<int64_t>(m.ops.size())) + ",\n";
  s += kv("ops", array(selected, op_row)) + "\n}\n";
  return s;
}

}  // namespace tessera::tools
