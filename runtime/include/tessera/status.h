// Status and StatusOr: the runtime's error type. Nothing in runtime/ or kernels/ throws across
// its API; every fallible call returns one of these with a message naming the culprit.
#pragma once
#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace tessera {

enum class Code {
  kOk = 0,
  kInvalidArgument,  // bad flag, bad shape, bad attribute
  kNotFound,         // missing file, tensor, kernel
  kIo,               // read/write failure
  kCorrupt,          // hash mismatch, truncated file, bad magic
  kVersion,          // plan of another format version
  kUnimplemented,    // op or dtype the backend lacks
  kComm,             // collective or launcher failure
  kOutOfMemory,
  kInternal,
};

const char* code_name(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>"; empty for ok.
  std::string to_string() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
inline Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
inline Status IoError(std::string m) { return Status(Code::kIo, std::move(m)); }
inline Status Corrupt(std::string m) { return Status(Code::kCorrupt, std::move(m)); }
inline Status Unimplemented(std::string m) { return Status(Code::kUnimplemented, std::move(m)); }
inline Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

template <class T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status s) : status_(std::move(s)) { assert(!status_.ok()); }  // NOLINT
  StatusOr(T v) : value_(std::move(v)) {}                                // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace tessera

#define TSR_RETURN_IF_ERROR(expr)          \
  do {                                     \
    ::tessera::Status _tsr_s = (expr);     \
    if (!_tsr_s.ok()) return _tsr_s;       \
  } while (0)

#define TSR_CONCAT_INNER(a, b) a##b
#define TSR_CONCAT(a, b) TSR_CONCAT_INNER(a, b)
#define TSR_ASSIGN_OR_RETURN(lhs, expr) TSR_ASSIGN_OR_RETURN_IMPL(TSR_CONCAT(_tsr_so_, __LINE__), lhs, expr)
#define TSR_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
