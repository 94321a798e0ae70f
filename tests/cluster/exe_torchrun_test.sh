#!/usr/bin/env bash
# torchrun-style launches without MPI (TCP communicator): the executable of a tiny model on 4
# processes with RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT (mesh dp=2,tp=2) and `tessera run` the
# same way, both against the one-rank run; then failures, each bounded by `timeout` (124 = hang):
# a rank SIGKILLed mid-run, a rank with a different plan (plan-hash check over TCP), a rank 0
# that never comes (connect timeout naming MASTER_ADDR:PORT).
source "$(dirname "$0")/common.sh"
need_compiler
TORCHRUN=(bash "$(cd "$(dirname "$0")" && pwd)/torchrun_local.sh")
compile_plan "$WORK/m1.tsr"
compile_plan "$WORK/m4.tsr" dp=2,tp=2
compile_plan "$WORK/other.tsr" tp=2,dp=2  # same world size, another plan
"$TSR_EMIT" "$WORK/m1.tsr" "$TSR_RUNNER" "$WORK/m1.bin"
"$TSR_EMIT" "$WORK/m4.tsr" "$TSR_RUNNER" "$WORK/m4.bin"
cd "$WORK"
./m1.bin --inputs "$INPUTS" --output-dir out1

echo "== executable and tessera run on 4 torchrun-style ranks"
timeout 120 "${TORCHRUN[@]}" 4 ./m4.bin --inputs "$INPUTS" --output-dir out4 --backend cpu
compare out4/output_0.pb out1/output_0.pb
timeout 120 "${TORCHRUN[@]}" 4 "$TSR_BIN/tessera" run m4.tsr --inputs "$INPUTS" --output-dir outrun
compare outrun/output_0.pb out1/output_0.pb
expect_fail 30 "error: --backend: unknown backend 'gpu'" ./m1.bin --inputs "$INPUTS" --output-dir o --backend gpu

# rank.sh MODE: rank 3 differs by MODE (fifo: blocks reading its input, so it can be killed
# while ranks 0-2 wait for it in a collective; plan: runs another plan).
cat >rank.sh <<WRAP
#!/usr/bin/env bash
if [ "\$RANK" = 3 ] && [ "\$1" = fifo ]; then
  echo \$\$ >"$WORK/victim.pid"
  exec "$WORK/m4.bin" --inputs "$WORK/fifo" --output-dir "$WORK/outkill"
fi
if [ "\$RANK" = 3 ] && [ "\$1" = plan ]; then
  exec "$TSR_BIN/tessera" run "$WORK/other.tsr" --inputs "$INPUTS" --output-dir "$WORK/outplan"
fi
exec "$TSR_BIN/tessera" run "$WORK/m4.tsr" --inputs "$INPUTS" --output-dir "$WORK/out\$1"
WRAP
chmod +x rank.sh

echo "== a rank SIGKILLed mid-run"
mkdir -p fifo && mkfifo fifo/input_0.pb
start=$(date +%s)
rc=0
timeout 60 "${TORCHRUN[@]}" 4 ./rank.sh fifo >kill.log 2>&1 &
job=$!
for _ in $(seq 100); do [ -s victim.pid ] && break; sleep 0.2; done
[ -s victim.pid ] || die "rank 3 never started"
sleep 2  # let ranks 0-2 reach the collective
kill -9 "$(cat victim.pid)"
wait "$job" || rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -ne 124 ] || { cat kill.log; die "ranks hung after rank 3 was killed"; }
[ "$rc" -ne 0 ] || { cat kill.log; die "ranks exited 0 after rank 3 was killed"; }
[ "$(grep -c '^error: ' kill.log)" -eq 3 ] || { cat kill.log; die "not every survivor failed"; }
grep -q "peer rank 3 closed its connection" kill.log || { cat kill.log; die "rank 3 not named"; }
echo "ok: ranks exited $rc in ${elapsed}s after rank 3 was killed"

echo "== one rank with a different plan"
expect_fail 60 "1 rank\(s\) loaded a plan that differs from rank 0's" "${TORCHRUN[@]}" 4 ./rank.sh plan
[ "$(grep -c "differs from rank 0's" "$WORK/expect.log")" -eq 4 ] || die "not every rank failed"

echo "== rank 0 never comes; WORLD_SIZE without MASTER_ADDR"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
expect_fail 30 "cannot reach rank 0 at MASTER_ADDR:MASTER_PORT 127.0.0.1:$port within 2" \
  env RANK=1 WORLD_SIZE=4 MASTER_ADDR=127.0.0.1 MASTER_PORT="$port" TSR_CONNECT_TIMEOUT=2 \
  ./m4.bin --inputs "$INPUTS" --output-dir o
expect_fail 30 "WORLD_SIZE=4, but MASTER_ADDR is not set" \
  env RANK=0 WORLD_SIZE=4 ./m4.bin --inputs "$INPUTS" --output-dir o
echo PASS
