// Small text helpers shared by the inspect views: escaping for JSON, HTML and DOT, and the
// human units people read (KiB/MiB, µs/ms/s). Number formats are fixed so output is
// byte-identical across runs.
#pragma once
#include <cstdint>
#include <string>

namespace tessera::tools {

std::string json_str(const std::string& s);  // quoted, escaped
std::string json_num(double v);              // %.9g; null for inf/nan (JSON has neither)
std::string html_escape(const std::string& s);
std::string dot_escape(const std::string& s);  // inside a double-quoted DOT string
std::string human_bytes(int64_t b);            // "1.50 MiB", "312 B"
std::string human_seconds(double s);           // "12.3 us", "4.56 ms", "1.20 s", "inf"

}  // namespace tessera::tools
