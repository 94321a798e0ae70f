// Internal to autodiff: appends nodes with inferred output types, and the helpers gradient
// rules share (scalars, reshapes, broadcast reductions). Errors are sticky: after the first
// failure every call returns -1 and the caller reports status() once, which keeps rules to a
// line per op instead of a TSR_ASSIGN_OR_RETURN per op.
#pragma once
#include <string>
#include <vector>

#include "ir/graph.h"
#include "tessera/status.h"

namespace tessera::autodiff {

class Builder {
 public:
  explicit Builder(ir::Graph& g) : g_(g) {}
  // Names of new nodes and values start with this ("grad/<forward node>").
  void set_scope(std::string scope) { scope_ = std::move(scope); }

  std::vector<int> op(const std::string& op, const std::vector<int>& ins, const AttrMap& attrs,
                      int nout);
  int op1(const std::string& op, const std::vector<int>& ins, const AttrMap& attrs = {});

  int scalar(DType t, double v);  // rank-0 constant of a float or integer dtype
  int scalar_like(int v, double x) { return scalar(dtype(v), x); }
  int zeros(DType t, const Shape& s);
  int reshape(int v, const Shape& s);  // no node when the shape already matches
  int reduce_sum(int v, const std::vector<int64_t>& axes, bool keepdims);
  int unbroadcast(int v, const Shape& target);  // sums v down to a broadcast operand's shape
  int add(int a, int b) { return op1("Add", {a, b}); }
  int mul(int a, int b) { return op1("Mul", {a, b}); }

  Shape shape(int v) const { return v >= 0 ? g_.values[v].shape : Shape{}; }
  DType dtype(int v) const { return v >= 0 ? g_.values[v].dtype : DType::kUndefined; }
  ir::Graph& graph() { return g_; }

  void fail(Status s) {
    if (status_.ok()) status_ = std::move(s);
  }
  const Status& status() const { return status_; }

 private:
  int new_value(const std::string& base, DType t, const Shape& s, ir::ValueKind k);
  ir::Graph& g_;
  std::string scope_ = "grad";
  int counter_ = 0;
  Status status_;
};

// Shape inference over the forward table and the training-op table.
StatusOr<std::vector<std::pair<DType, Shape>>> infer_any(
    const ir::Node& n, const std::vector<std::pair<DType, Shape>>& in);

}  // namespace tessera::autodiff
