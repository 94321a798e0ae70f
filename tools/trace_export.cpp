// `tessera inspect --trace FILE`: the modelled schedule as Chrome Trace Event JSON (opens in
// Perfetto or chrome://tracing). One process per rank, one thread per stream: "compute" and one
// "comm <axes>" per communicator the plan uses. Instructions run back to back for their modelled
// seconds (the runtime does not overlap communication yet, so all of it is exposed); flow
// arrows tie together the ranks of one collective group; a "memory" counter per rank shows live
// arena bytes plus weights. Every rank runs the same program (SPMD), so the ranks' timelines
// are equal: the value of the per-rank view is the communicator groups and the arrows.
#include <map>
#include <set>

#include "inspect_format.h"
#include "inspect_views.h"

namespace tessera::tools {
namespace {

std::string axes_text(const std::vector<std::string>& axes) {
  std::string s;
  for (const auto& a : axes) s += (s.empty() ? "" : ",") + a;
  return s;
}

// Ranks of one communicator agree on every coordinate outside the collective's axes: the
// smallest rank with the same outside coordinates names the group.
int64_t group_leader(const plan::Plan& p, int64_t rank, const std::vector<std::string>& axes) {
  int64_t stride = 1, leader = 0;
  for (const auto& a : p.mesh().axes()) stride *= a.size();
  for (const auto& a : p.mesh().axes()) {
    stride /= a.size();
    const int64_t coord = rank / stride % a.size();
    bool inside = false;
    for (const auto& x : axes) inside |= x == a.name();
    if (!inside) leader += coord * stride;
  }
  return leader;
}

std::string event(const std::string& fields) { return "  {" + fields + "},\n"; }

std::string us(double seconds) { return json_num(seconds * 1e6); }

}  // namespace

std::string plan_trace(const InspectModel& m) {
  const plan::Plan& p = *m.plan;
  std::set<std::string> groups;
  for (const auto& c : m.collectives)
    if (c.bytes > 0) groups.insert(axes_text(c.axes));
  std::map<std::string, int> tid;  // comm thread per axis group, after compute (tid 0)
  for (const auto& g : groups) tid[g] = static_cast<int>(tid.size()) + 1;
  std::string s = "{\"displayTimeUnit\": \"ns\", \"traceEvents\": [\n";
  for (int64_t r = 0; r < m.ranks; ++r) {
    const std::string pid = "\"pid\": " + std::to_string(r);
    s += event("\"ph\": \"M\", \"name\": \"process_name\", " + pid + ", \"args\": {\"name\": " +
               json_str("rank " + std::to_string(r) +
                        (m.mesh.empty() ? "" : " (" + rank_coords(p, r) + ")")) +
               "}");
    s += event("\"ph\": \"M\", \"name\": \"process_sort_index\", " + pid +
               ", \"args\": {\"sort_index\": " + std::to_string(r) + "}");
    s += event("\"ph\": \"M\", \"name\": \"thread_name\", " + pid +
               ", \"tid\": 0, \"args\": {\"name\": \"compute\"}");
    for (const auto& [g, t] : tid)
      s += event("\"ph\": \"M\", \"name\": \"thread_name\", " + pid + ", \"tid\": " +
                 std::to_string(t) + ", \"args\": {\"name\": " + json_str("comm " + g) + "}");
    double now = 0;
    int64_t last_mem = -1;
    for (int i = 0; i < p.instructions_size(); ++i) {
      const auto& ins = p.instructions(i);
      const int64_t mem = m.live_arena[i] + m.memory.weight_bytes;
      if (mem != last_mem)
        s += event("\"ph\": \"C\", \"name\": \"memory\", " + pid + ", \"ts\": " + us(now) +
                   ", \"args\": {\"bytes\": " + std::to_string(mem) + "}");
      last_mem = mem;
      const int c = m.collective_of_instruction[i];
      const bool comm = c >= 0 && m.collectives[c].bytes > 0;
      const double dur = ins.modelled_seconds();
      std::string args = "\"args\": {\"node\": " + json_str(ins.node());
      if (c >= 0)
        args += ", \"bytes\": " + std::to_string(m.collectives[c].bytes);
      else
        args += ", \"strategy\": " + json_str(ins.strategy());
      args += "}";
      const std::string t = std::to_string(comm ? tid[axes_text(m.collectives[c].axes)] : 0);
      s += event("\"ph\": \"X\", \"name\": " + json_str(ins.op()) + ", \"cat\": " +
                 json_str(comm ? "comm" : "compute") + ", " + pid + ", \"tid\": " + t +
                 ", \"ts\": " + us(now) + ", \"dur\": " + us(dur) + ", " + args);
      if (comm && m.ranks > 1) {
        // One flow chain per communicator group: leader starts it, the others step/finish.
        const auto& axes = m.collectives[c].axes;
        const int64_t leader = group_leader(p, r, axes);
        int64_t last = leader;
        for (int64_t q = 0; q < m.ranks; ++q)
          if (group_leader(p, q, axes) == leader) last = q;
        const char* ph = r == leader ? "s" : r == last ? "f" : "t";
        s += event(std::string("\"ph\": \"") + ph + "\", \"name\": \"group\", \"cat\": \"comm\", " +
                   "\"id\": " + std::to_string(i * m.ranks + leader) + ", " + pid +
                   ", \"tid\": " + t + ", \"ts\": " + us(now + dur / 2) + ", \"bp\": \"e\"");
      }
      now += dur;
    }
  }
  s.resize(s.size() - 2);  // the last ",\n" (there is always an event): no trailing comma
  return s + "\n]}\n";
}

}  // namespace tessera::tools
