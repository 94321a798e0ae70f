// Chunking (AutoChunk): compute an activation-heavy region of ops piece by piece along a
// dimension that every op of the region lets through, so the region's full-size intermediates
// are never materialised. Plain C++ over ir::Graph (local shapes after partition), no MLIR.
//
// Legality is read off the ops' factor-based sharding rules (passes/core/sharding_rules.h),
// the same table spmd-search uses: a dimension flows through an op when it maps to a parallel
// factor that may be split; a reduction factor (MatMul's k, a ReduceSum axis) or a factor that
// must stay whole (Softmax's or LayerNormalization's axis) blocks it. Splitting into chunks and
// splitting over devices are the same question, so one table answers both.
//
// The rewrite is unrolled into ordinary instructions (Slice -> region ops -> Concat per chunk):
// no loop construct in the plan, so the runtime needs no change; the arena planner reuses one
// chunk's buffers for the next. Cost: the plan grows by about (K-1)·|region| + K·|inputs| +
// |outputs| instructions per chunked region of K chunks.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/core/cluster.h"
#include "tessera/status.h"

namespace tessera::chunk {

// Local shape (after partition) or the global one before it.
const Shape& local_shape(const ir::Value& v);
int64_t local_bytes(const ir::Value& v);

// The result of tracing one dimension through a region.
struct Trace {
  bool legal = false;
  std::string why;           // first reason it is blocked (empty when legal)
  int64_t extent = 0;        // size of the chunk dimension
  std::map<int, int> dim;    // value id -> chunk dim in that value; -1 = used whole (broadcast)
  std::vector<int> inputs;   // values read by the region, produced outside it (sorted)
  std::vector<int> outputs;  // values produced by the region and used outside it (sorted)
};

// Traces dimension `d` of value `seed` (read or written by a node of `nodes`) through every node
// of the region. Legal when the dimension reaches every node, no node reduces over it or needs
// it whole, every region-produced value carries it, and no value would need two different dims.
Trace trace_dim(const ir::Graph& g, const std::vector<int>& nodes, int seed, int d);

// True when no path leaves the region and comes back (the region can run as one block).
bool is_convex(const ir::Graph& g, const std::vector<int>& nodes);

// Rewrites the region into `count` chunks (uneven last chunk allowed): Slice each chunked
// input, clone the region per chunk on chunk shapes, Concat each output back into the original
// value (its consumers are unchanged). Region-internal values are left unreferenced (the plan
// emitter skips them). Nodes are re-sorted topologically with the block where the region's last
// node was. `first`/`last` (optional) receive the block's node index range after sorting.
Status chunk_region(ir::Graph& g, const std::vector<int>& nodes, const Trace& t, int64_t count,
                    const std::string& tag, int* first = nullptr, int* last = nullptr);

// Live arena bytes per instruction step, as compiler/emit_plan.cpp plans them: non-weight
// values live from their producer (graph inputs from step 0) to their last reader (graph
// outputs to the end).
struct Liveness {
  std::vector<int64_t> live;  // per step
  int64_t peak = 0;
  int peak_step = 0;
};
Liveness liveness(const ir::Graph& g);

// Modelled seconds of the region's nodes, chunked `count` times (1 = as it is), including the
// Slice/Concat copies and a per-instruction dispatch overhead.
inline constexpr double kInstructionOverheadSeconds = 5e-6;  // kernel launch + runtime dispatch
double region_seconds(const ir::Graph& g, const std::vector<int>& nodes, const Trace& t,
                      int64_t count, const spmd::ClusterProfile& profile);
// The count among `counts` with the least modelled seconds whose modelled peak (`peak_of`)
// fits `target`; when none fits, the one with the lowest peak. Returns -1 for an empty list.
template <class PeakFn, class CostFn>
int64_t choose_count(const std::vector<int64_t>& counts, int64_t target, PeakFn peak_of,
                     CostFn cost_of) {
  int64_t best = -1, best_peak = 0;
  double best_cost = 0;
  bool best_fits = false;
  for (int64_t k : counts) {
    const int64_t p = peak_of(k);
    const double c = cost_of(k);
    const bool fits = p <= target;
    const bool better =
        best < 0 || (fits && (!best_fits || c < best_cost)) ||
        (!fits && !best_fits && (p < best_peak || (p == best_peak && c < best_cost)));
    if (better) best = k, best_peak = p, best_cost = c, best_fits = fits;
  }
  return best;
}

struct Options {
  int64_t activation_budget = 0;  // bytes of arena per rank to fit; <= 0 = chunk what helps
  int64_t force_count = 0;        // > 0: every chosen region gets this many chunks (debug)
  int max_regions = 256;
  spmd::ClusterProfile profile;
};

struct ChunkedRegion {
  std::string name;              // tag of the block: "chunk<N>"
  std::vector<std::string> ops;  // names of the original nodes
  std::string seed;              // the large value the region was grown around
  int dim = 0;                   // chunk dim of the seed
  int64_t count = 0;
  int64_t peak_before = 0, peak_after = 0;  // whole-graph arena peak around the choice
  double added_seconds = 0;
};

struct Report {
  int64_t peak_before = 0, peak_after = 0;
  double added_seconds = 0;
  std::vector<ChunkedRegion> regions;
};

// FusedAttention(Grad) nodes chunk their query rows inside the op (attribute `chunk`): while
// the arena peak is over `target` and sits at such a node, halve its rows (not below
// `min_rows`). Appends one region per node it touched (name "attention<N>", dim = the query
// dim, count = chunks) and sets rep.peak_before and peak_after. Runs before auto_chunk, which
// then sees the smaller scratch.
Status chunk_attention(ir::Graph& g, int64_t target, int64_t min_rows, Report& rep);
int64_t attention_rows(const ir::Graph& g, const ir::Node& n);  // rows per chunk of a node
// Sets a FusedAttention(Grad) node's rows per chunk and resizes its ws outputs.
void set_attention_rows(ir::Graph& g, ir::Node& n, int64_t rows);
// --chunk-count N (tests): every fused attention node computes its queries in N chunks.
void force_attention_chunks(ir::Graph& g, int64_t count, Report& rep);

// Repeatedly: find the activation peak, grow candidate regions around the largest values live
// there, trace each of their dims, pick the chunk count, apply the best. Stops when the peak
// fits the budget or no candidate lowers the memory over the budget.
StatusOr<Report> auto_chunk(ir::Graph& g, const Options& o);

}  // namespace tessera::chunk
