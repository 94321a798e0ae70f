#include "train_data.h"

#include <algorithm>
#include <filesystem>

namespace tessera::runtime {
namespace {

namespace fs = std::filesystem;

bool all_digits(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Numeric order without overflow: leading zeros stripped, then shorter first, then by text.
bool numeric_less(const std::string& a, const std::string& b) {
  auto strip = [](const std::string& s) {
    const size_t i = s.find_first_not_of('0');
    return i == std::string::npos ? std::string("0") : s.substr(i);
  };
  const std::string x = strip(a), y = strip(b);
  return x.size() != y.size() ? x.size() < y.size() : x < y;
}

std::string input_file(const std::string& dir, int i) {
  return dir + "/input_" + std::to_string(i) + ".pb";
}

Status check_batch(const std::string& dir, int num_model_inputs) {
  std::error_code ec;
  for (int i = 0; i < num_model_inputs; ++i)
    if (!fs::is_regular_file(input_file(dir, i), ec))
      return NotFound(input_file(dir, i) + ": missing (the plan has " +
                      std::to_string(num_model_inputs) + " model input(s) besides labels)");
  if (!fs::is_regular_file(dir + "/labels.pb", ec))
    return NotFound(dir +
                    "/labels.pb: missing (a training step reads labels.pb beside input_N.pb)");
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<std::string>> list_batches(const std::string& dir, int num_model_inputs) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound(dir + ": --data is not a directory");
  std::vector<std::string> batches;
  if (fs::exists(dir + "/labels.pb", ec) || fs::exists(input_file(dir, 0), ec)) {
    batches.push_back(dir);
  } else {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir, ec))
      if (e.is_directory(ec) && all_digits(e.path().filename().string()))
        names.push_back(e.path().filename().string());
    if (ec) return IoError(dir + ": cannot list: " + ec.message());
    std::sort(names.begin(), names.end(), numeric_less);
    for (const auto& n : names) batches.push_back(dir + "/" + n);
  }
  if (batches.empty())
    return NotFound(dir + ": no labels.pb here and no numbered batch subdirectories (0/, 1/, ...)");
  for (const auto& b : batches) TSR_RETURN_IF_ERROR(check_batch(b, num_model_inputs));
  return batches;
}

Status bind_batch(Session& s, const std::string& dir,
                  const std::vector<std::string>& model_inputs) {
  auto bind = [&](const std::string& path, const std::string& name) -> Status {
    TSR_ASSIGN_OR_RETURN(HostTensor t, read_tensor_proto(path));
    Status st = s.bind_input(name, t);
    return st.ok() ? st : Status(st.code(), path + ": " + st.message());
  };
  for (size_t i = 0; i < model_inputs.size(); ++i)
    TSR_RETURN_IF_ERROR(bind(input_file(dir, static_cast<int>(i)), model_inputs[i]));
  return bind(dir + "/labels.pb", "labels");
}

}  // namespace tessera::runtime
