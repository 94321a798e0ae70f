// Query-row chunks of FusedAttention(Grad) nodes: the fused ops compute R rows at a time with
// an [..,R,Sk] scratch (their ws outputs, ir/attention_ops.h), so fitting the budget is a
// matter of lowering R on the nodes whose scratch is live at the peak, with no graph rewrite
// and no copies. Cost: the kernels launch 3 (forward) or 7 (grad) steps per chunk; the bytes
// and flops do not change with R, so the only modelled cost is that dispatch overhead.
#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "ir/attention_ops.h"
#include "passes/core/chunk.h"

namespace tessera::chunk {
namespace {

bool is_attention(const ir::Node& n) {
  return n.op == "FusedAttention" || n.op == "FusedAttentionGrad";
}

double launches(const ir::Node& n) { return n.op == "FusedAttention" ? 3 : 7; }

// Sq of the node's local q ([..,Sq,D], or [..,Sq,H,D] under layout bshd).
int64_t query_rows(const ir::Graph& g, const ir::Node& n) {
  const Shape& q = local_shape(g.values[n.inputs[0]]);
  return q[ir::attention_seq_dim(n.attrs, q.size())];
}

ChunkedRegion region_of(const ir::Graph& g, const ir::Node& n, int index) {
  ChunkedRegion r;
  r.name = "attention" + std::to_string(index);
  r.ops = {n.name};
  r.seed = g.values[n.outputs[1]].name;
  r.dim = ir::attention_seq_dim(n.attrs, local_shape(g.values[n.inputs[0]]).size());
  return r;
}

}  // namespace

void set_attention_rows(ir::Graph& g, ir::Node& n, int64_t rows) {
  n.attrs["chunk"] = Attr::Int(rows);
  for (size_t o = n.op == "FusedAttention" ? 1 : 3; o < n.outputs.size(); ++o) {
    ir::Value& ws = g.values[n.outputs[o]];
    ws.shape[ws.shape.size() - 2] = rows;
    if (!ws.local_shape.empty()) ws.local_shape[ws.local_shape.size() - 2] = rows;
  }
}

void force_attention_chunks(ir::Graph& g, int64_t count, Report& rep) {
  rep.peak_before = liveness(g).peak;
  for (ir::Node& n : g.nodes) {
    if (!is_attention(n)) continue;
    const int64_t sq = query_rows(g, n), rows = (sq + count - 1) / count;
    if (rows >= sq) continue;
    set_attention_rows(g, n, rows);
    ChunkedRegion r = region_of(g, n, static_cast<int>(rep.regions.size()));
    r.count = (sq + rows - 1) / rows;
    rep.regions.push_back(r);
  }
  rep.peak_after = liveness(g).peak;
  for (auto& r : rep.regions) r.peak_before = rep.peak_before, r.peak_after = rep.peak_after;
}

int64_t attention_rows(const ir::Graph& g, const ir::Node& n) {
  return ir::attention_chunk_rows(n.attrs, query_rows(g, n));
}

Status chunk_attention(ir::Graph& g, int64_t target, int64_t min_rows, Report& rep) {
  Liveness cur = liveness(g);
  rep.peak_before = cur.peak;
  if (std::getenv("TSR_CHUNK_DEBUG") && cur.peak_step < static_cast<int>(g.nodes.size()))
    std::fprintf(stderr, "chunk: peak %lld bytes at step %d (%s '%s')\n",
                 static_cast<long long>(cur.peak), cur.peak_step, g.nodes[cur.peak_step].op.c_str(),
                 g.nodes[cur.peak_step].name.c_str());
  while (cur.peak > target && cur.peak_step < static_cast<int>(g.nodes.size())) {
    ir::Node& n = g.nodes[cur.peak_step];
    const int64_t rows = is_attention(n) ? attention_rows(g, n) : 0;
    if (rows <= min_rows) break;  // the peak is elsewhere, or this scratch is at its floor
    const int64_t sq = query_rows(g, n);
    const int64_t before = (sq + rows - 1) / rows;
    const int64_t next = std::max(min_rows, (rows + 1) / 2);
    set_attention_rows(g, n, next);
    const int64_t after = (sq + next - 1) / next;
    const double added =
        launches(n) * static_cast<double>(after - before) * kInstructionOverheadSeconds;
    const Liveness now = liveness(g);
    auto it = std::find_if(rep.regions.begin(), rep.regions.end(),
                           [&](const ChunkedRegion& r) { return r.ops[0] == n.name; });
    if (it == rep.regions.end()) {
      ChunkedRegion r = region_of(g, n, static_cast<int>(rep.regions.size()));
      r.peak_before = cur.peak;
      rep.regions.push_back(r);
      it = rep.regions.end() - 1;
    }
    it->count = after;
    it->peak_after = now.peak;
    it->added_seconds += added;
    rep.added_seconds += added;
    cur = now;
  }
  rep.peak_after = cur.peak;
  return Status::Ok();
}

}  // namespace tessera::chunk
