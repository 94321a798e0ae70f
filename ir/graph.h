// The compiler's plain-C++ graph: what the frontends build, what the algorithm cores read, and
// what ir/bridge converts to and from the MLIR dialect. No MLIR headers here.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tessera/attr.h"
#include "tessera/dtype.h"

namespace tessera::ir {

// Host bytes of a constant or a weight, row-major.
struct TensorData {
  DType dtype = DType::kUndefined;
  Shape shape;
  std::vector<uint8_t> bytes;
  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
  int64_t numel() const { return num_elements(shape); }
};
using TensorDataPtr = std::shared_ptr<const TensorData>;

enum class ValueKind {
  kActivation,  // produced by a node
  kInput,       // graph input fed at run time
  kWeight,      // initializer (parameter); data may be absent for graph-only models
  kConstant,    // compile-time constant (Constant nodes, folded shape computations)
};

struct Value {
  std::string name;
  DType dtype = DType::kUndefined;
  Shape shape;
  ValueKind kind = ValueKind::kActivation;
  TensorDataPtr data;  // always set for kConstant; for kWeight when the model carries data
  int producer = -1;   // node index, -1 for non-activations
  std::string sharding;  // printed ShardingSpec; empty = replicated / not yet decided
  Shape local_shape;     // per-rank shape, set by partition (equals shape on one device)
};

// One strategy spmd-search weighed for a node (plan NodeCandidates, `tessera explain`).
struct CandidateCost {
  std::string strategy;
  double compute_seconds = 0;
  double reshard_seconds = 0;  // to and from the neighbours' chosen strategies; inf: impossible
  double total_seconds = 0;
  int64_t memory_bytes = 0;  // per device: weights held plus results
};

struct Node {
  std::string name;  // ONNX node name (made unique by the frontend)
  std::string op;    // canonical op type (docs/ops.md), e.g. "MatMul"
  AttrMap attrs;
  std::vector<int> inputs;   // value ids; -1 = absent optional input
  std::vector<int> outputs;  // value ids
  // Set by spmd-search: the chosen strategy's name and the spec it needs on each input
  // (reshard makes producers agree); empty before the search.
  std::string strategy;
  std::vector<std::string> input_specs;
  // Costs for `tessera inspect` / `explain`, copied into the plan: per-device seconds (spmd-search:
  // the chosen strategy's compute; reshard: the collective's α-β time), the bytes per device a
  // collective moves, and every alternative the search weighed (a few strategies per node).
  double modelled_seconds = 0;
  int64_t comm_bytes = 0;
  std::vector<CandidateCost> candidates;
  int chosen = -1;     // index into candidates
  int group_size = 1;  // nodes of repeated layers forced to share the choice
};

// Communication ops inserted by resharding (names as in plans; docs/plan-format.md).
bool is_collective_op(const std::string& op);

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;  // topological order
  std::vector<int> inputs;  // value ids of kInput values, in model order
  std::vector<int> outputs; // value ids, in model order
  AttrMap meta;             // compile options recorded with the graph (mesh, mode, ...)

  int add_value(Value v) {
    values.push_back(std::move(v));
    return static_cast<int>(values.size()) - 1;
  }
  int add_node(Node n);  // sets producer of its outputs
  // Drops nodes whose outputs are unused and values nothing refers to; renumbers ids.
  void prune();
  int64_t parameter_count() const;  // elements over kWeight values
};

}  // namespace tessera::ir
