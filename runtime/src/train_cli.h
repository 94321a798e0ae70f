// What `tessera run PLAN --data DIR --steps N` does: train on this rank (under mpirun/srun: all
// ranks), logging `step K loss L` per step on rank 0's stdout. Errors print one line
// `error: ...` on stderr; a failing rank aborts the job so peers do not wait in a collective.
#pragma once
#include <cstdint>
#include <string>

#include "run_cli.h"

namespace tessera::runtime {

struct TrainCliOptions {
  std::string data;            // --data: batches (train_data.h)
  int64_t steps = -1;          // --steps: -1 = not given (1 with --data, else 0)
  std::string dump_gradients;  // --dump-gradients DIR: last step's "<w>.grad" outputs + loss.pb
  std::string save_weights;    // --save-weights DIR: checkpoint after the last step
  std::string load_weights;    // --load-weights DIR: checkpoint to start from
  std::string export_onnx;     // --export-onnx FILE: the source model with trained weights
  std::string source_model;    // --source-model FILE: overrides the plan's meta "source_model"
  bool any() const {
    return !data.empty() || steps >= 0 || !dump_gradients.empty() || !save_weights.empty() ||
           !load_weights.empty() || !export_onnx.empty();
  }
};

// Returns 0 on success.
int run_train_cli(const std::string& plan_path, const TrainCliOptions& train,
                  const RunCliOptions& options);

}  // namespace tessera::runtime
