// Which transformer layer (or block) an instruction belongs to, for grouping in the DOT graph,
// the HTML page and the JSON: "h.3", "layer.11", "layer1.0". Exporters spell layers in node
// names ("/transformer/h.3/attn/MatMul") or only in weight names ("m.transformer.h.3.attn.
// c_attn.weight", torch.export), so both are tried; an op with neither (a residual Add) belongs
// to the layer of the kernel before it in schedule order. Collectives get "" here: inspect
// gives them the layer of the op they were inserted for.
#pragma once
#include <string>
#include <vector>

#include "plan.pb.h"

namespace tessera::tools {

// The first "<word>.<number>" in a dotted or slashed name ("" if none): counters glued to a
// word ("node_view_3", "reshard1") do not count.
std::string layer_key(const std::string& name);
std::vector<std::string> instruction_layers(const plan::Plan& p);

}  // namespace tessera::tools
