// Test helper: `emit_tool PLAN RUNNER OUT [MAX_EMBEDDED_BYTES]` calls tools::emit_executable,
// the function behind `tessera compile --emit executable`, so the cluster tests exercise it
// even in builds without the compiler.
#include <cstdio>
#include <cstdlib>

#include "emit_executable.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s PLAN RUNNER OUT [MAX_EMBEDDED_BYTES]\n", argv[0]);
    return 2;
  }
  tessera::tools::EmitExecutableOptions o;
  if (argc == 5) o.max_embedded_bytes = std::strtoull(argv[4], nullptr, 10);
  tessera::Status s = tessera::tools::emit_executable(argv[1], argv[2], argv[3], o);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", s.to_string().c_str());
    return 1;
  }
  return 0;
}
