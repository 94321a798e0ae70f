# Shared by the cluster tests (sourced). Environment from CMakeLists.txt: TSR_BIN (this build's
# bin/), TSR_COMPILER (a tessera with the compiler), TSR_MODEL (a shared tiny model),
# TSR_EMIT (emit_tool: tools::emit_executable), TSR_RUNNER, TSR_C_API_TEST, TSR_SOURCE_DIR,
# TSR_BUILD_DIR. Exit 77 = skipped (ctest SKIP_RETURN_CODE).
set -euo pipefail
WORK=$(mktemp -d /tmp/tessera-cluster.XXXXXX)
CLEANUP=()  # commands run on exit, last first (daemons the test started, then files)
on_exit() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[$i]}" || true; done
  rm -rf "$WORK"
}
trap on_exit EXIT

skip() { echo "SKIPPED: $*"; exit 77; }
die() { echo "FAIL: $*" >&2; exit 1; }
# mpirun as root and with more ranks than cores (CI: root, 2 cores).
MPIRUN=(mpirun --oversubscribe --allow-run-as-root)
INPUTS=$TSR_MODEL/test_data_set_0

need_compiler() {
  "$TSR_COMPILER" compile --help >/dev/null 2>&1 ||
    skip "no tessera with the compiler at '$TSR_COMPILER' (set -DTESSERA_TEST_COMPILER=...)"
}

# compile_plan OUT [MESH]: a plan of the tiny model, for one rank or for MESH.
compile_plan() {
  local out=$1 mesh=${2:-}
  local flags=(); [ -n "$mesh" ] && flags=(--mesh "$mesh")
  "$TSR_COMPILER" compile "$TSR_MODEL/model.onnx" -o "$out" "${flags[@]}" -q
}

compare() { "$TSR_BIN/tessera" compare "$1" "$2" --tolerance "${3:-1e-5}"; }

# expect_fail SECONDS PATTERN CMD...: CMD must exit non-zero (not by timeout) within SECONDS
# and print PATTERN (grep -E) on stdout/stderr.
expect_fail() {
  local secs=$1 pat=$2 rc=0; shift 2
  timeout "$secs" "$@" >"$WORK/expect.log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || die "expected failure, got success: $*"
  [ "$rc" -ne 124 ] || die "hung (killed after ${secs}s): $*"
  grep -Eq "$pat" "$WORK/expect.log" || { cat "$WORK/expect.log" >&2; die "no '$pat' in output of: $*"; }
  echo "ok (exit $rc): $(grep -E "$pat" "$WORK/expect.log" | head -1)"
}
