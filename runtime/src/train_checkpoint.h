// Checkpoints of a training run (`tessera run --save-weights / --load-weights DIR`): one
// onnx.TensorProto file per state (weights and optimizer states) holding its full, unsharded
// value, named after the state (tessera/train.h tensor_file_name), plus steps_done.pb. Full
// values make a checkpoint independent of the mesh it was written on.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tessera/runtime.h"
#include "tessera/train.h"

namespace tessera::runtime {

// The progress file: an int64 scalar named "tessera.steps_done" (steps already taken), so a
// resumed run continues the step count and the batch cycle where the saved run stopped.
constexpr char kStepsDoneFile[] = "steps_done.pb";

// Every state's full value, in update order. Collective (Session::read_state): every rank calls
// it; each then holds the whole model, briefly (a gather to one rank would halve that cost).
StatusOr<std::vector<HostTensor>> gather_states(Session& s, const std::vector<StateUpdate>& u);

// Writes the tensors and the progress file into dir (created). Call on one rank.
Status save_checkpoint(const std::string& dir, const std::vector<HostTensor>& states,
                       int64_t steps_done);

// Reads every state from dir into the session (each rank reads the files itself) and returns
// the steps already taken (0 without a progress file). Errors name the file at fault.
StatusOr<int64_t> load_checkpoint(Session& s, const std::string& dir,
                                  const std::vector<StateUpdate>& u);

}  // namespace tessera::runtime
