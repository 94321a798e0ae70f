// The plan a tessera-runner executable carries (runner_format.h): embedded after the ELF image,
// or in the sidecar directory `<exe>.d/`.
#pragma once
#include <memory>
#include <string>

#include "tessera/runtime.h"

namespace tessera::runner {

// The running executable's own path (readlink /proc/self/exe): argv[0] may be relative or a
// symlink, and mpirun/srun start the binary from another working directory.
StatusOr<std::string> self_exe_path();

// Loads the plan attached to the executable at `exe_path`. A runner with nothing attached is a
// clear error (NotFound) that says how to make one.
StatusOr<std::shared_ptr<const runtime::Plan>> load_attached_plan(const std::string& exe_path,
                                                                  bool verify_hash);

}  // namespace tessera::runner
