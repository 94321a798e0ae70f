// ONNX frontend: ModelProto -> canonical ir::Graph (docs/ops.md). Binds symbolic dims, lifts
// compile-time-constant inputs to attributes, folds shape-only subgraphs, prunes dead nodes.
#pragma once
#include <cstdint>
#include <map>
#include <string>

#include "ir/dump.h"
#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::onnx_fe {

struct ImportOptions {
  std::map<std::string, int64_t> dim_bindings;  // --shape batch=8,seq=1024
  // Read weight bytes (inline and external). Off: weights carry shape and dtype only, which is
  // all planning needs; integer initializers (shape constants) are always read.
  bool load_weights = true;
  // Constant folding stops where one result would exceed this many elements (memory and time).
  int64_t max_fold_elements = int64_t{1} << 24;
  // Train mode: Dropout stays a Dropout node (ratio lifted to an attribute) for the autodiff
  // stage to give a seeded mask; otherwise it is inference-time Identity.
  bool train_dropout = false;
};

// Graph meta records: "onnx_opset" (int), "onnx_ir_version" (int), "weights_loaded" (0/1),
// "weights_missing" (number of weights whose external data file was absent).
StatusOr<ir::Graph> import_onnx(const std::string& path, const ImportOptions& opts);

// Same, from bytes already in memory (fuzzing, tests); `model_dir` resolves external data.
StatusOr<ir::Graph> import_onnx_bytes(const std::string& bytes, const std::string& model_dir,
                                      const ImportOptions& opts);

using ir::dump_graph;

}  // namespace tessera::onnx_fe
