// Ops whose output is the input's bytes reinterpreted: same dtype, same element count, row-major
// contiguous on both sides, so the local bytes are identical on every rank whatever the
// sharding. The plan emitter gives such an output its input's arena offset (docs/plan-format.md,
// "Arena aliasing") and the kernels skip the copy when the pointers are equal. One list for the
// compiler's planners, plan validation and `tessera inspect`.
#pragma once
#include <algorithm>
#include <string_view>
#include <vector>

namespace tessera {

inline constexpr const char* kReshapeLikeOps[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                                  "Identity"};

inline bool is_reshape_like_op(std::string_view op) {
  for (const char* c : kReshapeLikeOps)
    if (op == c) return true;
  return false;
}

// Folds every aliased id's lifetime into its root's (first = min, last = max) so the root
// stands for the group's one buffer; ids with first < 0 (never used) are left alone. `roots`
// per id: the id whose buffer it shares, itself otherwise. Members then take no bytes of their
// own: callers skip ids whose root is not themselves. Used over plan tensors and IR values.
inline void merge_alias_lifetimes(const std::vector<int>& roots, std::vector<int>& first,
                                  std::vector<int>& last) {
  for (size_t v = 0; v < roots.size(); ++v) {
    const int r = roots[v];
    if (r == static_cast<int>(v) || first[v] < 0) continue;
    first[r] = first[r] < 0 ? first[v] : std::min(first[r], first[v]);
    last[r] = std::max(last[r], last[v]);
  }
}

}  // namespace tessera
