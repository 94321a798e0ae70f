#include "train_checkpoint.h"

#include <filesystem>
#include <map>

namespace tessera::runtime {

StatusOr<std::vector<HostTensor>> gather_states(Session& s, const std::vector<StateUpdate>& u) {
  std::vector<HostTensor> out;
  for (const StateUpdate& x : u) {
    TSR_ASSIGN_OR_RETURN(HostTensor t, s.read_state(x.state));
    out.push_back(std::move(t));
  }
  return out;
}

Status save_checkpoint(const std::string& dir, const std::vector<HostTensor>& states,
                       int64_t steps_done) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(dir + ": cannot create the checkpoint directory: " + ec.message());
  std::map<std::string, std::string> owner;  // file -> tensor: sanitised names may collide
  owner[kStepsDoneFile] = "tessera.steps_done";
  for (const HostTensor& t : states) {
    const std::string f = tensor_file_name(t.name);
    auto [it, fresh] = owner.emplace(f, t.name);
    if (!fresh)
      return InvalidArgument(dir + "/" + f + ": states '" + it->second + "' and '" + t.name +
                             "' map to the same file name");
    TSR_RETURN_IF_ERROR(write_tensor_proto(dir + "/" + f, t));
  }
  HostTensor done = HostTensor::zeros("tessera.steps_done", DType::kInt64, {});
  *done.data<int64_t>() = steps_done;
  return write_tensor_proto(dir + "/" + kStepsDoneFile, done);
}

StatusOr<int64_t> load_checkpoint(Session& s, const std::string& dir,
                                  const std::vector<StateUpdate>& u) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    return NotFound(dir + ": --load-weights is not a directory");
  for (const StateUpdate& x : u) {
    const std::string path = dir + "/" + tensor_file_name(x.state);
    TSR_ASSIGN_OR_RETURN(HostTensor t, read_tensor_proto(path));
    if (t.name != x.state)
      return InvalidArgument(path + ": holds tensor '" + t.name + "', expected state '" + x.state +
                             "'");
    Status st = s.write_state(x.state, t);
    if (!st.ok()) return Status(st.code(), path + ": " + st.message());
  }
  const std::string progress = dir + "/" + kStepsDoneFile;
  if (!std::filesystem::exists(progress, ec)) return int64_t{0};
  TSR_ASSIGN_OR_RETURN(HostTensor d, read_tensor_proto(progress));
  if (d.dtype != DType::kInt64 || d.numel() != 1)
    return InvalidArgument(progress + ": expected an int64 scalar (steps already taken)");
  return *d.data<int64_t>();
}

}  // namespace tessera::runtime
