// Everything `tessera compile` can be told. Defaults are what a user gets without flags.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tessera::compiler {

struct CompileOptions {
  std::string model;  // .onnx (TorchScript later)
  std::string output = "model.tsr";
  std::map<std::string, int64_t> shapes;  // --shape batch=8,seq=1024
  // --inputs DIR: input_N.pb files whose dtypes and shapes are the graph inputs' (TorchScript
  // archives of PyTorch < 2.0 hold no example shapes; also recompiles a trace at other sizes).
  std::string example_inputs;
  std::string mesh;             // --mesh dp=2,tp=4; empty = one device
  std::string cluster = "cpu";  // built-in profile name or a file
  int64_t memory_budget = 0;    // bytes per device; 0 = the profile's capacity
  std::string mode = "infer";
  // Train mode (--mode train): loss, optimizer and which weights train.
  std::string loss = "cross_entropy";
  std::string optimizer = "adamw";
  double lr = 1e-3;
  double weight_decay = 0.01;
  double momentum = 0.0;
  std::string precision = "fp32";
  std::string batchnorm = "train";  // train: batch statistics; eval: running statistics
  int64_t seed = 0;                 // --seed: Dropout's random stream (train mode)
  std::vector<std::string> freeze;  // globs of weight names kept out of the optimizer
  bool gradients_only = false;      // outputs = loss and "<weight>.grad", no optimizer
  bool output_gradients = false;    // with the optimizer, also output "<weight>.grad"
  std::string checkpoint = "auto";  // auto | none | every-layer | sqrt-n (train mode)
  std::string chunk = "auto";       // auto | none: chunk regions to fit the memory budget
  int64_t chunk_budget = 0;         // bytes the chunk pass aims for; 0 = memory_budget
  int64_t chunk_count = 0;          // > 0: debug, force this many chunks per chunkable region
  // auto | fused | unfused: FusedAttention in place of the attention subgraph (auto: fused
  // unless --chunk none; in training it removes the saved probabilities).
  std::string attention = "auto";
  // fused | unfused: decomposed GELU chains into one Gelu node (docs/user-guide.md).
  std::string gelu = "fused";
  // fused | unfused: MatMul + bias Add into one Gemm, the bias in its epilogue.
  std::string linear_bias = "fused";
  // bshd | bhsd: FusedAttention reads q, k, v and writes y as [B,S,H,D], the head Transposes
  // around it folded into the op (bhsd: they stay).
  std::string attention_layout = "bshd";
  // on | off: f32<->bf16/f16 Casts around LayerNorm and the loss folded into those ops.
  std::string fold_casts = "on";
  // Infer mode: --quantize int8 with calibration inputs (docs/quantization.md).
  std::string quantize;                     // "" = off, "int8"
  std::string calibration;                  // directory of input_N.pb sets
  std::string calibration_method = "auto";  // auto | minmax | percentile | entropy
  double calibration_percentile = 99.99;
  double smooth_alpha = -1;                // SmoothQuant strength; 0 = off, < 0 = auto
  std::vector<std::string> keep_float;     // globs of node/weight names left in float
  std::string activation_scales = "auto";  // auto | tensor | token
  // --calibration-shape batch=1,seq=128: the interpreter runs of calibration use the model at
  // these dims (over --shape's) instead of the plan's; the sets must have those shapes.
  std::map<std::string, int64_t> calibration_shapes;
  // --random-weights SEED (>= 0; -1 = off): graph-only models get deterministic random weights
  // for the compile-time passes that read values (quantize); the plan keeps no weight data.
  int64_t random_weights = -1;
  std::string strategy_file;  // --strategy: forced strategies per node
  std::string dump_dir;       // --dump-dir: IR after each stage
  bool verbose = false;
  bool quiet = false;
  bool timings = false;
};

// What the driver learnt, for the closing summary and for tests.
struct CompileSummary {
  std::string plan_path;
  int64_t parameters = 0;
  int64_t nodes = 0;
  int64_t collectives = 0;
  int64_t arena_bytes = 0;
  int64_t weight_bytes_per_rank = 0;
  bool has_weight_data = true;
  double modelled_step_seconds = 0;
  double seconds = 0;
};

}  // namespace tessera::compiler
