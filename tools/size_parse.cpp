#include "size_parse.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace tessera::tools {

int fail(const std::string& msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 1;
}

StatusOr<int64_t> parse_size(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  double v = std::strtod(s, &end);
  if (end == s || !std::isfinite(v) || v <= 0)
    return InvalidArgument("'" + text + "' is not a size (e.g. 16GiB, 80GB, 1e9)");
  std::string unit(end);
  struct Unit {
    const char* name;
    double mult;
  };
  static const Unit kUnits[] = {{"", 1},         {"B", 1},          {"KB", 1e3},
                                {"MB", 1e6},     {"GB", 1e9},       {"TB", 1e12},
                                {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0},
                                {"TiB", 1099511627776.0}};
  for (const Unit& u : kUnits)
    if (unit == u.name) return static_cast<int64_t>(v * u.mult);
  return InvalidArgument("'" + text + "': unknown unit '" + unit + "' (use B, KB, MB, GB, KiB, MiB, GiB)");
}

StatusOr<std::map<std::string, int64_t>> parse_bindings(const std::string& text) {
  std::map<std::string, int64_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0)
      return InvalidArgument("'" + item + "' is not name=value");
    std::string name = item.substr(0, eq), val = item.substr(eq + 1);
    char* end = nullptr;
    long long v = std::strtoll(val.c_str(), &end, 10);
    if (val.empty() || *end != '\0' || v <= 0)
      return InvalidArgument("'" + name + "' must be a positive integer, got '" + val + "'");
    if (out.count(name)) return InvalidArgument("'" + name + "' is bound twice");
    out[name] = v;
  }
  return out;
}

}  // namespace tessera::tools
