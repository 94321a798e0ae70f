#!/usr/bin/env bash
# The C API (tests/cluster/c_api_test.c, compiled as C99): one rank vs PyTorch's reference;
# mpirun -np 4, with ranks from the environment and with caller-provided rank/size, vs one rank.
source "$(dirname "$0")/common.sh"
need_compiler
compile_plan "$WORK/m1.tsr"
compile_plan "$WORK/m4.tsr" dp=2,tp=2
cd "$WORK"
"$TSR_C_API_TEST" m1.tsr "$INPUTS/input_0.pb" out1.pb
compare out1.pb "$INPUTS/output_0.pb" 1e-4
"${MPIRUN[@]}" -np 4 "$TSR_C_API_TEST" m4.tsr "$INPUTS/input_0.pb" out4.pb
compare out4.pb out1.pb
"${MPIRUN[@]}" -np 4 "$TSR_C_API_TEST" m4.tsr "$INPUTS/input_0.pb" out4r.pb with-rank
compare out4r.pb out1.pb
echo PASS
