// chunk: split activation-heavy regions along a free dimension (passes/core/chunk.h) until the
// per-rank arena fits the memory budget left after weights. Runs after partition, on local
// shapes, so it composes with sharding; in train mode forward and backward regions are chosen
// independently (a region never spans both: it would not be convex). Options come from the
// graph's meta so tessera-opt sees what the driver gives: `chunk` ("auto" | "none") and
// `chunk_count` (> 0 forces that many chunks per chosen region, a debug and test knob).
// Records what it did in meta `chunk.regions` (one line per region) for `inspect`.
#include <cstdio>
#include <cstdlib>

#include "passes/core/chunk.h"
#include "passes/pipeline.h"

namespace tessera::passes {
namespace {

// Below 16 query rows per chunk the per-chunk GEMMs get too thin to run near peak.
constexpr int64_t kMinAttentionRows = 16;

}  // namespace

Status run_chunk(ir::Graph& g, PipelineContext& ctx) {
  const std::string mode = attr_str(g.meta, "chunk", "auto");
  if (mode == "none") return Status::Ok();
  if (mode != "auto") return InvalidArgument("--chunk '" + mode + "': expected auto or none");
  chunk::Options o;
  o.profile = ctx.cluster;
  o.force_count = attr_int(g.meta, "chunk_count", 0);
  int64_t weights = 0;
  for (const ir::Value& v : g.values)
    if (v.kind == ir::ValueKind::kWeight || v.kind == ir::ValueKind::kConstant)
      weights += chunk::local_bytes(v);
  // A budget below the weights cannot be met by chunking; aim for the smallest arena then.
  // `chunk_budget` (--chunk-budget) lets chunking aim below what spmd-search was held to:
  // the search must find a plan before chunking exists to make it fit.
  const int64_t budget = attr_int(g.meta, "chunk_budget", ctx.memory_budget);
  o.activation_budget = std::max<int64_t>(1, budget - weights);
  // Fused attention chunks its query rows in place first (no copies), then regions are cut.
  chunk::Report att;
  if (o.force_count > 0) {
    chunk::force_attention_chunks(g, o.force_count, att);
  } else {
    TSR_RETURN_IF_ERROR(chunk::chunk_attention(g, o.activation_budget, kMinAttentionRows, att));
  }
  TSR_ASSIGN_OR_RETURN(chunk::Report rep, chunk::auto_chunk(g, o));
  if (!att.regions.empty()) {
    rep.regions.insert(rep.regions.begin(), att.regions.begin(), att.regions.end());
    rep.peak_before = att.peak_before;
    rep.added_seconds += att.added_seconds;
  }
  std::vector<std::string> lines;
  for (const chunk::ChunkedRegion& r : rep.regions) {
    char buf[256];
    if (r.name.rfind("attention", 0) == 0)
      std::snprintf(buf, sizeof buf,
                    "%s: fused attention '%s' query rows (dim %d) in %lld chunks, peak %lld -> "
                    "%lld bytes, +%.3g s",
                    r.name.c_str(), r.ops[0].c_str(), r.dim, static_cast<long long>(r.count),
                    static_cast<long long>(r.peak_before), static_cast<long long>(r.peak_after),
                    r.added_seconds);
    else
      std::snprintf(buf, sizeof buf,
                  "%s: %zu ops around '%s' dim %d, %lld chunks, peak %lld -> %lld "
                  "bytes, +%.3g s",
                  r.name.c_str(), r.ops.size(), r.seed.c_str(), r.dim,
                  static_cast<long long>(r.count), static_cast<long long>(r.peak_before),
                  static_cast<long long>(r.peak_after), r.added_seconds);
    lines.push_back(buf);
    if (std::getenv("TSR_CHUNK_DEBUG")) std::fprintf(stderr, "%s\n", buf);
  }
  if (!rep.regions.empty()) {
    g.meta["chunk.regions"] = Attr::Strs(lines);
    g.meta["chunk.peak_before"] = Attr::Int(rep.peak_before);
    g.meta["chunk.peak_after"] = Attr::Int(rep.peak_after);
    g.meta["chunk.added_seconds"] = Attr::Float(rep.added_seconds);
  }
  ctx.modelled_step_seconds += rep.added_seconds;
  return Status::Ok();
}

}  // namespace tessera::passes
