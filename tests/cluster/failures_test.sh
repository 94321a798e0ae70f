#!/usr/bin/env bash
# Failure cases of executables: each must exit non-zero within a bounded time with a one-line
# error naming the culprit. A rank SIGKILLed while its peers wait in a collective must take the
# whole mpirun job down (no hang).
source "$(dirname "$0")/common.sh"
need_compiler
compile_plan "$WORK/m4.tsr" dp=2,tp=2
"$TSR_EMIT" "$WORK/m4.tsr" "$TSR_RUNNER" "$WORK/m4.bin"
cd "$WORK"
RUN=(--inputs "$INPUTS" --output-dir out)

echo "== plan for the wrong mesh (world size mismatch)"
expect_fail 60 "plan mesh has 4 ranks but the world has 2" "${MPIRUN[@]}" -np 2 ./m4.bin "${RUN[@]}"
expect_fail 30 "plan mesh has 4 ranks but the world has 1" ./m4.bin "${RUN[@]}"

echo "== corrupted plan (one byte of the embedded plan flipped)"
cp m4.bin bad.bin
size=$(stat -c %s bad.bin)
printf '\x5a' | dd of=bad.bin bs=1 seek=$((size - 100)) conv=notrunc status=none
expect_fail 60 "bad.bin \(attached plan\): content hash mismatch" \
  "${MPIRUN[@]}" -np 4 ./bad.bin "${RUN[@]}"

echo "== truncated executable (trailer gone) and a bare runner"
head -c $((size - 10)) m4.bin >cut.bin && chmod +x cut.bin
expect_fail 30 "no plan attached to this runner" ./cut.bin "${RUN[@]}"
expect_fail 30 "no plan attached to this runner" "$TSR_RUNNER" "${RUN[@]}"

echo "== corrupted plan file through tessera run"
cp m4.tsr bad.tsr
printf 'XXXX' | dd of=bad.tsr bs=1 seek=0 conv=notrunc status=none
expect_fail 30 "bad.tsr: not a tessera plan" "$TSR_BIN/tessera" run bad.tsr "${RUN[@]}"

echo "== missing sidecar directory"
"$TSR_EMIT" m4.tsr "$TSR_RUNNER" side.bin 0
rm -rf side.bin.d
expect_fail 60 "side.bin.d/plan.tsr', which is missing" "${MPIRUN[@]}" -np 4 ./side.bin "${RUN[@]}"

echo "== missing inputs file"
mkdir -p empty
expect_fail 60 "empty/input_0.pb" "${MPIRUN[@]}" -np 4 ./m4.bin --inputs empty --output-dir out

echo "== a rank SIGKILLed mid-run"
# Rank 3 reads its input from a FIFO nobody writes, so it blocks after the session is up
# (plan hash exchanged) while ranks 0-2 run into the plan's first collective and wait for it.
mkdir -p fifo && mkfifo fifo/input_0.pb
cat >rank.sh <<WRAP
#!/usr/bin/env bash
if [ "\$OMPI_COMM_WORLD_RANK" = 3 ]; then
  echo \$\$ >"$WORK/victim.pid"
  exec "$WORK/m4.bin" --inputs "$WORK/fifo" --output-dir "$WORK/outkill"
fi
exec "$WORK/m4.bin" --inputs "$INPUTS" --output-dir "$WORK/outkill"
WRAP
chmod +x rank.sh
start=$(date +%s)
rc=0
timeout 120 "${MPIRUN[@]}" -np 4 ./rank.sh >kill.log 2>&1 &
job=$!
for _ in $(seq 100); do [ -s victim.pid ] && break; sleep 0.2; done
[ -s victim.pid ] || die "rank 3 never started"
sleep 2  # let ranks 0-2 reach the collective
kill -9 "$(cat victim.pid)"
wait "$job" || rc=$?
elapsed=$(($(date +%s) - start))
[ "$rc" -ne 124 ] || { cat kill.log; die "job hung after a rank was killed"; }
[ "$rc" -ne 0 ] || { cat kill.log; die "job exited 0 after a rank was killed"; }
echo "ok: job exited $rc in ${elapsed}s after rank 3 was killed"
echo PASS
