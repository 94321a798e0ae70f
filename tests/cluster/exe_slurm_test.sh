#!/usr/bin/env bash
# A real Slurm cluster on localhost (slurm_cluster.sh): the executable of a tiny model under
# `srun -n 4 --mpi=pmix` and inside `sbatch`, compared with the one-rank run; a world-size
# mismatch and a rank killed under srun fail fast. Skips (77) only without the Slurm binaries.
source "$(dirname "$0")/common.sh"
need_compiler
source "$(dirname "$0")/slurm_cluster.sh"
compile_plan "$WORK/m1.tsr"
compile_plan "$WORK/m4.tsr" dp=2,tp=2
"$TSR_EMIT" "$WORK/m1.tsr" "$TSR_RUNNER" "$WORK/m1.bin"
"$TSR_EMIT" "$WORK/m4.tsr" "$TSR_RUNNER" "$WORK/m4.bin"
cd "$WORK"
./m1.bin --inputs "$INPUTS" --output-dir out1

# -O (overcommit): 4 tasks on a 2-core node. --immediate: fail instead of queueing forever.
SRUN=(srun --immediate=30 -O --kill-on-bad-exit=1)
timeout 120 "${SRUN[@]}" -n 4 --mpi=pmix ./m4.bin --inputs "$INPUTS" --output-dir out_srun ||
  { dump_logs; die "srun -n 4 --mpi=pmix failed"; }
compare out_srun/output_0.pb out1/output_0.pb

# MpiDefault=pmix: plain srun works too; and a batch job whose step is the srun.
timeout 120 "${SRUN[@]}" -n 4 ./m4.bin --inputs "$INPUTS" --output-dir out_srun2
compare out_srun2/output_0.pb out1/output_0.pb
timeout 180 sbatch --wait -n 4 -O -o "$WORK/batch.log" \
  --wrap "srun --mpi=pmix ./m4.bin --inputs '$INPUTS' --output-dir '$WORK/out_batch'" ||
  { cat "$WORK/batch.log"; dump_logs; die "sbatch job failed"; }
compare out_batch/output_0.pb out1/output_0.pb

expect_fail 60 "plan mesh has 4 ranks but the world has 2" \
  "${SRUN[@]}" -n 2 --mpi=pmix ./m4.bin --inputs "$INPUTS" --output-dir out_bad

# A rank killed under srun: --kill-on-bad-exit ends the step; peers never hang.
mkdir -p fifo && mkfifo fifo/input_0.pb
cat >rank.sh <<WRAP
#!/usr/bin/env bash
if [ "\$SLURM_PROCID" = 3 ]; then
  echo \$\$ >"$WORK/victim.pid"
  exec "$WORK/m4.bin" --inputs "$WORK/fifo" --output-dir "$WORK/outkill"
fi
exec "$WORK/m4.bin" --inputs "$INPUTS" --output-dir "$WORK/outkill"
WRAP
chmod +x rank.sh
rc=0
timeout 120 "${SRUN[@]}" -n 4 --mpi=pmix ./rank.sh >kill.log 2>&1 &
job=$!
for _ in $(seq 150); do [ -s victim.pid ] && break; sleep 0.2; done
[ -s victim.pid ] || { cat kill.log; die "rank 3 never started"; }
sleep 2
kill -9 "$(cat victim.pid)"
wait "$job" || rc=$?
[ "$rc" -ne 124 ] || { cat kill.log; die "srun step hung after a rank was killed"; }
[ "$rc" -ne 0 ] || { cat kill.log; die "srun step exited 0 after a rank was killed"; }
echo "ok: srun step exited $rc after rank 3 was killed"
echo PASS
