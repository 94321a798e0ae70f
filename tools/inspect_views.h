// The views `tessera inspect` renders from an InspectModel. Each returns the whole text so the
// caller decides where it goes; all are deterministic (plan order, fixed number formats).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

#include "inspect_model.h"

namespace tessera::tools {

// Indices into m.ops matching --op (fnmatch over op type or node name), then the --top N most
// expensive (own seconds plus its collectives'; ties keep plan order); plan order otherwise.
std::vector<int> select_ops(const InspectModel& m, const std::string& pattern, int top);

std::string inspect_text(const InspectModel& m, const std::vector<int>& rows);
std::string inspect_json(const InspectModel& m, const std::vector<int>& rows,
                         const std::string& plan_path);
std::string plan_dot(const InspectModel& m);        // Graphviz, one cluster per layer
std::string plan_trace(const InspectModel& m);      // Chrome trace JSON, one process per rank
std::string plan_html(const InspectModel& m);       // one self-contained page, no network
std::string plan_graph_svg(const InspectModel& m);  // the page's graph (tools/html_graph.cpp)

}  // namespace tessera::tools
