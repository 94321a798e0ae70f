#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then examples/embed (a separate CMake project)
# configured with only that prefix: find_package(Tessera) + Tessera::runtime, C++ and C. Its
# programs run a plan on one rank and under mpirun -np 4 and must match the reference. Also
# packs an executable with the *installed* tessera-runner.
source "$(dirname "$0")/common.sh"
need_compiler
P=$WORK/prefix
cmake --install "$TSR_BUILD_DIR" --prefix "$P" >/dev/null
for f in include/tessera/runtime.h include/tessera/tessera_c.h include/tessera/schema/plan.pb.h \
  lib/libtessera_runtime.a lib/cmake/Tessera/TesseraConfig.cmake bin/tessera-runner; do
  [ -e "$P/$f" ] || die "install lacks $f"
done
GEN=(); command -v ninja >/dev/null && GEN=(-G Ninja)
cmake -S "$TSR_SOURCE_DIR/examples/embed" -B "$WORK/eb" "${GEN[@]}" -DCMAKE_PREFIX_PATH="$P" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$WORK/configure.log" 2>&1 ||
  { cat "$WORK/configure.log"; die "configure of examples/embed against $P failed"; }
cmake --build "$WORK/eb" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log"; die "build failed"; }
# Built against the prefix, not the build or source tree.
if grep -q -e "$TSR_BUILD_DIR/" -e "$TSR_SOURCE_DIR/runtime" "$WORK/eb/compile_commands.json"; then
  die "examples/embed compiled with paths into the build or source tree"
fi

compile_plan "$WORK/m1.tsr"
compile_plan "$WORK/m4.tsr" dp=2,tp=2
cd "$WORK"
for prog in embed_cpp embed_c; do
  "eb/$prog" m1.tsr "$INPUTS/input_0.pb" "$prog.1.pb"
  compare "$prog.1.pb" "$INPUTS/output_0.pb" 1e-4
  "${MPIRUN[@]}" -np 4 "eb/$prog" m4.tsr "$INPUTS/input_0.pb" "$prog.4.pb"
  compare "$prog.4.pb" "$prog.1.pb"
done
"$TSR_EMIT" m4.tsr "$P/bin/tessera-runner" m4.bin
"${MPIRUN[@]}" -np 4 ./m4.bin --inputs "$INPUTS" --output-dir outexe
compare outexe/output_0.pb embed_cpp.1.pb
echo PASS
