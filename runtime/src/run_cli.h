// What `tessera run` does, as one call: load a plan, read input_N.pb files, run on this rank,
// write output_N.pb files (rank 0 only). Errors print one line `error: ...` on stderr.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "tessera/status.h"

namespace tessera::runtime {

struct RunCliOptions {
  bool profile = false;  // print per-instruction times (rank 0) on stderr
  bool verbose = false;  // print a one-line summary (rank 0) on stderr
  bool verify_hash = true;
  std::string backend = "cpu";  // cpu, cuda, auto (SessionOptions::backend)
  bool report_memory = false;   // print `rank R peak_bytes N` per rank on stdout
};

// Returns 0 on success. Input i is `inputs_dir/input_i.pb`, bound to plan input i (its name in
// the file is ignored); output i goes to `output_dir/output_i.pb` named after the plan output.
// Under a multi-rank launcher a failing rank aborts the job instead of leaving peers waiting.
int run_plan_cli(const std::string& plan_path, const std::string& inputs_dir,
                 const std::string& output_dir, const RunCliOptions& options);

// Same, for a plan that is not a plain file (the plan inside a tessera-runner executable).
// `load` runs after the communicator exists, so a rank that fails to load still aborts the job;
// `label` names the plan in messages.
class Plan;
using PlanLoader = std::function<StatusOr<std::shared_ptr<const Plan>>(bool verify_hash)>;
int run_plan_cli(const PlanLoader& load, const std::string& label, const std::string& inputs_dir,
                 const std::string& output_dir, const RunCliOptions& options);

}  // namespace tessera::runtime
