// Writes trained values back into an ONNX model (runtime/schema/onnx_model.proto).
#pragma once
#include <string>
#include <vector>

#include "tessera/tensor_io.h"

namespace tessera::runtime {

// Reads the ONNX model `source`, replaces each main-graph initializer named like a tensor in
// `values` with it (raw_data; dtype and dims must match), and writes the result to `dest`.
// Everything else is kept. A value with no initializer of its name is an error: the export
// would silently drop what training learnt.
Status export_onnx(const std::string& source, const std::vector<HostTensor>& values,
                   const std::string& dest);

}  // namespace tessera::runtime
