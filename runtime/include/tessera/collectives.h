// The communication ops that resharding inserts and plans carry as instructions (semantics in
// runtime/schema/plan.proto). One list for the compiler, the runtime's tools and the dialect.
#pragma once
#include <string_view>

namespace tessera {

inline constexpr const char* kCollectiveOps[] = {"AllReduce",  "AllGather",  "ReduceScatter",
                                                 "AllToAll",   "ShardSlice", "MakePartial"};

inline bool is_collective_op(std::string_view op) {
  for (const char* c : kCollectiveOps)
    if (op == c) return true;
  return false;
}

}  // namespace tessera
