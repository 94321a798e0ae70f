// TorchScript frontend: a traced module archive (torch.jit.trace + torch.jit.save, PyTorch 1.13
// to 2.x) -> canonical ir::Graph (docs/ops.md), read without libtorch (docs/torchscript.md).
// Weights keep their state_dict names ("transformer.h.0.attn.c_attn.weight").
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::ts_fe {

struct InputSpec {
  DType dtype = DType::kUndefined;
  Shape shape;
};

struct ImportOptions {
  // forward's tensor inputs, in order. Empty: the example inputs that torch >= 2.0 stores in
  // the archive (traced_inputs.pkl). Given, they override those (other batch or sequence sizes,
  // or archives without them); the driver fills them from --inputs files or --shape.
  std::vector<InputSpec> input_shapes;
  // Read weight bytes. Off: weights carry shape and dtype only.
  bool load_weights = true;
  // Constant folding stops where one result would exceed this many elements.
  int64_t max_fold_elements = int64_t{1} << 24;
};

// True when the file is a zip whose entries look like a TorchScript archive (cheap check on
// the name list, for the driver's choice of frontend).
bool is_torchscript_file(const std::string& path);

// Graph meta: "torchscript_version" (int), "weights_loaded" (0/1), "inputs_from" ("traced" or
// "options"). Graph inputs are named after forward's parameters, outputs "output_N".
StatusOr<ir::Graph> import_torchscript(const std::string& path, const ImportOptions& opts);
StatusOr<ir::Graph> import_torchscript_bytes(std::string bytes, const std::string& what,
                                             const ImportOptions& opts);

}  // namespace tessera::ts_fe
