// Compile-time random weights for graph-only models (`tessera compile --random-weights SEED`)
// and the calibration twin graph (`--calibration-shape`), both for quantized benchmark plans of
// models that ship without weight data (../shared/models/full/*; docs/quantization.md,
// "Graph-only models").
#pragma once
#include <cstdint>
#include <string>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::compiler {

// Fills every weight of g (all of them must be data-less: a model with weight data is refused)
// with deterministic values: f32 uniform in [-0.05, 0.05] from a hash of (seed, weight name,
// index), the distribution of the runtime's SessionOptions::random_weights (kernels/cuda/
// fill.cu); integer and bool weights zero, as there. Other float dtypes are refused.
Status fill_random_weights(ir::Graph& g, int64_t seed);

// Every weight of g without its data: the plan is graph-only again, as its model was.
void drop_weight_data(ir::Graph& g);

// twin (g imported at other dims, same stages run) must have g's nodes and values in the same
// order: op, inputs, outputs, value names, kinds, dtypes and ranks. Then it takes g's weight
// data (shared, not copied). `dims` names the twin's bindings for the error.
Status adopt_twin(const ir::Graph& g, ir::Graph& twin, const std::string& dims);

}  // namespace tessera::compiler
