/* Embedding the runtime from C (tessera/tessera_c.h): same as main.cpp.
 *   embed_c PLAN INPUT.pb OUTPUT.pb */
#include <stdio.h>
#include <stdlib.h>

#include "tessera/tessera_c.h"

int main(int argc, char** argv) {
  tessera_plan* plan = NULL;
  tessera_session* s = NULL;
  tessera_tensor* x = NULL;
  tessera_tensor_info in, out, xi;
  void* y = NULL;
  int rc = 1;
  if (argc != 4) {
    fprintf(stderr, "usage: %s PLAN INPUT.pb OUTPUT.pb\n", argv[0]);
    return 2;
  }
  if (tessera_plan_load(argv[1], &plan) != TESSERA_OK ||
      tessera_session_create(plan, &s) != TESSERA_OK) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    goto done;
  }
  tessera_plan_input(plan, 0, &in);
  tessera_plan_output(plan, 0, &out);
  y = malloc(out.bytes);
  if (tessera_tensor_read_file(argv[2], &x) != TESSERA_OK ||
      tessera_tensor_info_of(x, &xi) != TESSERA_OK ||
      tessera_session_bind_input(s, in.name, xi.dtype, xi.dims, xi.rank, tessera_tensor_data(x),
                                 xi.bytes) != TESSERA_OK ||
      tessera_session_run(s) != TESSERA_OK ||
      tessera_session_read_output(s, out.name, y, out.bytes, NULL) != TESSERA_OK ||
      (tessera_session_rank(s) == 0 &&
       tessera_tensor_write_file(argv[3], out.name, out.dtype, out.dims, out.rank, y, out.bytes) !=
           TESSERA_OK)) {
    fprintf(stderr, "error: %s\n", tessera_last_error());
    tessera_session_abort(s, 1); /* peers may be waiting in a collective */
    goto done;
  }
  rc = 0;
done:
  free(y);
  tessera_tensor_free(x);
  tessera_session_free(s);
  tessera_plan_free(plan);
  return rc;
}
