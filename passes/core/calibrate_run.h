// Calibration data and statistics over a graph: loads the calibration input sets of a directory
// and runs the float graph on each (the reference interpreter), folding the values of the
// watched tensors into per-tensor statistics. Two sweeps over the data: ranges and per-channel
// abs-max first, then histograms over the now-known range (and through the SmoothQuant factors
// decided in between), so every histogram has one fixed binning whatever the batch order.
// Cost: two interpreter runs per set and 2048 doubles per watched tensor.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/core/calibration.h"
#include "passes/core/interpreter.h"

namespace tessera::core {

// The sets of `dir`: dir itself when it holds input_0.pb, else its subdirectories that hold one
// (0/, 1/, ..., test_data_set_N/), in natural order. input_i.pb feeds g.inputs[i]; dtype and
// shape must match the graph's.
StatusOr<std::vector<Feeds>> load_calibration_sets(const std::string& dir, const ir::Graph& g);

struct TensorCalib {
  RangeStats range;                 // sweep 1: of the raw tensor; sweep 2 replaces it when smoothed
  std::vector<double> chan_absmax;  // sweep 1: per last-dim channel
  std::vector<float> smooth_inv;    // set between sweeps: x * smooth_inv is what gets quantized
  double smooth_alpha = 0;          // the SmoothQuant alpha smooth_inv was made with
  std::unique_ptr<AbsHistogram> hist;
};

// Sweep 1 over value ids `watch` (float activations or inputs).
Status collect_ranges(const ir::Graph& g, const std::vector<Feeds>& sets,
                      std::map<int, TensorCalib>& stats);
// One more run of the float graph per set, handing every value to `fn` (bias correction).
Status for_each_set(const ir::Graph& g, const std::vector<Feeds>& sets,
                    const std::function<void(const std::vector<ir::TensorData>&)>& fn);
// Sweep 2: histograms (when `histograms`) and, for smoothed tensors, their smoothed range.
Status collect_histograms(const ir::Graph& g, const std::vector<Feeds>& sets,
                          std::map<int, TensorCalib>& stats, bool histograms);

// Relative L2 error of each variant's outputs against the reference graph's over every set:
// sqrt(sum (v - r)^2 / sum r^2) over all f32 outputs together (the quantize pass compares
// granularities with it). Variants have the reference's inputs and outputs. Cost: one
// interpreter run per set per graph; one set's outputs held at a time.
StatusOr<std::vector<double>> output_rel_l2(const ir::Graph& ref,
                                            const std::vector<const ir::Graph*>& variants,
                                            const std::vector<Feeds>& sets);

}  // namespace tessera::core
