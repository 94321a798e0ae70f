// `tessera compare A.pb B.pb --tolerance T`: max|a-b| / max|b| between two TensorProto files
// (B is the reference). Exit 0 within tolerance, 1 otherwise; shapes and dtypes must match.
#pragma once
#include <string>

namespace tessera::tools {
int compare_tensors(const std::string& a, const std::string& b, double tolerance);
}
