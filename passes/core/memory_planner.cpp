#include "passes/core/memory_planner.h"

#include <algorithm>
#include <numeric>

namespace tessera::core {
namespace {

int64_t align_up(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

bool overlaps(const BufferLife& a, const BufferLife& b) {
  return a.first <= b.last && b.first <= a.last;
}

int64_t peak_live(const std::vector<BufferLife>& bufs) {
  int steps = 0;
  for (const auto& b : bufs) steps = std::max(steps, b.last + 1);
  std::vector<int64_t> delta(steps + 1, 0);
  for (const auto& b : bufs) {
    delta[b.first] += b.bytes;
    delta[b.last + 1] -= b.bytes;
  }
  int64_t live = 0, peak = 0;
  for (int64_t d : delta) peak = std::max(peak, live += d);
  return peak;
}

}  // namespace

ArenaPlan plan_arena(const std::vector<BufferLife>& buffers, int64_t alignment) {
  ArenaPlan plan;
  plan.offsets.assign(buffers.size(), 0);
  std::vector<size_t> order(buffers.size());
  std::iota(order.begin(), order.end(), 0);
  // Largest first; ties by first use then index, so the plan is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (buffers[a].bytes != buffers[b].bytes) return buffers[a].bytes > buffers[b].bytes;
    return buffers[a].first < buffers[b].first;
  });
  std::vector<size_t> placed;
  for (size_t i : order) {
    const BufferLife& b = buffers[i];
    int64_t need = align_up(std::max<int64_t>(b.bytes, 1), alignment);
    // Intervals occupied by live-overlapping placed buffers, sorted by offset.
    std::vector<std::pair<int64_t, int64_t>> busy;
    for (size_t j : placed)
      if (overlaps(b, buffers[j]))
        busy.push_back({plan.offsets[j], plan.offsets[j] + align_up(buffers[j].bytes, alignment)});
    std::sort(busy.begin(), busy.end());
    int64_t best = -1, best_gap = INT64_MAX, cursor = 0;
    for (const auto& [lo, hi] : busy) {
      if (lo - cursor >= need && lo - cursor < best_gap) {
        best = cursor;
        best_gap = lo - cursor;
      }
      cursor = std::max(cursor, hi);
    }
    plan.offsets[i] = best >= 0 ? best : cursor;
    plan.arena_bytes = std::max(plan.arena_bytes, plan.offsets[i] + need);
    placed.push_back(i);
  }
  plan.peak_live_bytes = peak_live(buffers);
  return plan;
}

}  // namespace tessera::core
