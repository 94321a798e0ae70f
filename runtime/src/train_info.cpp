// Training meta of a plan (tessera/train.h).
#include "plan.pb.h"
#include "tessera/train.h"

namespace tessera::runtime {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

StatusOr<TrainInfo> train_info(const plan::Plan& p, const std::string& file) {
  TrainInfo info;
  for (const auto& a : p.meta()) {
    if (a.name() == "train.loss") info.training = true, info.loss = a.s();
    if (a.name() == "train.optimizer") info.optimizer = a.s();
    if (a.name() != "train.updates") continue;
    if (a.kind() != plan::AttrProto::STRINGS || a.strings_size() % 2 != 0)
      return Corrupt(file + ": meta 'train.updates' must be a list of (state, output) pairs");
    for (int i = 0; i + 1 < a.strings_size(); i += 2)
      info.updates.push_back({a.strings(i), a.strings(i + 1)});
  }
  for (const auto& b : p.outputs())
    if (ends_with(b.name(), ".grad")) info.gradient_outputs.push_back(b.name());
  return info;
}

bool is_optimizer_state(const std::string& name, const std::vector<StateUpdate>& updates) {
  // Step counters (optimizer's and Dropout's) and fp16's loss scale are not model initializers.
  if (name == "optimizer.step" || name == "dropout.step" || name == "loss_scale" ||
      name == "loss_scale.good_steps")
    return true;
  for (const char* suffix : {".adam_m", ".adam_v", ".momentum"}) {
    if (!ends_with(name, suffix)) continue;
    const std::string owner = name.substr(0, name.size() - std::string(suffix).size());
    for (const StateUpdate& u : updates)
      if (u.state == owner) return true;
  }
  return false;
}

std::string tensor_file_name(const std::string& name) {
  std::string f = name;
  for (char& c : f) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (!keep) c = '_';
  }
  // "." and ".." (and a leading dot, a hidden file) are no file names for a tensor.
  if (f.empty() || f[0] == '.') f = "_" + f;
  return f + ".pb";
}

}  // namespace tessera::runtime
