// Parsing of CLI values: sizes ("16GiB", "80GB", "1e9") and bindings ("batch=8,seq=1024").
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "tessera/status.h"

namespace tessera::tools {

StatusOr<int64_t> parse_size(const std::string& text);
StatusOr<std::map<std::string, int64_t>> parse_bindings(const std::string& text);
// Prints `error: msg` on stderr; returns 1.
int fail(const std::string& msg);

}  // namespace tessera::tools
