# Starts a one-node Slurm cluster (munged, slurmctld, slurmd) for this test only, sourced after
# common.sh. Everything lives under $WORK/slurm: its own munge key and socket, its own ports,
# config, spool, pid and log files, so it neither needs nor touches /etc/slurm or a cluster
# already running here. The daemons are stopped by PID on exit (CLEANUP in common.sh).
# Recipe: shared/notes/runtime-notes.md §1.4 (verified on Debian bookworm, slurm-wlm 22.05).
for b in munged mungekey slurmctld slurmd srun sinfo; do
  command -v "$b" >/dev/null || skip "Slurm test needs '$b' (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" -eq 0 ] || skip "Slurm test starts slurmd, which needs root"

S=$WORK/slurm
mkdir -p "$S/ctld" "$S/d" && chmod 700 "$S"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# The daemons fork into the background and write pid files; read them at once (cleanup must
# not depend on files a half-started daemon may not have written yet).
pid_from() {
  for _ in $(seq 50); do [ -s "$1" ] && { cat "$1"; return; }; sleep 0.1; done
  dump_logs; die "no pid file $1 (daemon did not start)"
}
# SIGTERM, wait up to 10 s for the exit (slurmctld saves state first), then SIGKILL. A zombie
# (state Z: reparented to an init that does not reap) counts as stopped.
stop_pid() {
  local pid=$1
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    [ -e "/proc/$pid" ] || return 0
    [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
}
dump_logs() { tail -n 20 "$S"/*.log >&2 || true; }

mungekey --create --keyfile="$S/munge.key"
munged --force --key-file="$S/munge.key" --socket="$S/munge.sock" --pid-file="$S/munged.pid" \
  --log-file="$S/munged.log" --seed-file="$S/munged.seed"
CLEANUP+=("stop_pid $(pid_from "$S/munged.pid")")

cat >"$S/slurm.conf" <<CONF
ClusterName=tessera-test
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$S/munge.sock
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/pgid
TaskPlugin=task/none
ReturnToService=2
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
StateSaveLocation=$S/ctld
SlurmdSpoolDir=$S/d
SlurmctldPidFile=$S/slurmctld.pid
SlurmdPidFile=$S/slurmd.pid
SlurmctldLogFile=$S/slurmctld.log
SlurmdLogFile=$S/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=localhost NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
CONF
export SLURM_CONF=$S/slurm.conf
slurmctld -f "$SLURM_CONF"
CLEANUP+=("stop_pid $(pid_from "$S/slurmctld.pid")")
slurmd -f "$SLURM_CONF"
CLEANUP+=("stop_pid $(pid_from "$S/slurmd.pid")")
for _ in $(seq 60); do
  [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && break
  sleep 0.5
done
[ "$(sinfo -h -o %T 2>/dev/null)" = idle ] || { dump_logs; die "Slurm node never became idle"; }
echo "Slurm up: $(sinfo -h -o '%P %D %T %N')"
