/* C API test, compiled as C99: what examples/embed does, through tessera_c.h only.
 *   c_api_test PLAN INPUT_0.pb OUTPUT_0.pb [with-rank]
 * Loads the plan, binds input 0 from the file, runs (one rank, or every rank under mpirun),
 * writes output 0 (rank 0), and checks that misuse fails with the right code and a message.
 * "with-rank" creates the session from caller-provided rank/size (read from the launcher's
 * variables here, as an application with its own launcher would). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tessera/tessera_c.h"

static int check(tessera_status got, tessera_status want, const char* what) {
  if (got == want) return 0;
  fprintf(stderr, "FAIL %s: status %d (want %d): %s\n", what, (int)got, (int)want,
          tessera_last_error());
  return 1;
}

static int env_int(const char* name, int dflt) {
  const char* v = getenv(name);
  return v && *v ? atoi(v) : dflt;
}

static tessera_session* make_session(const tessera_plan* plan, int with_rank) {
  tessera_session* s = NULL;
  tessera_status st;
  if (with_rank)
    st = tessera_session_create_with_rank(plan, env_int("OMPI_COMM_WORLD_RANK", 0),
                                          env_int("OMPI_COMM_WORLD_SIZE", 1), &s);
  else
    st = tessera_session_create(plan, &s);
  if (st != TESSERA_OK) fprintf(stderr, "error: session: %s\n", tessera_last_error());
  return s;
}

int main(int argc, char** argv) {
  tessera_plan* plan = NULL;
  tessera_session* s = NULL;
  tessera_tensor* in = NULL;
  tessera_tensor_info pin, pout, tin;
  void* out = NULL;
  size_t written = 0;
  int failures = 0;

  if (argc < 4) {
    fprintf(stderr, "usage: %s PLAN INPUT_0.pb OUTPUT_0.pb [with-rank]\n", argv[0]);
    return 2;
  }
  failures += check(tessera_plan_load("/nonexistent/plan.tsr", &plan), TESSERA_NOT_FOUND,
                    "load of a missing plan");
  if (strstr(tessera_last_error(), "/nonexistent/plan.tsr") == NULL) {
    fprintf(stderr, "FAIL last_error does not name the file: %s\n", tessera_last_error());
    failures++;
  }
  if (tessera_plan_load(argv[1], &plan) != TESSERA_OK) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    return 1;
  }
  if (tessera_plan_num_inputs(plan) < 1 || tessera_plan_num_outputs(plan) < 1) return 1;
  failures += check(tessera_plan_input(plan, 0, &pin), TESSERA_OK, "plan input 0");
  failures += check(tessera_plan_output(plan, 0, &pout), TESSERA_OK, "plan output 0");
  failures += check(tessera_plan_input(plan, 99, &pin), TESSERA_INVALID_ARGUMENT, "input 99");
  tessera_plan_input(plan, 0, &pin);

  s = make_session(plan, argc > 4 && strcmp(argv[4], "with-rank") == 0);
  if (!s) return 1;
  if (tessera_session_world_size(s) != (int)tessera_plan_world_size(plan)) return 1;
  if (tessera_tensor_read_file(argv[2], &in) != TESSERA_OK) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    tessera_session_abort(s, 1);
    return 1;
  }
  tessera_tensor_info_of(in, &tin);
  /* One byte short: a clear INVALID_ARGUMENT, nothing bound. */
  failures += check(tessera_session_bind_input(s, pin.name, tin.dtype, tin.dims, tin.rank,
                                               tessera_tensor_data(in), tin.bytes - 1),
                    TESSERA_INVALID_ARGUMENT, "bind with a short buffer");
  failures += check(tessera_session_bind_input(s, "no_such_input", tin.dtype, tin.dims, tin.rank,
                                               tessera_tensor_data(in), tin.bytes),
                    TESSERA_NOT_FOUND, "bind of an unknown input");
  if (tessera_session_bind_input(s, pin.name, tin.dtype, tin.dims, tin.rank,
                                 tessera_tensor_data(in), tin.bytes) != TESSERA_OK ||
      tessera_session_run(s) != TESSERA_OK) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    tessera_session_abort(s, 1); /* peers may wait in a collective */
    return 1;
  }
  out = malloc(pout.bytes);
  failures += check(tessera_session_read_output(s, pout.name, out, pout.bytes / 2, &written),
                    TESSERA_INVALID_ARGUMENT, "read into a small buffer");
  failures += check(tessera_session_read_output(s, pout.name, out, pout.bytes, &written),
                    TESSERA_OK, "read output 0");
  if (written != pout.bytes) failures++;
  if (tessera_session_rank(s) == 0 &&
      tessera_tensor_write_file(argv[3], pout.name, pout.dtype, pout.dims, pout.rank, out,
                                pout.bytes) != TESSERA_OK) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    failures++;
  }
  free(out);
  tessera_tensor_free(in);
  tessera_session_free(s);
  tessera_plan_free(plan);
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
