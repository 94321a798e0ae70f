// Training plans, as the runtime sees them. A plan compiled with `--mode train` carries meta
// "train.loss" (and "train.optimizer"); unless compiled with --gradients-only it also carries
// "train.updates": pairs (state, updated output). States are WEIGHT tensors (weights, "<w>.adam_m",
// "<w>.adam_v", "<w>.momentum", "optimizer.step"); each updated output has exactly its state's
// local shape and sharding, so a training step is run() then a local copy output -> state on
// every rank (Session::apply_updates). Gradient outputs, where the plan has them, are named
// "<w>.grad" and are replicated like every other non-update output.
#pragma once
#include <string>
#include <vector>

#include "tessera/status.h"

namespace tessera::plan {
class Plan;
}

namespace tessera::runtime {

struct StateUpdate {
  std::string state;   // WEIGHT tensor name, e.g. "w" or "w.adam_m"
  std::string output;  // graph output holding its new value, e.g. "w.new"
};

struct TrainInfo {
  bool training = false;                      // meta "train.loss" present
  std::string loss, optimizer;                // meta values ("none" for --gradients-only)
  std::vector<StateUpdate> updates;           // meta "train.updates", in plan order
  std::vector<std::string> gradient_outputs;  // outputs named "<w>.grad", in plan order
};

// Reads the training meta of a plan; Corrupt when "train.updates" is malformed (odd length).
StatusOr<TrainInfo> train_info(const plan::Plan& p, const std::string& file);

// True for optimizer-only states ("optimizer.step", "<w>.adam_m", "<w>.adam_v", "<w>.momentum"
// whose <w> is itself a state, fp16's "loss_scale" and "loss_scale.good_steps"): what
// --export-onnx leaves out.
bool is_optimizer_state(const std::string& name, const std::vector<StateUpdate>& updates);

// File name for a tensor saved by name ("<sanitized>.pb"): every byte outside [A-Za-z0-9._-]
// becomes '_' so ONNX names with '/' or ':' stay one file. The TensorProto inside keeps the
// real name; readers check it, so a collision fails loudly instead of loading the wrong tensor.
std::string tensor_file_name(const std::string& name);

}  // namespace tessera::runtime
