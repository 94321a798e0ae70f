// The data of `tessera run --data DIR`: one batch per directory, each holding input_N.pb (the
// model inputs in plan order, `labels` left out) and labels.pb, all onnx.TensorProto files.
#pragma once
#include <string>
#include <vector>

#include "tessera/runtime.h"

namespace tessera::runtime {

// DIR itself when it holds labels.pb or input_0.pb; otherwise its subdirectories named by a
// number (0/, 1/, ...), in numeric order. Every batch is checked for every file up front, so a
// missing file fails before the first step rather than after hours of training.
StatusOr<std::vector<std::string>> list_batches(const std::string& dir, int num_model_inputs);

// Reads batch `dir` and binds it: input_i.pb to model_inputs[i], labels.pb to "labels".
// Errors name the file.
Status bind_batch(Session& s, const std::string& dir, const std::vector<std::string>& model_inputs);

}  // namespace tessera::runtime
