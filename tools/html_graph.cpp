// The HTML page's graph: a layered layout computed here (no Graphviz at view time, no script):
// an instruction's row is one more than its deepest producer's, columns fill left to right in
// plan order. Good enough for transformer stacks, which are nearly chains; --dot gives
// Graphviz's crossing-minimising layout for anything bigger.
#include <algorithm>
#include <cstdio>

#include "inspect_format.h"
#include "inspect_views.h"

namespace tessera::tools {
namespace {

constexpr int kW = 170, kH = 34, kGapX = 14, kGapY = 22, kMargin = 10;

const char* fill(const InspectModel& m, int ins) {
  const int c = m.collective_of_instruction[ins];
  if (c < 0) return "#f5f5f5";
  const std::string& op = m.collectives[c].op;
  if (op == "AllReduce") return "#f4b6bb";
  if (op == "AllGather") return "#b7d7f7";
  if (op == "ReduceScatter") return "#e2c4ef";
  if (op == "AllToAll") return "#f4e2b4";
  return "#dddddd";
}

std::string shorten(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(0, n - 1) + "~";
}

}  // namespace

std::string plan_graph_svg(const InspectModel& m) {
  const plan::Plan& p = *m.plan;
  const int n = p.instructions_size();
  std::vector<int> producer(p.tensors_size(), -1), row(n, 0), col(n, 0);
  int rows = 0, cols = 0;
  std::vector<int> used;
  for (int i = 0; i < n; ++i) {
    for (int t : p.instructions(i).inputs())
      if (t >= 0 && producer[t] >= 0) row[i] = std::max(row[i], row[producer[t]] + 1);
    for (int t : p.instructions(i).outputs()) producer[t] = i;
    if (static_cast<int>(used.size()) <= row[i]) used.resize(row[i] + 1, 0);
    col[i] = used[row[i]]++;
    rows = std::max(rows, row[i] + 1);
    cols = std::max(cols, col[i] + 1);
  }
  auto cx = [&](int i) { return kMargin + col[i] * (kW + kGapX) + kW / 2; };
  auto ty = [&](int i) { return kMargin + row[i] * (kH + kGapY); };
  const int width = 2 * kMargin + cols * (kW + kGapX), height = 2 * kMargin + rows * (kH + kGapY);
  std::string s = "<svg id=\"graph\" width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\" role=\"img\">\n<g stroke=\"#999\">\n";
  char buf[320];  // the longest line (a polygon of 12 ints and a colour) is under 200
  std::fill(producer.begin(), producer.end(), -1);
  for (int i = 0; i < n; ++i) {
    for (int t : p.instructions(i).inputs())
      if (t >= 0 && producer[t] >= 0) {
        std::snprintf(buf, sizeof buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                      cx(producer[t]), ty(producer[t]) + kH, cx(i), ty(i));
        s += buf;
      }
    for (int t : p.instructions(i).outputs()) producer[t] = i;
  }
  s += "</g>\n";
  for (int i = 0; i < n; ++i) {
    const auto& ins = p.instructions(i);
    const bool coll = m.collective_of_instruction[i] >= 0;
    const int x = cx(i) - kW / 2, y = ty(i);
    std::string title = ins.op() + " " + ins.node();
    if (coll) {
      const CollectiveRow& c = m.collectives[m.collective_of_instruction[i]];
      title += ": " + human_bytes(c.bytes) + ", " + human_seconds(c.seconds);
    } else {
      title += ": " + ins.strategy() + ", " + human_seconds(ins.modelled_seconds());
    }
    s += "<g class=\"" + std::string(coll ? "node collective" : "node kernel") + "\"><title>" +
         html_escape(title) + "</title>";
    if (coll)
      std::snprintf(buf, sizeof buf,
                    "<polygon points=\"%d,%d %d,%d %d,%d %d,%d %d,%d %d,%d\" fill=\"%s\" "
                    "stroke=\"#555\"/>",
                    x, y + kH / 2, x + 12, y, x + kW - 12, y, x + kW, y + kH / 2, x + kW - 12,
                    y + kH, x + 12, y + kH, fill(m, i));
    else
      std::snprintf(buf, sizeof buf,
                    "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" rx=\"5\" fill=\"%s\" "
                    "stroke=\"#555\"/>",
                    x, y, kW, kH, fill(m, i));
    s += buf;
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%d\" y=\"%d\" font-size=\"11\" "
                  "text-anchor=\"middle\" font-weight=\"600\">",
                  cx(i), y + 14);
    s += buf + html_escape(ins.op()) + "</text>";
    std::snprintf(buf, sizeof buf,
                  "<text x=\"%d\" y=\"%d\" font-size=\"9\" "
                  "text-anchor=\"middle\">",
                  cx(i), y + 27);
    s += buf + html_escape(shorten(ins.node(), 30)) + "</text></g>\n";
  }
  return s + "</svg>\n";
}

}  // namespace tessera::tools
