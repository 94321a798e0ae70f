#!/usr/bin/env bash
# One device call: build the runtime with CUDA, run the differential kernel tests and the fused
# attention tests (float64 reference), the tiny models end to end on the GPU (against the
# PyTorch references), 2 ranks on one GPU through NCCL (each rank its own NCCL_HOSTID) against
# the single-rank result, then the GEMM and fused attention benchmarks against PyTorch. Plans
# are compiled on a machine with the compiler and carried in
# benchmarks/cuda/plans (run with carry=["benchmarks/cuda/plans"]: *.tsr is git-ignored).
# Regenerate them with the compiler build:
#   for m in gpt2 bert resnet; do tessera compile ../shared/models/tiny/$m/model.onnx \
#     -o benchmarks/cuda/plans/$m.tsr; done   # plus --mesh tp=2 -o $m.tp2.tsr for gpt2, bert
# and copy each model's test_data_set_0/*.pb into benchmarks/cuda/plans/$m/.
# Usage (device tool): bash benchmarks/cuda/device_check.sh
set -uo pipefail
OUT=${OUT:-/tmp/tessera-out}
mkdir -p "$OUT"
B=build-cuda-dev
P=benchmarks/cuda/plans
fail=0
step() { echo "== $*"; }

step build
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# GTest and CLI11 were present on the H100 image (2026-11-23); if an image lacks them, carry
# copies in .devdeps (include/gtest, include/CLI, lib/libgtest*.a).
extra=()
[ -f /usr/include/gtest/gtest.h ] || extra+=(-DGTEST_ROOT=$PWD/.devdeps)
[ -f /usr/include/CLI/CLI.hpp ] || extra+=(-DCLI11_INCLUDE_DIR=$PWD/.devdeps/include)
echo "extra cmake args: ${extra[*]:-none}"
cmake -S . -B $B -G Ninja -DTESSERA_BUILD_COMPILER=OFF -DTESSERA_BUILD_CUDA=ON \
  -DTESSERA_BUILD_TESTS=ON "${extra[@]}" >"$OUT/cmake.log" 2>&1 || { tail -30 "$OUT/cmake.log"; exit 1; }
ninja -C $B -j16 tessera tessera-runner emit_tool cuda_kernels_test cuda_quant_test \
  cuda_gemm_bench cuda_attention_test cuda_attention_bench cuda_nccl_handoff_check \
  >"$OUT/build.log" 2>&1 \
  || { grep -E "error|FAILED" -A3 "$OUT/build.log" | head -60; exit 1; }
T=$B/bin/tessera

step differential kernel tests
$B/bin/cuda_kernels_test --gtest_brief=1 2>&1 | tail -25 || fail=1

step "quantized ops (static and per-token) vs the CPU kernels"
$B/bin/cuda_quant_test --gtest_brief=1 2>&1 | tail -25 || fail=1

step "fused attention (forward, grad) vs float64 reference"
$B/bin/cuda_attention_test --gtest_brief=1 2>&1 | tail -25 || fail=1

step end to end, one GPU
for m in gpt2 bert resnet; do
  for tf32 in 0 1; do
    TESSERA_CUDA_TF32=$tf32 $T run $P/$m.tsr --inputs $P/$m --output-dir /tmp/o_${m}_${tf32} \
      --backend cuda -v || fail=1
    tol=1e-4; [ $tf32 = 1 ] && tol=1e-2
    echo -n "$m tf32=$tf32: "; $T compare /tmp/o_${m}_${tf32}/output_0.pb $P/$m/output_0.pb --tolerance $tol || fail=1
  done
  $T run $P/$m.tsr --inputs $P/$m --output-dir /tmp/c_$m --backend cpu >/dev/null || fail=1
  echo -n "$m cuda vs cpu: "; $T compare /tmp/o_${m}_0/output_0.pb /tmp/c_$m/output_0.pb --tolerance 1e-5 || fail=1
done
$T run $P/bert.tsr --inputs $P/bert --output-dir /tmp/auto --backend auto -v 2>&1 | tail -1

step 2 ranks on one GPU through NCCL
export NCCL_SOCKET_IFNAME=lo NCCL_DEBUG=WARN TESSERA_NCCL_TIMEOUT_S=120
for m in gpt2 bert; do
  mpirun --allow-run-as-root --oversubscribe -np 2 bash -c \
    'NCCL_HOSTID=tsr-host-$OMPI_COMM_WORLD_RANK exec "$@"' _ \
    $T run $P/$m.tp2.tsr --inputs $P/$m --output-dir /tmp/mp_$m --backend cuda -v || fail=1
  echo -n "$m tp=2 vs single rank: "; $T compare /tmp/mp_$m/output_0.pb /tmp/o_${m}_0/output_0.pb --tolerance 1e-5 || fail=1
  echo -n "$m tp=2 vs reference: "; $T compare /tmp/mp_$m/output_0.pb $P/$m/output_0.pb --tolerance 1e-4 || fail=1
done

step "emitted executables (--backend cuda), one rank and 2 ranks"
$B/bin/emit_tool $P/gpt2.tsr $B/bin/tessera-runner /tmp/gpt2.bin || fail=1
$B/bin/emit_tool $P/gpt2.tp2.tsr $B/bin/tessera-runner /tmp/gpt2.tp2.bin || fail=1
CUDA_VISIBLE_DEVICES=0 /tmp/gpt2.bin --inputs $P/gpt2 --output-dir /tmp/exe1 --backend cuda || fail=1
echo -n "gpt2 executable, cuda: "; $T compare /tmp/exe1/output_0.pb $P/gpt2/output_0.pb --tolerance 1e-4 || fail=1
mpirun --allow-run-as-root --oversubscribe -np 2 bash -c \
  'NCCL_HOSTID=tsr-host-$OMPI_COMM_WORLD_RANK exec "$@"' _ \
  /tmp/gpt2.tp2.bin --inputs $P/gpt2 --output-dir /tmp/exe2 --backend cuda || fail=1
echo -n "gpt2 tp=2 executable, cuda, 2 ranks: "; $T compare /tmp/exe2/output_0.pb $P/gpt2/output_0.pb --tolerance 1e-4 || fail=1

step "the application's own NCCL communicator handed to the session (2 ranks)"
mpirun --allow-run-as-root --oversubscribe -np 2 bash -c \
  'NCCL_HOSTID=tsr-host-$OMPI_COMM_WORLD_RANK exec "$@"' _ \
  $B/bin/cuda_nccl_handoff_check $P/gpt2.tp2.tsr $P/gpt2 /tmp/handoff || fail=1
echo -n "gpt2 tp=2 over the handed-in communicator vs single rank: "
$T compare /tmp/handoff/output_0.pb /tmp/o_gpt2_0/output_0.pb --tolerance 1e-5 || fail=1

step "training on one GPU: gradients and 3 AdamW steps, CUDA vs the CPU backend"
bash benchmarks/cuda/train_check.sh $B || fail=1

step benchmark: bf16 GEMMs, Tessera kernel vs torch.matmul
$B/bin/cuda_gemm_bench | tee "$OUT/gemm_tessera.txt"
python3 benchmarks/cuda/torch_gemm_bench.py | tee "$OUT/gemm_torch.txt"

step "benchmark: fused attention at gpt2-124m's training size, Tessera vs torch SDPA (flash)"
$B/bin/cuda_attention_bench | tee "$OUT/attention_tessera.txt" || fail=1
python3 benchmarks/cuda/torch_attention_bench.py | tee "$OUT/attention_torch.txt"

echo "== overall: $([ $fail = 0 ] && echo PASS || echo FAIL)"
exit $fail
