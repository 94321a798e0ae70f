#!/usr/bin/env bash
# torchrun_local.sh N CMD [ARGS...]: starts N local processes of CMD with the variables
# `torchrun --nproc-per-node N` sets (RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE,
# MASTER_ADDR, MASTER_PORT), without PyTorch. MASTER_ADDR defaults to 127.0.0.1 and MASTER_PORT
# to a free port. The ranks are children of this script (they share a parent process). Exits
# with the first non-zero status in rank order, 0 when every rank succeeded.
set -uo pipefail
n=$1
shift
port=${MASTER_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)))}
pids=()
for ((r = 0; r < n; r++)); do
  RANK=$r WORLD_SIZE=$n LOCAL_RANK=$r LOCAL_WORLD_SIZE=$n MASTER_ADDR=${MASTER_ADDR:-127.0.0.1} \
    MASTER_PORT=$port "$@" &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do
  wait "$p"
  s=$?
  [ "$rc" -ne 0 ] || rc=$s
done
exit "$rc"
