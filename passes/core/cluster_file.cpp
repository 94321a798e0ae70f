// The `key = value` cluster profile format (docs/cluster-profiles.md).
#include <cerrno>
#include <cstdlib>
#include <map>
#include <sstream>

#include "passes/core/cluster.h"

namespace tessera::spmd {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t\r") - b + 1);
}

struct Entry {
  std::string value;
  int line = 0;
};

// Keys in file order would not matter; std::map keeps handling deterministic.
using Entries = std::map<std::string, Entry>;

StatusOr<Entries> split_lines(const std::string& text, const std::string& src) {
  Entries out;
  std::istringstream in(text);
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    size_t eq = line.find('=');
    std::string where = src + ":" + std::to_string(no) + ": ";
    if (eq == std::string::npos)
      return InvalidArgument(where + "expected 'key = value', got '" + line + "'");
    std::string key = trim(line.substr(0, eq));
    if (key.empty()) return InvalidArgument(where + "missing key before '='");
    if (out.count(key)) {
      return InvalidArgument(where + "key '" + key + "' repeats line " +
                             std::to_string(out[key].line));
    }
    out[key] = {trim(line.substr(eq + 1)), no};
  }
  return out;
}

// A positive finite number, or an error naming the line and key.
StatusOr<double> number(const std::string& src, const std::string& key, const Entry& e) {
  const char* b = e.value.c_str();
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(b, &end);
  if (e.value.empty() || *end != '\0' || errno != 0 || !(v > 0) || v > 1e300) {
    return InvalidArgument(src + ":" + std::to_string(e.line) + ": key '" + key + "': '" + e.value +
                           "' is not a positive number");
  }
  return v;
}

}  // namespace

StatusOr<ClusterProfile> parse_profile(const std::string& text, const Mesh& mesh,
                                       const std::string& src) {
  TSR_ASSIGN_OR_RETURN(Entries es, split_lines(text, src));
  ProfileParams p;
  p.devices_per_node = int64_t{1} << 40;
  if (es.count("base")) {
    StatusOr<ProfileParams> b = builtin_params(es["base"].value);
    if (!b.ok()) {
      return InvalidArgument(src + ":" + std::to_string(es["base"].line) +
                             ": key 'base': " + b.status().message());
    }
    p = *b;
  }
  p.name = es.count("name") ? es["name"].value : src;
  p.intra.kind = p.intra.kind.empty() ? "file" : p.intra.kind;
  p.inter.kind = p.inter.kind.empty() ? "file" : p.inter.kind;
  std::map<std::string, double*> scalars = {{"gemm_flops_fp32", &p.device.gemm_flops_fp32},
                                            {"gemm_flops_16", &p.device.gemm_flops_16},
                                            {"mem_bandwidth", &p.device.mem_bandwidth},
                                            {"mem_bytes", &p.device.mem_bytes},
                                            {"intra_alpha", &p.intra.alpha},
                                            {"inter_alpha", &p.inter.alpha}};
  std::map<std::string, double*> bandwidths = {{"intra_bandwidth", &p.intra.beta},
                                               {"inter_bandwidth", &p.inter.beta}};
  bool has_inter = es.count("inter_alpha") || es.count("inter_bandwidth") || es.count("base");
  std::map<std::string, std::pair<int, bool>> axis_keys;  // key -> (axis, is_alpha)
  for (const auto& [key, e] : es) {
    if (key == "base" || key == "name") continue;
    if (key.rfind("axis.", 0) == 0) continue;  // below, once links exist
    TSR_ASSIGN_OR_RETURN(double v, number(src, key, e));
    if (scalars.count(key)) {
      *scalars[key] = v;
    } else if (bandwidths.count(key)) {
      *bandwidths[key] = 1.0 / v;
    } else if (key == "devices_per_node") {
      p.devices_per_node = static_cast<int64_t>(v);
    } else {
      return InvalidArgument(src + ":" + std::to_string(e.line) + ": unknown key '" + key +
                             "' (see docs/cluster-profiles.md)");
    }
  }
  if (!has_inter) p.inter = p.intra;
  const char* required[] = {"gemm_flops_fp32", "gemm_flops_16", "mem_bandwidth",
                            "mem_bytes",       "intra_alpha",   "intra_bandwidth"};
  for (const char* k : required) {
    if (!es.count("base") && !es.count(k)) {
      return InvalidArgument(src + ": missing key '" + std::string(k) + "' (or give 'base')");
    }
  }
  ClusterProfile c = make_profile(p, mesh);
  for (const auto& [key, e] : es) {
    if (key.rfind("axis.", 0) != 0) continue;
    size_t dot = key.rfind('.');
    std::string axis = key.substr(5, dot - 5), field = key.substr(dot + 1);
    std::string where = src + ":" + std::to_string(e.line) + ": key '" + key + "': ";
    int ax = mesh.axis_index(axis);
    if (dot <= 5 || (field != "alpha" && field != "bandwidth")) {
      return InvalidArgument(where + "expected axis.NAME.alpha or axis.NAME.bandwidth");
    }
    if (ax < 0)
      return InvalidArgument(where + "mesh " + mesh.to_string() + " has no axis '" + axis + "'");
    TSR_ASSIGN_OR_RETURN(double v, number(src, key, e));
    if (field == "alpha") c.links[ax].alpha = v;
    if (field == "bandwidth") c.links[ax].beta = 1.0 / v;
    c.links[ax].kind = "file";
  }
  return c;
}

}  // namespace tessera::spmd
