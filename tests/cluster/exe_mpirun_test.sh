#!/usr/bin/env bash
# Self-contained executables of a tiny model: one rank vs PyTorch's reference, `mpirun -np 4`
# (mesh dp=2,tp=2) vs the one-rank run, the sidecar form, a copy run from another directory,
# and torchrun-style variables (WORLD_SIZE=1 runs; WORLD_SIZE=4 without MPI is a clear error).
source "$(dirname "$0")/common.sh"
need_compiler
compile_plan "$WORK/m1.tsr"
compile_plan "$WORK/m4.tsr" dp=2,tp=2
"$TSR_EMIT" "$WORK/m1.tsr" "$TSR_RUNNER" "$WORK/m1.bin"
"$TSR_EMIT" "$WORK/m4.tsr" "$TSR_RUNNER" "$WORK/m4.bin"
"$TSR_EMIT" "$WORK/m4.tsr" "$TSR_RUNNER" "$WORK/side.bin" 0  # threshold 0: always a sidecar
[ -f "$WORK/side.bin.d/plan.tsr" ] || die "sidecar plan missing"

cd "$WORK"
./m1.bin --inputs "$INPUTS" --output-dir out1
compare out1/output_0.pb "$INPUTS/output_0.pb" 1e-4

"${MPIRUN[@]}" -np 4 ./m4.bin --inputs "$INPUTS" --output-dir out4
compare out4/output_0.pb out1/output_0.pb

"${MPIRUN[@]}" -np 4 ./side.bin --inputs "$INPUTS" --output-dir outside
compare outside/output_0.pb out1/output_0.pb

# Self-contained: a copy elsewhere, started through a relative path from another directory.
mkdir -p copy && cp m4.bin copy/model.bin && mkdir -p elsewhere && cd elsewhere
"${MPIRUN[@]}" -np 4 ../copy/model.bin --inputs "$INPUTS" --output-dir ../outcopy
cd "$WORK"
compare outcopy/output_0.pb out1/output_0.pb

env RANK=0 WORLD_SIZE=1 LOCAL_RANK=0 ./m1.bin --inputs "$INPUTS" --output-dir outtr
compare outtr/output_0.pb out1/output_0.pb
expect_fail 30 "torchrun-style variables say WORLD_SIZE=4.*mpirun -np 4" \
  env RANK=0 WORLD_SIZE=4 LOCAL_RANK=0 ./m4.bin --inputs "$INPUTS" --output-dir outtr4
echo PASS
