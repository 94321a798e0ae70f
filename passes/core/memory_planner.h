// Arena planning: give every buffer an offset in one per-rank arena so that buffers whose
// lifetimes overlap never overlap in memory. Greedy by size, best-fit against already placed
// buffers live at the same time (the heuristic TFLite and ExecuTorch use); within a few percent
// of the lower bound (peak live bytes) on transformer graphs, O(n^2) worst case.
#pragma once
#include <cstdint>
#include <vector>

namespace tessera::core {

struct BufferLife {
  int64_t bytes = 0;
  int first = 0;  // step that writes it first (inclusive)
  int last = 0;   // step that reads it last (inclusive)
};

struct ArenaPlan {
  std::vector<int64_t> offsets;  // per buffer
  int64_t arena_bytes = 0;
  int64_t peak_live_bytes = 0;   // lower bound: max over steps of live bytes
};

// Offsets are multiples of `alignment`.
ArenaPlan plan_arena(const std::vector<BufferLife>& buffers, int64_t alignment = 64);

}  // namespace tessera::core
