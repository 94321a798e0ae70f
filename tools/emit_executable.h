// `tessera compile ... --emit executable -o model.bin`: packages a plan with the prebuilt
// tessera-runner into one file that runs with `./model.bin --inputs DIR --output-dir DIR`
// (layout: runtime/src/runner_format.h). Plans larger than `max_embedded_bytes` go to the
// sidecar directory `model.bin.d/plan.tsr`, which must travel with the executable.
#pragma once
#include <cstdint>
#include <string>

#include "tessera/status.h"

namespace tessera::tools {

struct EmitExecutableOptions {
  uint64_t max_embedded_bytes = 2ull << 30;  // runner::kMaxEmbeddedPlanBytes; tests lower it
};

// Validates the plan (header, hash, references) and the runner (an ELF with no plan attached)
// before writing; writes beside `out_path` and renames, so a reader never sees half a binary.
Status emit_executable(const std::string& plan_path, const std::string& runner_path,
                       const std::string& out_path, const EmitExecutableOptions& options = {});

// Where the runner is expected next to a `tessera` binary: `<dir of tessera>/tessera-runner`.
std::string default_runner_path();

}  // namespace tessera::tools
