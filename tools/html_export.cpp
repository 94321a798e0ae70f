// `tessera inspect --html FILE`: one self-contained page (inline CSS, script and SVG; no URL
// anywhere, so it opens offline and sends no request): the summary, a sortable op table, the
// memory-over-time plot and the graph. The plot and the graph are SVG laid out here rather than
// by a script, so they render without JavaScript and tests can query them in the DOM.
#include <algorithm>
#include <cstdio>

#include "inspect_format.h"
#include "inspect_views.h"

namespace tessera::tools {
namespace {

// The graph is skipped above this many instructions: the SVG would be megabytes and unreadable.
constexpr int kMaxGraphNodes = 3000;

const char* kStyle = R"(<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;white-space:nowrap}
th{background:#f0f0f0;cursor:pointer;user-select:none}
th.asc::after{content:" \25B2"}th.desc::after{content:" \25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}
svg text{font-family:system-ui,sans-serif}
.coll{color:#b03030}
</style>
)";

// Click a header: sort by that column (numbers by data-v), again to reverse.
const char* kScript = R"(<script>
document.querySelectorAll('table.sortable th').forEach(function(th, col) {
  th.addEventListener('click', function() {
    var table = th.closest('table'), body = table.tBodies[0];
    var asc = !th.classList.contains('asc');
    table.querySelectorAll('th').forEach(function(h) { h.classList.remove('asc', 'desc'); });
    th.classList.add(asc ? 'asc' : 'desc');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b) {
      var x = a.cells[col], y = b.cells[col];
      var u = x.dataset.v !== undefined ? parseFloat(x.dataset.v) : x.textContent;
      var v = y.dataset.v !== undefined ? parseFloat(y.dataset.v) : y.textContent;
      var c = u < v ? -1 : u > v ? 1 : 0;
      return asc ? c : -c;
    });
    rows.forEach(function(r) { body.appendChild(r); });
  });
});
// A link can carry the order: report.html#sort=8-desc sorts column 8 (from 0) descending.
var m = /^#sort=(\d+)(-desc)?$/.exec(location.hash);
if (m) {
  var th = document.querySelectorAll('#ops th')[+m[1]];
  if (th) { th.click(); if (m[2]) th.click(); }
}
</script>
)";

std::string num_cell(double v, const std::string& text) {
  return "<td class=\"num\" data-v=\"" + json_num(v) + "\">" + html_escape(text) + "</td>";
}

std::string td(const std::string& text) { return "<td>" + html_escape(text) + "</td>"; }

std::string summary(const InspectModel& m) {
  const MemoryBreakdown& mem = m.memory;
  auto row = [](const std::string& k, const std::string& v) {
    return "<dt>" + html_escape(k) + "</dt><dd>" + html_escape(v) + "</dd>\n";
  };
  std::string s = "<dl id=\"summary\">\n";
  s += row("model", m.model + " (" + (m.mode.empty() ? "infer" : m.mode) + "), " + m.producer);
  s += row("mesh", (m.mesh.empty() ? "single device" : m.mesh) + ", " + std::to_string(m.ranks) +
                       " ranks, cluster " + m.cluster);
  s += row("parameters", std::to_string(m.parameters));
  s += row("modelled step", human_seconds(m.step_seconds()) + " = compute " +
                                human_seconds(m.compute_seconds) + " + exposed comm " +
                                human_seconds(m.comm_seconds) + " + recompute " +
                                human_seconds(m.recompute_seconds));
  s += row("peak memory per device",
           human_bytes(mem.peak_per_device()) + " = parameters " + human_bytes(mem.parameters) +
               " + gradients " + human_bytes(mem.gradients) + " + optimizer state " +
               human_bytes(mem.optimizer_state) + " + activations " + human_bytes(mem.activations) +
               " + temporaries " + human_bytes(mem.temporaries) + " + fragmentation " +
               human_bytes(mem.fragmentation()));
  s += row("instructions", std::to_string(m.plan->instructions_size()) + " (" +
                               std::to_string(m.collectives.size()) + " collectives)");
  return s + "</dl>\n";
}

std::string op_table(const InspectModel& m) {
  std::string s =
      "<table id=\"ops\" class=\"sortable\"><thead><tr><th>#</th><th>node</th><th>op</th>"
      "<th>layer</th><th>strategy</th><th>output shape</th><th>input specs</th>"
      "<th>output specs</th><th>time</th><th>collectives</th><th>comm bytes</th>"
      "<th>comm time</th><th>output bytes</th></tr></thead><tbody>\n";
  for (const OpRow& r : m.ops) {
    std::string ins, outs, colls;
    for (const auto& t : r.inputs)
      if (t.id >= 0) ins += (ins.empty() ? "" : " ") + t.spec;
    for (const auto& t : r.outputs) outs += (outs.empty() ? "" : " ") + t.spec;
    for (int c : r.collectives) {
      const CollectiveRow& cr = m.collectives[c];
      std::string axes;
      for (const auto& a : cr.axes) axes += (axes.empty() ? "" : ",") + a;
      colls += (colls.empty() ? "" : " ") + cr.op + "{" + axes + "}";
    }
    s += "<tr>" + num_cell(r.instruction, std::to_string(r.instruction)) + td(r.node) + td(r.op) +
         td(r.layer) + td(r.strategy) + td(r.outputs.empty() ? "" : r.outputs[0].shape) + td(ins) +
         td(outs) + num_cell(r.seconds, human_seconds(r.seconds)) + "<td class=\"coll\">" +
         html_escape(colls) + "</td>" +
         num_cell(static_cast<double>(r.comm_bytes), human_bytes(r.comm_bytes)) +
         num_cell(r.comm_seconds, human_seconds(r.comm_seconds)) +
         num_cell(static_cast<double>(r.output_bytes), human_bytes(r.output_bytes)) + "</tr>\n";
  }
  return s + "</tbody></table>\n";
}

// Live bytes (arena + weights) per instruction step as a step line, with the peak marked.
std::string memory_plot(const InspectModel& m) {
  const int w = 900, h = 260, left = 70, bottom = 30, top = 10;
  const size_t n = m.live_arena.size();
  int64_t peak = m.memory.weight_bytes + m.memory.peak_live_arena;
  if (peak <= 0) peak = 1;
  auto x = [&](size_t i) { return left + (n ? static_cast<double>(i) * (w - left - 10) / n : 0); };
  auto y = [&](int64_t b) {
    return top + (h - top - bottom) * (1.0 - static_cast<double>(b) / static_cast<double>(peak));
  };
  char buf[96];
  std::string pts;
  for (size_t i = 0; i < n; ++i) {
    const int64_t b = m.live_arena[i] + m.memory.weight_bytes;
    std::snprintf(buf, sizeof buf, "%.1f,%.1f %.1f,%.1f ", x(i), y(b), x(i + 1), y(b));
    pts += buf;
  }
  std::string s = "<svg id=\"memory-plot\" width=\"" + std::to_string(w) + "\" height=\"" +
                  std::to_string(h) + "\" role=\"img\">\n";
  std::snprintf(buf, sizeof buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>",
                left, h - bottom, w - 10, h - bottom);
  s += buf;
  std::snprintf(buf, sizeof buf,
                "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#444\"/>\n", left, top,
                left, h - bottom);
  s += buf;
  std::snprintf(buf, sizeof buf, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" ", left,
                y(m.memory.weight_bytes), w - 10, y(m.memory.weight_bytes));
  s += std::string(buf) + "stroke=\"#999\" stroke-dasharray=\"4 3\"/>\n";
  s += "<polyline id=\"memory-line\" fill=\"none\" stroke=\"#2a6fdb\" stroke-width=\"1.5\" "
       "points=\"" +
       pts + "\"/>\n";
  s += "<text x=\"4\" y=\"" + std::to_string(top + 10) + "\" font-size=\"11\">" +
       html_escape(human_bytes(peak)) + "</text>\n";
  s += "<text x=\"4\" y=\"" + std::to_string(h - bottom) + "\" font-size=\"11\">0</text>\n";
  s += "<text x=\"" + std::to_string(left) + "\" y=\"" + std::to_string(h - 8) +
       "\" font-size=\"11\">instruction step (0 .. " + std::to_string(n) +
       "); dashed: weights; peak at step " + std::to_string(m.memory.peak_step) + "</text>\n";
  return s + "</svg>\n";
}

}  // namespace

std::string plan_html(const InspectModel& m) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                  html_escape("tessera plan: " + m.model) + "</title>\n" + kStyle +
                  "</head>\n<body>\n";
  s += "<h1>" + html_escape("Plan: " + m.model) + "</h1>\n<h2>Summary</h2>\n" + summary(m);
  s += "<h2>Memory over the schedule (per device)</h2>\n" + memory_plot(m);
  s += "<h2>Ops</h2>\n<p>Click a column header to sort.</p>\n" + op_table(m);
  s += "<h2>Graph</h2>\n";
  if (m.plan->instructions_size() <= kMaxGraphNodes)
    s += plan_graph_svg(m);
  else
    s += "<p>Graph omitted: more than " + std::to_string(kMaxGraphNodes) +
         " instructions (use --dot).</p>\n";
  return s + kScript + "</body></html>\n";
}

}  // namespace tessera::tools
