#include "inspect_layers.h"

#include <cctype>

#include "inspect_model.h"

namespace tessera::tools {
namespace {

bool is_number(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

}  // namespace

std::string layer_key(const std::string& name) {
  std::vector<std::string> tok(1);
  for (char c : name) {
    if (c == '.' || c == '/' || c == ':')
      tok.emplace_back();
    else
      tok.back() += c;
  }
  for (size_t i = 1; i < tok.size(); ++i)
    if (is_number(tok[i]) && !tok[i - 1].empty() && !is_number(tok[i - 1]))
      return tok[i - 1] + "." + tok[i];
  return "";
}

std::vector<std::string> instruction_layers(const plan::Plan& p) {
  std::vector<std::string> out(p.instructions_size());
  std::string current;
  for (int i = 0; i < p.instructions_size(); ++i) {
    const auto& ins = p.instructions(i);
    if (is_collective_op(ins.op())) continue;
    std::string key = layer_key(ins.node());
    for (int k = 0; key.empty() && k < ins.inputs_size(); ++k) {
      int t = ins.inputs(k);
      if (t >= 0 && p.tensors(t).storage() == plan::TensorInfo::WEIGHT)
        key = layer_key(p.tensors(t).name());
    }
    if (!key.empty()) current = key;
    out[i] = current;
  }
  return out;
}

}  // namespace tessera::tools
