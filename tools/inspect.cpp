#include "inspect.h"

#include <cstdio>
#include <map>

#include "size_parse.h"
#include "tessera/plan_file.h"

namespace tessera::tools {
namespace {

struct Summary {
  std::map<std::string, int> ops;
  int collectives = 0;
  int64_t weight_bytes_rank0 = 0;
  int64_t parameters = 0;
};

bool is_collective(const std::string& op) {
  return op == "AllReduce" || op == "AllGather" || op == "ReduceScatter" || op == "AllToAll" ||
         op == "ShardSlice" || op == "MakePartial";
}

Summary summarise(const plan::Plan& p) {
  Summary s;
  for (const auto& ins : p.instructions()) {
    s.ops[ins.op()]++;
    s.collectives += is_collective(ins.op());
  }
  for (const auto& t : p.tensors())
    if (t.storage() == plan::TensorInfo::WEIGHT) s.weight_bytes_rank0 += t.nbytes();
  for (const auto& a : p.meta())
    if (a.name() == "parameters") s.parameters = a.i();
  return s;
}

std::string mesh_str(const plan::Plan& p) {
  std::string m;
  for (const auto& a : p.mesh().axes())
    m += (m.empty() ? "" : ",") + a.name() + "=" + std::to_string(a.size());
  return m.empty() ? "single device" : m;
}

void print_text(const plan::Plan& p, const Summary& s) {
  std::printf("model:        %s\n", p.model_name().c_str());
  std::printf("producer:     %s\n", p.producer().c_str());
  std::printf("mesh:         %s\n", mesh_str(p).c_str());
  std::printf("parameters:   %.1fM\n", s.parameters / 1e6);
  std::printf("weights:      %.2f MiB per rank%s\n", s.weight_bytes_rank0 / 1048576.0,
              p.has_weight_data() ? "" : " (no data: graph-only plan)");
  std::printf("arena:        %.2f MiB per rank\n", p.arena_bytes() / 1048576.0);
  std::printf("instructions: %d (%d collectives)\n", p.instructions_size(), s.collectives);
  for (const auto& [op, n] : s.ops) std::printf("  %-20s %d\n", op.c_str(), n);
  for (const auto& a : p.meta())
    if (a.kind() == plan::AttrProto::STRING) std::printf("meta %-8s %s\n", a.name().c_str(), a.s().c_str());
}

void print_json(const plan::Plan& p, const Summary& s) {
  std::printf("{\"schema_version\": 1, \"model\": \"%s\", \"mesh\": \"%s\", \"parameters\": %lld, "
              "\"weight_bytes_per_rank\": %lld, \"arena_bytes\": %lld, \"instructions\": %d, "
              "\"collectives\": %d, \"ops\": {",
              p.model_name().c_str(), mesh_str(p).c_str(), static_cast<long long>(s.parameters),
              static_cast<long long>(s.weight_bytes_rank0),
              static_cast<long long>(p.arena_bytes()), p.instructions_size(), s.collectives);
  bool first = true;
  for (const auto& [op, n] : s.ops) {
    std::printf("%s\"%s\": %d", first ? "" : ", ", op.c_str(), n);
    first = false;
  }
  std::printf("}}\n");
}

}  // namespace

int inspect_plan(const std::string& path, const InspectOptions& opts) {
  auto f = planfile::PlanFile::open(path);
  if (!f.ok()) return fail(f.status().message());
  const plan::Plan& p = (*f)->plan();
  Summary s = summarise(p);
  if (opts.json) print_json(p, s);
  else print_text(p, s);
  return 0;
}

}  // namespace tessera::tools
