// Stands in for the CUDA backend in builds without CUDA (-DTESSERA_BUILD_CUDA=OFF).
#include "cuda/device_session.h"

namespace tessera::runtime {

bool cuda_backend_available() { return false; }

StatusOr<std::unique_ptr<DeviceSession>> create_cuda_session(const Plan&, Comm&,
                                                             const SessionOptions&) {
  return Unimplemented(
      "backend 'cuda': this build of tessera has no CUDA backend (configure with "
      "-DTESSERA_BUILD_CUDA=ON)");
}

}  // namespace tessera::runtime
