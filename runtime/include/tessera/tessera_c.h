/* Tessera C API: a stable, exception-free wrapper of the runtime (tessera/runtime.h) for C and
 * for other languages' foreign-function interfaces. No protobuf, MPI or C++ types cross it.
 *
 *   tessera_plan* plan;  tessera_session* s;
 *   if (tessera_plan_load("m.tsr", &plan) != TESSERA_OK) puts(tessera_last_error());
 *   tessera_session_create(plan, &s);               // ranks from mpirun/srun, or one rank
 *   tessera_session_bind_input(s, "x", TESSERA_F32, dims, 2, data, bytes);
 *   tessera_session_run(s);
 *   tessera_session_read_output(s, "y", buf, buf_bytes, &written);
 *   tessera_session_free(s); tessera_plan_free(plan);
 *
 * Conventions: every fallible call returns a tessera_status (0 = TESSERA_OK); on failure
 * tessera_last_error() holds a one-line message for the calling thread until its next failing
 * call. Handles are opaque; a plan may be shared by sessions and threads, a session is used by
 * one thread at a time. Strings and arrays returned by the API live as long as their handle.
 * Link: find_package(Tessera) + Tessera::runtime (a C program links with the C++ linker, which
 * CMake picks by itself for this static library). */
#ifndef TESSERA_C_H_
#define TESSERA_C_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TESSERA_C_API_VERSION 2 /* 2: tessera_session_create_nccl */

/* Values equal tessera::Code. */
typedef enum tessera_status {
  TESSERA_OK = 0,
  TESSERA_INVALID_ARGUMENT = 1,
  TESSERA_NOT_FOUND = 2,
  TESSERA_IO = 3,
  TESSERA_CORRUPT = 4,
  TESSERA_VERSION = 5,
  TESSERA_UNIMPLEMENTED = 6,
  TESSERA_COMM = 7,
  TESSERA_OUT_OF_MEMORY = 8,
  TESSERA_INTERNAL = 9
} tessera_status;

/* Values equal tessera::DType and onnx.TensorProto.DataType. */
typedef enum tessera_dtype {
  TESSERA_F32 = 1,
  TESSERA_U8 = 2,
  TESSERA_I8 = 3,
  TESSERA_U16 = 4,
  TESSERA_I16 = 5,
  TESSERA_I32 = 6,
  TESSERA_I64 = 7,
  TESSERA_BOOL = 9,
  TESSERA_F16 = 10,
  TESSERA_F64 = 11,
  TESSERA_U32 = 12,
  TESSERA_U64 = 13,
  TESSERA_BF16 = 16
} tessera_dtype;

typedef struct tessera_plan tessera_plan;
typedef struct tessera_session tessera_session;
typedef struct tessera_tensor tessera_tensor;

/* Name, element type and global shape of a plan input/output or a tensor. */
typedef struct tessera_tensor_info {
  const char* name;
  int32_t dtype; /* a tessera_dtype */
  int32_t rank;
  const int64_t* dims; /* rank entries */
  size_t bytes;        /* product of dims times the element size */
} tessera_tensor_info;

/* Message of this thread's last failure ("" if none). */
const char* tessera_last_error(void);
int tessera_c_api_version(void);

/* ---- Plans: immutable, validated plan files ---------------------------------------------- */
tessera_status tessera_plan_load(const char* path, tessera_plan** out);
void tessera_plan_free(tessera_plan* plan); /* NULL is fine */
/* Ranks the plan was compiled for (product of its mesh). */
int64_t tessera_plan_world_size(const tessera_plan* plan);
int tessera_plan_num_inputs(const tessera_plan* plan);
int tessera_plan_num_outputs(const tessera_plan* plan);
tessera_status tessera_plan_input(const tessera_plan* plan, int index, tessera_tensor_info* out);
tessera_status tessera_plan_output(const tessera_plan* plan, int index, tessera_tensor_info* out);

/* ---- Sessions: one rank's execution state -------------------------------------------------- */
/* Ranks from the environment: one rank without a launcher; MPI_COMM_WORLD under mpirun or
 * srun --mpi=pmix (initialising MPI if the application has not); TCP sockets under
 * torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). */
tessera_status tessera_session_create(const tessera_plan* plan, tessera_session** out);
/* Rank and size the application already knows. world_size 1 needs no MPI; otherwise they must
 * match this process's place in MPI_COMM_WORLD (an error names both, never a silent mismatch). */
tessera_status tessera_session_create_with_rank(const tessera_plan* plan, int rank, int world_size,
                                                tessera_session** out);
/* Over the application's own MPI communicator, passed as its Fortran handle
 * (MPI_Comm_c2f(comm)) so that this header needs no mpi.h. The runtime duplicates it. */
tessera_status tessera_session_create_mpi(const tessera_plan* plan, int mpi_comm_fortran,
                                          tessera_session** out);
/* Over an NCCL communicator the application already has (an ncclComm_t passed as void*, so
 * this header needs no nccl.h), on the CUDA backend: the session runs on that communicator's
 * GPU and splits its per-mesh-axis-group communicators from it (collective: every rank calls
 * this) instead of bootstrapping its own. Host-side ranks still come from the environment as
 * in tessera_session_create (mpirun, srun, torchrun variables) and must equal the NCCL
 * communicator's rank and size. The communicator stays the application's: it must outlive the
 * session, which never destroys or aborts it. */
tessera_status tessera_session_create_nccl(const tessera_plan* plan, void* nccl_comm,
                                           tessera_session** out);
void tessera_session_free(tessera_session* session); /* NULL is fine */
int tessera_session_rank(const tessera_session* session);
int tessera_session_world_size(const tessera_session* session);

/* Binds the *global* input tensor from host memory (copied; the session keeps its shard).
 * dtype and dims must match the plan's input; bytes must equal the tensor's size. */
tessera_status tessera_session_bind_input(tessera_session* session, const char* name, int32_t dtype,
                                          const int64_t* dims, int32_t rank, const void* data,
                                          size_t bytes);
/* Runs the plan on this rank; under several ranks every rank must call it. */
tessera_status tessera_session_run(tessera_session* session);
/* Copies output `name` (replicated on every rank) into dst. dst_bytes must be at least the
 * output's size (tessera_plan_output's info.bytes); *written (may be NULL) receives it. */
tessera_status tessera_session_read_output(tessera_session* session, const char* name, void* dst,
                                           size_t dst_bytes, size_t* written);
/* Terminates every rank of the job (MPI_Abort): call when this rank cannot go on, so peers
 * do not wait forever in a collective. Returns only for a world of one. */
void tessera_session_abort(tessera_session* session, int exit_code);

/* ---- Tensor files (ONNX TensorProto, as in input_0.pb / output_0.pb) ---------------------- */
tessera_status tessera_tensor_read_file(const char* path, tessera_tensor** out);
tessera_status tessera_tensor_info_of(const tessera_tensor* tensor, tessera_tensor_info* out);
const void* tessera_tensor_data(const tessera_tensor* tensor);
void tessera_tensor_free(tessera_tensor* tensor); /* NULL is fine */
tessera_status tessera_tensor_write_file(const char* path, const char* name, int32_t dtype,
                                         const int64_t* dims, int32_t rank, const void* data,
                                         size_t bytes);

#ifdef __cplusplus
}
#endif
#endif /* TESSERA_C_H_ */
