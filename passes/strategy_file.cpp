#include "passes/strategy_file.h"

#include <fnmatch.h>

#include <fstream>
#include <sstream>

namespace tessera::passes {
namespace {

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r"), b = s.find_last_not_of(" \t\r");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

}  // namespace

StatusOr<StrategyOverrides> parse_strategy_file(const std::string& text, const std::string& path) {
  StrategyOverrides out;
  std::istringstream in(text);
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      return InvalidArgument(path + ":" + std::to_string(no) + ": expected 'NODE_GLOB = STRATEGY'");
    StrategyOverride r{trim(line.substr(0, eq)), trim(line.substr(eq + 1)), no, false};
    if (r.pattern.empty() || r.strategy.empty())
      return InvalidArgument(path + ":" + std::to_string(no) + ": empty node pattern or strategy");
    out.push_back(std::move(r));
  }
  return out;
}

StatusOr<StrategyOverrides> load_strategy_file(const std::string& path) {
  std::ifstream f(path);
  if (!f) return NotFound("--strategy: cannot open '" + path + "'");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_strategy_file(ss.str(), path);
}

Status apply_overrides(StrategyOverrides& rules, const ir::Node& n, const spmd::Mesh& mesh,
                       std::vector<spmd::Strategy>& candidates) {
  for (auto& r : rules) {
    if (fnmatch(r.pattern.c_str(), n.name.c_str(), 0) != 0) continue;
    r.used = true;
    std::string have;
    for (const auto& s : candidates) {
      if (s.name(mesh) == r.strategy) {
        spmd::Strategy keep = s;
        candidates = {keep};
        return Status::Ok();
      }
      have += (have.empty() ? "" : ", ") + ("'" + s.name(mesh) + "'");
    }
    return InvalidArgument("--strategy line " + std::to_string(r.line) + ": node '" + n.name +
                           "' (" + n.op + ") has no strategy '" + r.strategy + "'; it has " + have);
  }
  return Status::Ok();
}

Status check_overrides_used(const StrategyOverrides& rules) {
  for (const auto& r : rules)
    if (!r.used)
      return InvalidArgument("--strategy line " + std::to_string(r.line) + ": '" + r.pattern +
                             "' matches no node");
  return Status::Ok();
}

}  // namespace tessera::passes
