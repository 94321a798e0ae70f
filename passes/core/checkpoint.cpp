#include "passes/core/checkpoint.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <map>

namespace tessera::core {
namespace {

// Segments of a plan: [first, last] with the run flag. A run ends where the next stage is kept
// or where `run_end` marks it (two adjacent runs keep the boundary between them).
struct Segment {
  int first, last;
  bool run;
};

std::vector<Segment> segments(const std::vector<bool>& rec, const std::vector<bool>& run_end) {
  std::vector<Segment> s;
  const int n = static_cast<int>(rec.size());
  for (int i = 0; i < n;) {
    if (!rec[i]) {
      s.push_back({i, i, false});
      ++i;
      continue;
    }
    int j = i;
    while (j + 1 < n && rec[j + 1] && !run_end[j]) ++j;
    s.push_back({i, j, true});
    i = j + 1;
  }
  return s;
}

// The plan's masks travel as one vector: recompute flags, then run-end flags.
struct Mask {
  std::vector<bool> rec, end;
};

Mask split(const CkptProblem& p, const std::vector<bool>& v) {
  const size_t n = p.stages.size();
  Mask m{std::vector<bool>(v.begin(), v.begin() + std::min(n, v.size())), {}};
  m.rec.resize(n, false);
  m.end.assign(n, false);
  for (size_t i = n; i < v.size() && i - n < n; ++i) m.end[i - n] = v[i];
  return m;
}

int64_t stored_bytes(const CkptProblem& p, const std::vector<Segment>& segs, size_t k) {
  const Segment& s = segs[k];
  const bool next_run = k + 1 < segs.size() && segs[k + 1].run;
  const CkptStage& last = p.stages[s.last];
  if (!s.run) return last.saved + (next_run ? last.out_extra : 0);
  return k + 1 < segs.size() ? last.out : 0;
}

struct Entry {
  double cost;
  int64_t req;
  int last;  // last stage of the first segment
  int next;  // front entry index at last + 1 (flag packed in `next_run`)
  bool next_run;
};

// Pareto set: req ascending, cost strictly descending. Past `cap` entries, one per req bucket.
std::vector<Entry> prune(std::vector<Entry> v, size_t cap) {
  std::sort(v.begin(), v.end(), [](const Entry& a, const Entry& b) {
    if (a.req != b.req) return a.req < b.req;
    if (a.cost != b.cost) return a.cost < b.cost;
    return a.last < b.last;
  });
  std::vector<Entry> out;
  for (const Entry& e : v)
    if (out.empty() || e.cost < out.back().cost) out.push_back(e);
  if (out.size() <= cap) return out;
  const double lo = static_cast<double>(out.front().req), hi = static_cast<double>(out.back().req);
  std::vector<Entry> b;
  int64_t bucket = -1;
  for (const Entry& e : out) {
    const auto k = static_cast<int64_t>((static_cast<double>(e.req) - lo) / (hi - lo) * cap);
    if (k != bucket) b.push_back(e), bucket = k;
  }
  return b;
}

struct Dp {
  const CkptProblem& p;
  // fronts[i][f]: suffix i.. whose first segment is kept (f = 0) or a run (f = 1).
  std::vector<std::array<std::vector<Entry>, 2>> fronts;

  explicit Dp(const CkptProblem& pr) : p(pr) {
    const int n = static_cast<int>(p.stages.size());
    fronts.resize(n + 1);
    fronts[n][0] = {{0.0, 0, n, -1, false}};
    for (int i = n - 1; i >= 0; --i) {
      const CkptStage& s = p.stages[i];
      std::vector<Entry> keep, run;
      for (int f = 0; f < 2; ++f)
        for (size_t k = 0; k < fronts[i + 1][f].size(); ++k) {
          const Entry& e = fronts[i + 1][f][k];
          const int64_t stored = s.saved + (f ? s.out_extra : 0);
          keep.push_back(
              {e.cost, std::max(s.saved + s.temp, stored + e.req), i, static_cast<int>(k), f == 1});
        }
      int64_t acc = 0, local = 0;
      double secs = 0;
      for (int r = i; r < n; ++r) {
        acc += p.stages[r].saved;
        local = std::max(local, acc + p.stages[r].temp);
        secs += p.stages[r].seconds;
        const int64_t stored = r + 1 < n ? p.stages[r].out : 0;
        for (int f = 0; f < 2; ++f)
          for (size_t k = 0; k < fronts[r + 1][f].size(); ++k) {
            const Entry& e = fronts[r + 1][f][k];
            run.push_back(
                {e.cost + secs, std::max(local, stored + e.req), r, static_cast<int>(k), f == 1});
          }
      }
      fronts[i][0] = prune(std::move(keep), 256);
      fronts[i][1] = prune(std::move(run), 256);
    }
  }

  // Cheapest entry of the whole chain with fixed + req <= budget: (flag, index) or (-1, -1).
  std::pair<int, int> best(int64_t budget) const {
    std::pair<int, int> b{-1, -1};
    double cost = 0;
    for (int f = 0; f < 2; ++f)
      for (size_t k = 0; k < fronts[0][f].size(); ++k) {
        const Entry& e = fronts[0][f][k];
        if (p.fixed + e.req > budget || p.floor > budget) continue;
        if (b.first < 0 || e.cost < cost) b = {f, static_cast<int>(k)}, cost = e.cost;
      }
    return b;
  }

  std::vector<bool> mask(std::pair<int, int> at) const {
    const size_t n = p.stages.size();
    std::vector<bool> v(2 * n, false);
    int i = 0, f = at.first, k = at.second;
    while (i < static_cast<int>(n)) {
      const Entry& e = fronts[i][f][k];
      for (int j = i; j <= e.last; ++j) v[j] = f == 1;
      if (f == 1) v[n + e.last] = true;
      i = e.last + 1;
      f = e.next_run ? 1 : 0;
      k = e.next;
    }
    return v;
  }
};

std::string mib(int64_t b) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f MiB (%lld bytes)", static_cast<double>(b) / (1 << 20),
                static_cast<long long>(b));
  return buf;
}

}  // namespace

int64_t ckpt_peak(const CkptProblem& p, const std::vector<bool>& v) {
  const Mask m = split(p, v);
  const auto segs = segments(m.rec, m.end);
  int64_t prefix = p.fixed, peak = p.fixed;
  for (size_t k = 0; k < segs.size(); ++k) {
    int64_t acc = 0;
    for (int j = segs[k].first; j <= segs[k].last; ++j) {
      acc += p.stages[j].saved;
      peak = std::max(peak, prefix + acc + p.stages[j].temp);
    }
    prefix += stored_bytes(p, segs, k);
  }
  return std::max({peak, prefix, p.floor});
}

int64_t ckpt_simulate_peak(const CkptProblem& p, const std::vector<bool>& v) {
  const Mask m = split(p, v);
  const auto segs = segments(m.rec, m.end);
  const int n = static_cast<int>(p.stages.size());
  // Named blocks: ('S', i) saved values of stage i, ('B', i) boundary held after stage i.
  std::map<std::pair<char, int>, int64_t> live;
  int64_t peak = p.fixed;
  auto total = [&] {
    int64_t t = p.fixed;
    for (const auto& kv : live) t += kv.second;
    return t;
  };
  std::vector<int> seg_of(n);
  for (size_t k = 0; k < segs.size(); ++k)
    for (int j = segs[k].first; j <= segs[k].last; ++j) seg_of[j] = static_cast<int>(k);
  // Forward: kept stages hold their saved values; whatever a recomputation restarts from stays.
  for (size_t k = 0; k < segs.size(); ++k) {
    const Segment& s = segs[k];
    const bool next_run = k + 1 < segs.size() && segs[k + 1].run;
    if (!s.run) live[{'S', s.first}] = p.stages[s.first].saved;
    if (!s.run && next_run) live[{'B', s.last}] = p.stages[s.last].out_extra;
    if (s.run && k + 1 < segs.size()) live[{'B', s.last}] = p.stages[s.last].out;
    peak = std::max(peak, total());
  }
  // Backward, last stage first. A run is replayed when its last stage's backward comes up.
  for (int i = n - 1; i >= 0; --i) {
    const Segment& s = segs[seg_of[i]];
    live.erase({'B', i});  // the boundary after i: consumed by the replay above, or by nothing
    if (s.run && i == s.last)
      for (int j = s.first; j <= s.last; ++j) live[{'S', j}] = p.stages[j].saved;
    peak = std::max(peak, total() + p.stages[i].temp);
    live.erase({'S', i});
  }
  return std::max(peak, p.floor);
}

CkptPlan ckpt_evaluate(const CkptProblem& p, std::vector<bool> v) {
  const size_t n = p.stages.size();
  v.resize(2 * n, false);
  CkptPlan plan;
  plan.peak = ckpt_peak(p, v);
  const Mask m = split(p, v);
  const auto segs = segments(m.rec, m.end);
  for (size_t k = 0; k < segs.size(); ++k) plan.saved += stored_bytes(p, segs, k);
  for (size_t i = 0; i < n; ++i)
    if (m.rec[i]) plan.recompute_seconds += p.stages[i].seconds;
  plan.recompute = std::move(v);
  return plan;
}

StatusOr<CkptPlan> ckpt_optimal(const CkptProblem& p, int64_t budget) {
  Dp dp(p);
  auto at = dp.best(budget);
  if (at.first < 0)
    return InvalidArgument("checkpoint: no recomputation schedule fits the memory budget of " +
                           mib(budget) + "; the smallest budget that fits is " +
                           mib(ckpt_min_budget(p)));
  return ckpt_evaluate(p, dp.mask(at));
}

int64_t ckpt_min_budget(const CkptProblem& p) {
  Dp dp(p);
  int64_t best = INT64_MAX;
  for (int f = 0; f < 2; ++f)
    for (const Entry& e : dp.fronts[0][f]) best = std::min(best, p.fixed + e.req);
  return std::max(best, p.floor);
}

StatusOr<CkptPlan> ckpt_exhaustive(const CkptProblem& p, int64_t budget) {
  const int n = static_cast<int>(p.stages.size());
  if (n > 13) return InvalidArgument("checkpoint: exhaustive search is for chains of <= 13 stages");
  // Per stage: kept, in a run, or ending a run (3^n). Run-end on a kept stage is meaningless.
  std::vector<int> digit(n, 0);
  bool found = false;
  CkptPlan best;
  int64_t least = INT64_MAX;
  for (;;) {
    std::vector<bool> v(2 * n, false);
    for (int i = 0; i < n; ++i) v[i] = digit[i] > 0, v[n + i] = digit[i] == 2;
    CkptPlan c = ckpt_evaluate(p, v);
    least = std::min(least, c.peak);
    if (c.peak <= budget && (!found || c.recompute_seconds < best.recompute_seconds))
      best = c, found = true;
    int i = 0;
    while (i < n && ++digit[i] == 3) digit[i++] = 0;
    if (i == n) break;
  }
  if (!found)
    return InvalidArgument("checkpoint: nothing fits; the smallest budget that fits is " +
                           mib(least));
  return best;
}

CkptPlan ckpt_none(const CkptProblem& p) { return ckpt_evaluate(p, {}); }

CkptPlan ckpt_every_layer(const CkptProblem& p) {
  const size_t n = p.stages.size();
  std::vector<bool> v(2 * n, false);
  for (size_t i = 0; i < n; ++i) {
    v[i] = p.stages[i].layer >= 0;
    v[n + i] = v[i] && (i + 1 == n || p.stages[i + 1].layer != p.stages[i].layer);
  }
  return ckpt_evaluate(p, v);
}

CkptPlan ckpt_sqrt_n(const CkptProblem& p) {
  const size_t n = p.stages.size();
  std::vector<bool> v(2 * n, true);
  if (n == 0) return ckpt_evaluate(p, v);
  double total = 0;
  for (const auto& s : p.stages) total += s.seconds;
  const double segs = std::ceil(std::sqrt(static_cast<double>(n)));
  double acc = 0;
  int next = 1;
  for (size_t i = 0; i < n; ++i) {
    acc += p.stages[i].seconds;
    const bool cut =
        total > 0 ? acc >= total * next / segs : static_cast<double>(i + 1) >= n * next / segs;
    v[n + i] = cut || i + 1 == n;
    if (cut) ++next;
  }
  return ckpt_evaluate(p, v);
}

}  // namespace tessera::core
