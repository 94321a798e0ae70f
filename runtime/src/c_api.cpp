// tessera_c.h over the C++ runtime. Every entry point converts Status to a code plus a
// thread-local message, and catches exceptions (std::bad_alloc from a large copy, say) so that
// none crosses into C.
#include "tessera/tessera_c.h"

#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "comm_internal.h"
#include "tessera/runtime.h"

using tessera::Code;
using tessera::DType;
using tessera::HostTensor;
using tessera::Status;
using namespace tessera::runtime;

// Handles own their C++ objects plus the storage the info structs point into.
struct tessera_plan {
  std::shared_ptr<const Plan> plan;
  std::vector<IOInfo> inputs, outputs;
};
struct tessera_session {
  std::unique_ptr<Session> session;
  std::shared_ptr<Comm> comm;
};
struct tessera_tensor {
  HostTensor t;
};

namespace {

thread_local std::string g_last_error;

tessera_status fail(const Status& s) {
  g_last_error = s.to_string();
  return static_cast<tessera_status>(s.code());
}

tessera_status fail(Code c, const std::string& msg) { return fail(Status(c, msg)); }

// Runs `body` (returning Status) with exceptions mapped to codes.
template <class F>
tessera_status guarded(F&& body) {
  try {
    Status s = body();
    return s.ok() ? TESSERA_OK : fail(s);
  } catch (const std::bad_alloc&) {
    return fail(Code::kOutOfMemory, "out of host memory");
  } catch (const std::exception& e) {
    return fail(Code::kInternal, std::string("unexpected exception: ") + e.what());
  } catch (...) {
    return fail(Code::kInternal, "unexpected exception");
  }
}

size_t tensor_bytes(DType dt, const tessera::Shape& s) {
  return static_cast<size_t>(tessera::num_elements(s) * tessera::dtype_size(dt));
}

void fill_info(const std::string& name, DType dt, const tessera::Shape& shape,
               tessera_tensor_info* out) {
  out->name = name.c_str();
  out->dtype = static_cast<int32_t>(dt);
  out->rank = static_cast<int32_t>(shape.size());
  out->dims = shape.data();
  out->bytes = tensor_bytes(dt, shape);
}

Status make_host_tensor(const char* name, int32_t dtype, const int64_t* dims, int32_t rank,
                        const void* data, size_t bytes, HostTensor* t) {
  if (!name || (rank > 0 && !dims) || (bytes > 0 && !data) || rank < 0)
    return tessera::InvalidArgument("null name, dims or data, or negative rank");
  t->name = name;
  t->dtype = static_cast<DType>(dtype);
  if (tessera::dtype_size(t->dtype) == 0)
    return tessera::InvalidArgument(std::string("tensor '") + name + "': unsupported dtype " +
                                    std::to_string(dtype));
  t->shape.assign(dims, dims + rank);
  for (int64_t d : t->shape)
    if (d < 0) return tessera::InvalidArgument(std::string("tensor '") + name + "': negative dim");
  if (bytes != tensor_bytes(t->dtype, t->shape))
    return tessera::InvalidArgument(std::string("tensor '") + name + "': " + std::to_string(bytes) +
                                    " bytes given, " + tessera::shape_str(t->shape) + " " +
                                    tessera::dtype_name(t->dtype) + " needs " +
                                    std::to_string(tensor_bytes(t->dtype, t->shape)));
  const auto* p = static_cast<const uint8_t*>(data);
  t->bytes.assign(p, p + bytes);
  return Status::Ok();
}

tessera_status create_session(const tessera_plan* plan,
                              tessera::StatusOr<std::shared_ptr<Comm>> comm, tessera_session** out,
                              const SessionOptions& opts = {}) {
  return guarded([&]() -> Status {
    if (!plan || !out) return tessera::InvalidArgument("null plan or out pointer");
    *out = nullptr;
    TSR_RETURN_IF_ERROR(comm.status());
    auto s = std::make_unique<tessera_session>();
    s->comm = *comm;
    TSR_ASSIGN_OR_RETURN(s->session, Session::create(plan->plan, s->comm, opts));
    *out = s.release();
    return Status::Ok();
  });
}

}  // namespace

extern "C" {

const char* tessera_last_error(void) { return g_last_error.c_str(); }
int tessera_c_api_version(void) { return TESSERA_C_API_VERSION; }

tessera_status tessera_plan_load(const char* path, tessera_plan** out) {
  return guarded([&]() -> Status {
    if (!path || !out) return tessera::InvalidArgument("null path or out pointer");
    *out = nullptr;
    auto p = std::make_unique<tessera_plan>();
    TSR_ASSIGN_OR_RETURN(p->plan, Plan::load(path));
    p->inputs = p->plan->inputs();
    p->outputs = p->plan->outputs();
    *out = p.release();
    return Status::Ok();
  });
}

void tessera_plan_free(tessera_plan* plan) { delete plan; }

int64_t tessera_plan_world_size(const tessera_plan* plan) {
  return plan ? plan->plan->world_size() : 0;
}
int tessera_plan_num_inputs(const tessera_plan* plan) {
  return plan ? static_cast<int>(plan->inputs.size()) : 0;
}
int tessera_plan_num_outputs(const tessera_plan* plan) {
  return plan ? static_cast<int>(plan->outputs.size()) : 0;
}

static tessera_status io_info(const tessera_plan* plan, bool input, int index,
                              tessera_tensor_info* out) {
  if (!plan || !out) return fail(Code::kInvalidArgument, "null plan or info pointer");
  const std::vector<IOInfo>& v = input ? plan->inputs : plan->outputs;
  if (index < 0 || static_cast<size_t>(index) >= v.size())
    return fail(Code::kInvalidArgument, std::string(input ? "input" : "output") + " index " +
                                            std::to_string(index) + " out of range (plan has " +
                                            std::to_string(v.size()) + ")");
  fill_info(v[index].name, v[index].dtype, v[index].global_shape, out);
  return TESSERA_OK;
}

tessera_status tessera_plan_input(const tessera_plan* plan, int index, tessera_tensor_info* out) {
  return io_info(plan, true, index, out);
}
tessera_status tessera_plan_output(const tessera_plan* plan, int index, tessera_tensor_info* out) {
  return io_info(plan, false, index, out);
}

tessera_status tessera_session_create(const tessera_plan* plan, tessera_session** out) {
  return create_session(plan, comm_from_environment(), out);
}

tessera_status tessera_session_create_with_rank(const tessera_plan* plan, int rank, int world_size,
                                                tessera_session** out) {
  if (world_size < 1 || rank < 0 || rank >= world_size)
    return fail(Code::kInvalidArgument, "rank " + std::to_string(rank) + " of world size " +
                                            std::to_string(world_size) + " is not valid");
  if (world_size == 1) return create_session(plan, make_single_comm(), out);
#ifdef TESSERA_HAVE_MPI
  auto comm = make_mpi_comm(LauncherInfo{"caller", world_size, rank});
  if (comm.ok() && (*comm)->rank() != rank)
    return fail(Code::kComm, "caller says rank " + std::to_string(rank) + ", MPI says rank " +
                                 std::to_string((*comm)->rank()));
  return create_session(plan, std::move(comm), out);
#else
  return fail(Code::kComm, "world size " + std::to_string(world_size) +
                               " needs MPI, but this runtime was built without it");
#endif
}

tessera_status tessera_session_create_mpi(const tessera_plan* plan, int mpi_comm_fortran,
                                          tessera_session** out) {
#ifdef TESSERA_HAVE_MPI
  return create_session(plan, make_mpi_comm_from_fortran(mpi_comm_fortran), out);
#else
  return fail(Code::kComm,
              "an MPI communicator was passed in, but this runtime was built "
              "without MPI");
#endif
}

tessera_status tessera_session_create_nccl(const tessera_plan* plan, void* nccl_comm,
                                           tessera_session** out) {
  if (!nccl_comm) return fail(Code::kInvalidArgument, "null NCCL communicator");
  SessionOptions opts;
  opts.backend = Backend::kCuda;
  opts.nccl_comm = nccl_comm;
  return create_session(plan, comm_from_environment(), out, opts);
}

void tessera_session_free(tessera_session* session) { delete session; }

int tessera_session_rank(const tessera_session* s) { return s ? s->comm->rank() : -1; }
int tessera_session_world_size(const tessera_session* s) { return s ? s->comm->size() : 0; }

tessera_status tessera_session_bind_input(tessera_session* session, const char* name, int32_t dtype,
                                          const int64_t* dims, int32_t rank, const void* data,
                                          size_t bytes) {
  return guarded([&]() -> Status {
    if (!session) return tessera::InvalidArgument("null session");
    HostTensor t;
    TSR_RETURN_IF_ERROR(make_host_tensor(name, dtype, dims, rank, data, bytes, &t));
    return session->session->bind_input(name, t);
  });
}

tessera_status tessera_session_run(tessera_session* session) {
  return guarded([&]() -> Status {
    if (!session) return tessera::InvalidArgument("null session");
    return session->session->run();
  });
}

tessera_status tessera_session_read_output(tessera_session* session, const char* name, void* dst,
                                           size_t dst_bytes, size_t* written) {
  return guarded([&]() -> Status {
    if (!session || !name) return tessera::InvalidArgument("null session or name");
    // Costs one copy of the output (Session::output returns it by value).
    TSR_ASSIGN_OR_RETURN(HostTensor t, session->session->output(name));
    if (written) *written = t.bytes.size();
    if (dst_bytes < t.bytes.size() || (!dst && !t.bytes.empty()))
      return tessera::InvalidArgument("output '" + std::string(name) + "' needs " +
                                      std::to_string(t.bytes.size()) + " bytes, buffer has " +
                                      std::to_string(dst_bytes));
    if (!t.bytes.empty()) std::memcpy(dst, t.bytes.data(), t.bytes.size());
    return Status::Ok();
  });
}

void tessera_session_abort(tessera_session* session, int exit_code) {
  if (session) session->comm->abort(exit_code);
}

tessera_status tessera_tensor_read_file(const char* path, tessera_tensor** out) {
  return guarded([&]() -> Status {
    if (!path || !out) return tessera::InvalidArgument("null path or out pointer");
    *out = nullptr;
    auto t = std::make_unique<tessera_tensor>();
    TSR_ASSIGN_OR_RETURN(t->t, tessera::read_tensor_proto(path));
    *out = t.release();
    return Status::Ok();
  });
}

tessera_status tessera_tensor_info_of(const tessera_tensor* tensor, tessera_tensor_info* out) {
  if (!tensor || !out) return fail(Code::kInvalidArgument, "null tensor or info pointer");
  fill_info(tensor->t.name, tensor->t.dtype, tensor->t.shape, out);
  return TESSERA_OK;
}

const void* tessera_tensor_data(const tessera_tensor* tensor) {
  return tensor ? tensor->t.bytes.data() : nullptr;
}

void tessera_tensor_free(tessera_tensor* tensor) { delete tensor; }

tessera_status tessera_tensor_write_file(const char* path, const char* name, int32_t dtype,
                                         const int64_t* dims, int32_t rank, const void* data,
                                         size_t bytes) {
  return guarded([&]() -> Status {
    if (!path) return tessera::InvalidArgument("null path");
    HostTensor t;
    TSR_RETURN_IF_ERROR(make_host_tensor(name, dtype, dims, rank, data, bytes, &t));
    return tessera::write_tensor_proto(path, t);
  });
}

}  // extern "C"
