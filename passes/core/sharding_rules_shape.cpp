// Sharding rules of data-movement ops: reshapes, transposes, axis ops, gathers.
#include <algorithm>
#include <map>
#include <numeric>
#include <utility>

#include "passes/core/rule_builder.h"

namespace tessera::spmd::rules {

// Reshape, Flatten, Squeeze, Unsqueeze: dims are grouped where the two shapes multiply to the
// same size (size-1 dims skipped). A group of one dim each way is one factor; a merged or split
// group shares only its leading (major) dims, whose contiguous blocks are the same elements on
// both sides, so they split by up to gcd of their sizes. Other dims of a group never split.
StatusOr<OpRule> reshape(const std::string& op, const AttrMap&, const std::vector<Shape>& in,
                         const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 1, 1));
  const Shape &x = in[0], &y = out[0];
  if (num_elements(x) != num_elements(y)) {
    return InvalidArgument(op + ": " + shape_str(x) + " and " + shape_str(y) +
                           " hold different numbers of elements");
  }
  Builder b(op, in, out);
  b.r.is_view = true;
  size_t i = 0, j = 0;
  while (true) {
    while (i < x.size() && x[i] == 1) ++i;
    while (j < y.size() && y[j] == 1) ++j;
    if (i == x.size() || j == y.size()) break;
    size_t gi = i, gj = j;
    int64_t pi = x[i++], pj = y[j++];
    while (pi != pj) {
      if (pi < pj)
        pi *= x[i++];
      else
        pj *= y[j++];
    }
    bool simple = i - gi == 1 && j - gj == 1;
    int f = simple ? b.factor(x[gi]) : b.factor(std::gcd(x[gi], y[gj]));
    b.in_dim(0, static_cast<int>(gi), f);
    b.out_dim(0, static_cast<int>(gj), f);
  }
  return std::move(b.r);
}

StatusOr<OpRule> transpose(const std::string& op, const AttrMap& attrs,
                           const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, 1, 1));
  std::vector<int64_t> perm = attr_ints(attrs, "perm");
  if (perm.size() != in[0].size() || out[0].size() != in[0].size()) {
    return InvalidArgument(op + ": perm has " + std::to_string(perm.size()) +
                           " entries for input " + shape_str(in[0]));
  }
  Builder b(op, in, out);
  for (size_t d = 0; d < in[0].size(); ++d) {
    int f = b.factor(in[0][d]);
    b.in_dim(0, static_cast<int>(d), f);
  }
  for (size_t o = 0; o < perm.size(); ++o) {
    if (perm[o] < 0 || perm[o] >= static_cast<int64_t>(perm.size())) {
      return InvalidArgument(op + ": perm entry " + std::to_string(perm[o]) + " out of range");
    }
    b.out_dim(0, static_cast<int>(o), static_cast<int>(perm[o]));
  }
  b.r.flops = static_cast<double>(num_elements(in[0]));
  return std::move(b.r);
}

namespace {

// Dims an axis op needs whole, with the reason.
std::map<int, std::string> whole_dims(const std::string& op, const AttrMap& a, int rank) {
  std::map<int, std::string> w;
  auto add = [&](int64_t d, const std::string& why) {
    if (d >= 0 && d < rank) w[static_cast<int>(d)] = op + " " + why;
  };
  if (op == "Concat" || op == "Split" || op == "CumSum" || op == "GatherElements") {
    add(attr_int(a, "axis", 0), "works along its axis");
  } else if (op == "Slice") {
    for (int64_t d : attr_ints(a, "axes")) add(d, "slices this axis");
  } else if (op == "Trilu") {
    add(rank - 2, "masks the last two dims");
    add(rank - 1, "masks the last two dims");
  } else if (op == "Pad") {
    std::vector<int64_t> pads = attr_ints(a, "pads");
    for (int d = 0; d < rank && d + rank < static_cast<int>(pads.size()); ++d) {
      if (pads[d] != 0 || pads[d + rank] != 0) add(d, "pads this dim");
    }
  } else if (op == "Tile") {
    std::vector<int64_t> rep = attr_ints(a, "repeats");
    for (int d = 0; d < rank && d < static_cast<int>(rep.size()); ++d) {
      if (rep[d] != 1) add(d, "repeats this dim");
    }
  }
  return w;
}

}  // namespace

// Concat, Split, Slice, Pad, CumSum, Trilu, Tile, GatherElements: all operands of one rank; the
// op's own axes (and any dim whose sizes differ between operands) stay whole, the rest split.
StatusOr<OpRule> same_rank_axis_ops(const std::string& op, const AttrMap& attrs,
                                    const std::vector<Shape>& in, const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 1, -1, -1));
  int rank = static_cast<int>(out[0].size());
  for (const auto* list : {&in, &out}) {
    for (const Shape& s : *list) {
      if (static_cast<int>(s.size()) != rank) {
        return InvalidArgument(op + ": operand " + shape_str(s) + " is not of rank " +
                               std::to_string(rank));
      }
    }
  }
  std::map<int, std::string> whole = whole_dims(op, attrs, rank);
  Builder b(op, in, out);
  for (int d = 0; d < rank; ++d) {
    bool same = true;
    for (const Shape& s : in) same = same && s[d] == out[0][d];
    for (const Shape& s : out) same = same && s[d] == out[0][d];
    std::string why = whole.count(d) ? whole[d] : same ? "" : op + " changes this dim's size";
    int f = b.factor(out[0][d], FactorKind::kParallel, why);
    for (size_t k = 0; k < in.size(); ++k) {
      if (in[k][d] == out[0][d]) b.in_dim(k, d, f);
    }
    for (size_t k = 0; k < out.size(); ++k) {
      if (out[k][d] == out[0][d]) b.out_dim(k, d, f);
    }
  }
  b.r.flops = static_cast<double>(b.numel_out());
  return std::move(b.r);
}

// Gather: out = data[:axis] + indices + data[axis+1:]; the gathered axis stays whole (a
// vocab-parallel lookup would need masking and a sum). GatherND: only batch_dims split.
StatusOr<OpRule> gather(const std::string& op, const AttrMap& attrs, const std::vector<Shape>& in,
                        const std::vector<Shape>& out) {
  TSR_RETURN_IF_ERROR(expect_arity(op, in, out, 2, 2, 1));
  const Shape &data = in[0], &idx = in[1], &y = out[0];
  Builder b(op, in, out);
  b.r.flops = static_cast<double>(num_elements(y));
  if (op == "GatherND") {
    int64_t bd = attr_int(attrs, "batch_dims", 0);
    for (int d = 0; d < bd && d < static_cast<int>(y.size()); ++d) {
      int f = b.factor(y[d]);
      b.in_dim(0, d, f);
      b.in_dim(1, d, f);
      b.out_dim(0, d, f);
    }
    return std::move(b.r);
  }
  int axis = static_cast<int>(attr_int(attrs, "axis", 0));
  int q = static_cast<int>(idx.size());
  if (axis < 0 || axis >= static_cast<int>(data.size()) || y.size() != data.size() - 1 + q) {
    return InvalidArgument(op + ": data " + shape_str(data) + ", indices " + shape_str(idx) +
                           " and output " + shape_str(y) + " disagree for axis " +
                           std::to_string(axis));
  }
  for (int d = 0; d < static_cast<int>(data.size()); ++d) {
    int f = d == axis ? b.factor(data[d], FactorKind::kParallel, op + " reads any row of its axis")
                      : b.factor(data[d]);
    b.in_dim(0, d, f);
    if (d != axis) b.out_dim(0, d < axis ? d : d - 1 + q, f);
  }
  for (int j = 0; j < q; ++j) {
    int f = b.factor(idx[j]);
    b.in_dim(1, j, f);
    b.out_dim(0, axis + j, f);
  }
  return std::move(b.r);
}

}  // namespace tessera::spmd::rules
