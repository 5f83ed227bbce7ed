#!/usr/bin/env bash
# A throwaway single-node Ceph with radosgw (S3) on 127.0.0.1, for the tests (.ci/run) and by hand.
#
#   scripts/s3-server.sh start   # install Debian's ceph packages if missing, create the cluster, wait for S3
#   eval "$(scripts/s3-server.sh env)"   # ARTIFACTSTORE_TEST_S3_* for the tests
#   scripts/s3-server.sh stop    # kill the daemons, remove the state folder
#   scripts/s3-server.sh status  # exit 0 when S3 answers
#
# One monitor (v1 on its default port 6789: a non-default monitor port gave radosgw auth error -13), one memstore
# OSD (data in RAM), no cephx (auth ... required = none), radosgw's beast frontend on 127.0.0.1:7480. Everything
# (ceph.conf, mon/osd data, logs, pid files, admin sockets) lives under the state folder; /etc/ceph and
# /var/lib/ceph are neither needed nor touched. The cluster fsid is generated on every start.
#
# Environment:
#   ARTIFACTSTORE_S3_STATE_DIR      state folder (default /tmp/artifactstore-ceph); removed by `stop`
#   ARTIFACTSTORE_S3_PORT           radosgw port (default 7480)
#   ARTIFACTSTORE_S3_MEMSTORE_GIB   capacity the memstore OSD reports, in GiB (default 8; RAM is used only for
#                                   what is stored; writes are refused once ~95% of it is used)
#   ARTIFACTSTORE_S3_START_TIMEOUT  seconds to wait for S3 to answer (default 60)
set -Eeuo pipefail

STATE_DIR=${ARTIFACTSTORE_S3_STATE_DIR:-/tmp/artifactstore-ceph}
RGW_PORT=${ARTIFACTSTORE_S3_PORT:-7480}
MEMSTORE_GIB=${ARTIFACTSTORE_S3_MEMSTORE_GIB:-8}
START_TIMEOUT=${ARTIFACTSTORE_S3_START_TIMEOUT:-60}
MON_PORT=6789 # radosgw failed with auth error -13 on a non-default monitor port
ENDPOINT="http://127.0.0.1:${RGW_PORT}"
ACCESS_KEY=artifactstore
SECRET_KEY=artifactstore-secret
REGION=us-east-1
case "$STATE_DIR" in
  / | /tmp | "$HOME" | "") echo "s3-server: refusing state folder '${STATE_DIR}' (stop removes it)" >&2 && exit 2 ;;
esac
CONF="${STATE_DIR}/ceph.conf"
DAEMONS=(mon.a osd.0 client.rgw.a) # start order; stopped in reverse
RGW_POOLS=(.rgw.root default.rgw.control default.rgw.meta default.rgw.log default.rgw.buckets.index
  default.rgw.buckets.non-ec default.rgw.buckets.data)

log() { echo "s3-server: $*" >&2; }
die() {
  log "FAIL: $*"
  exit 1
}

pid_file() { echo "${STATE_DIR}/run/$1.pid"; }

# The pid recorded for a daemon, if that process is alive.
live_pid() {
  local file pid
  file=$(pid_file "$1")
  [ -s "$file" ] || return 1
  pid=$(<"$file")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

s3_answers() {
  # An anonymous GET / answers with an S3 XML document (ListAllMyBucketsResult).
  curl -fsS --max-time 2 "${ENDPOINT}/" 2>/dev/null | grep -q '<?xml'
}

# The monitor commands of the setup, from one Python process on one librados connection (Debian's python3-rados,
# a dependency of ceph-common): quicker than a `ceph` CLI process per command, and each command is retried on EPERM.
# Without cephx a fresh client may send its first command before it has the monmap; the monitor then logs
# "handle_command on fsid 00000000-0000-0000-0000-000000000000 != <fsid>" and answers EPERM, which the `ceph` CLI
# reports as "Error EPERM: problem getting command descriptions from mon." (seen in about 1 start in 5). All the
# commands here are idempotent, so retrying is safe.
mon_setup() { # osd-uuid pool...
  /usr/bin/python3 - "$CONF" "$@" <<'PY'
import json, sys, time
import rados

conf, osd_uuid, pools = sys.argv[1], sys.argv[2], sys.argv[3:]
cluster = rados.Rados(conffile=conf, name="client.admin")
cluster.connect(timeout=20)


def mon(prefix, **args):
    cmd = json.dumps({"prefix": prefix, "format": "json", **args})
    deadline = time.monotonic() + 20
    while True:
        ret, out, errs = cluster.mon_command(cmd, b"", timeout=20)
        if ret == 0:
            print(f"{prefix} {args}: ok {errs}".rstrip())
            return out
        if ret == -1 and time.monotonic() < deadline:  # EPERM: the fsid race above
            print(f"{prefix}: {ret} {errs}; retrying", file=sys.stderr)
            time.sleep(0.1)
            continue
        sys.exit(f"{prefix} {args}: error {ret}: {errs}")


osd_id = json.loads(mon("osd new", uuid=osd_uuid, id=0))["osdid"]
if osd_id != 0:
    sys.exit(f"expected osd id 0, got {osd_id}")
mon("osd crush add", id=0, weight=1.0, args=["root=default"])
for pool in pools:
    mon("osd pool create", pool=pool, pg_num=8, pgp_num=8)
    mon("osd pool application enable", pool=pool, app="rgw")
cluster.shutdown()
PY
}

# Run one setup command; on failure show its output and the daemon logs, and fail.
step() {
  local out="${STATE_DIR}/log/setup.out"
  echo "+ $*" >>"$out"
  if ! "$@" >>"$out.last" 2>&1; then
    cat "$out.last" >>"$out"
    log "'$*' failed:"
    cat "$out.last" >&2
    show_logs
    die "setup step failed: $*"
  fi
  cat "$out.last" >>"$out"
  rm -f "$out.last"
}

show_logs() {
  local f
  for f in "${STATE_DIR}"/log/*.log; do
    [ -s "$f" ] || continue
    echo "----- tail of $f" >&2
    tail -n 25 "$f" >&2
  done
}

ensure_packages() {
  local missing=() pkg
  for pkg in ceph-mon ceph-osd radosgw ceph-common; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  command -v curl >/dev/null || missing+=(curl)
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || die "need root to apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The packages' systemd units are not used (nor started without systemd); our daemons run from the state folder.
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

write_conf() {
  local fsid=$1
  cat >"$CONF" <<EOF
# Throwaway cluster of scripts/s3-server.sh; removed by 'stop'.
[global]
fsid = ${fsid}
mon initial members = a
mon host = v1:127.0.0.1:${MON_PORT}
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr2 = false
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
keyring = ${STATE_DIR}/keyring
run dir = ${STATE_DIR}/run
crash dir = ${STATE_DIR}/crash
log file = ${STATE_DIR}/log/\$name.log
admin socket = ${STATE_DIR}/run/\$name.asok
pid file = ${STATE_DIR}/run/\$name.pid
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
paxos propose interval = 0.1
mon cluster log file = ${STATE_DIR}/log/cluster.\$channel.log
mon data avail warn = 1
mon data avail crit = 0
mon warn on insecure global id reclaim allowed = false

[mon]
mon data = ${STATE_DIR}/mon/\$cluster-\$id

[osd]
osd data = ${STATE_DIR}/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = $((MEMSTORE_GIB * 1024 * 1024 * 1024))
osd crush update on start = false
osd class update on start = false

[client.rgw.a]
rgw data = ${STATE_DIR}/rgw
rgw frontends = beast endpoint=127.0.0.1:${RGW_PORT} tcp_nodelay=1
rgw dns name = 127.0.0.1
rgw enable usage log = false
# no lifecycle threads (they sleep in 5 s steps and hold up shutdown); garbage collection of deleted objects' data
# after 60 s instead of 2 h, so long benchmarks do not keep deleted bytes in the memstore OSD's RAM
rgw enable lc threads = false
rgw gc obj min wait = 60
rgw gc processor period = 60
EOF
}

start_daemon() { # name, command...
  local name=$1
  shift
  "$@" -c "$CONF" >>"${STATE_DIR}/log/${name}.out" 2>&1 || {
    show_logs
    die "could not start ${name}"
  }
  local i
  for i in $(seq 1 50); do
    live_pid "$name" >/dev/null && return 0
    sleep 0.1
  done
  show_logs
  die "${name} wrote no pid file ($(pid_file "$name")) or exited"
}

cmd_start() {
  trap 'log "FAIL: line ${LINENO}: ${BASH_COMMAND}"' ERR
  if [ -d "$STATE_DIR" ]; then
    local all_alive=1 d
    for d in "${DAEMONS[@]}"; do live_pid "$d" >/dev/null || all_alive=0; done
    if [ $all_alive -eq 1 ] && s3_answers; then
      log "already running (${ENDPOINT}, state ${STATE_DIR})"
      return 0
    fi
    log "found a stale or partial cluster in ${STATE_DIR}; removing it"
    cmd_stop
  fi

  ensure_packages
  local port
  for port in "$MON_PORT" "$RGW_PORT"; do
    port_busy "$port" && die "127.0.0.1:${port} is already in use (another cluster started with a different" \
      "ARTIFACTSTORE_S3_STATE_DIR, or whose state folder was removed? see: ss -ltnp 'sport = :${port}')"
  done

  local t0=$SECONDS fsid osd_uuid
  mkdir -p "${STATE_DIR}"/{run,log,crash,mon/ceph-a,osd/ceph-0,rgw}
  export CEPH_CONF="$CONF"
  fsid=$(cat /proc/sys/kernel/random/uuid)
  osd_uuid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$fsid"

  # Monitor: a monmap with the one v1 address, mkfs, start (daemonizes itself, writes its pid file).
  step ceph-authtool --create-keyring "${STATE_DIR}/keyring" --gen-key -n mon. --cap mon 'allow *'
  step ceph-authtool "${STATE_DIR}/keyring" --gen-key -n client.admin --cap mon 'allow *' --cap osd 'allow *' \
    --cap mds 'allow *' --cap mgr 'allow *'
  step monmaptool --create --fsid "$fsid" --add a "127.0.0.1:${MON_PORT}" "${STATE_DIR}/monmap"
  ceph-mon -c "$CONF" --mkfs -i a --monmap "${STATE_DIR}/monmap" --keyring "${STATE_DIR}/keyring" \
    >>"${STATE_DIR}/log/mon.a.out" 2>&1 || {
    show_logs
    die "ceph-mon --mkfs failed"
  }
  start_daemon mon.a ceph-mon -i a

  # OSD registered, placed in the CRUSH map by hand (crush update on start is off) and radosgw's pools created up
  # front, all through one librados connection (see mon_setup); then the memstore OSD is made and started.
  step mon_setup "$osd_uuid" "${RGW_POOLS[@]}"
  step ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid"
  start_daemon osd.0 ceph-osd -i 0

  # The test user with fixed keys (also creates the default realm/zonegroup/zone), then radosgw itself.
  radosgw-admin -c "$CONF" user create --uid=artifactstore --display-name=artifactstore \
    --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" >"${STATE_DIR}/log/user-create.out" 2>&1 || {
    cat "${STATE_DIR}/log/user-create.out" >&2
    show_logs
    die "radosgw-admin user create failed"
  }
  start_daemon client.rgw.a radosgw -n client.rgw.a

  local deadline=$((SECONDS + START_TIMEOUT))
  until s3_answers; do
    if [ $SECONDS -ge $deadline ]; then
      show_logs
      die "radosgw did not answer on ${ENDPOINT} within ${START_TIMEOUT} s (state ${STATE_DIR})"
    fi
    local d
    for d in "${DAEMONS[@]}"; do
      live_pid "$d" >/dev/null || {
        show_logs
        die "${d} exited during startup"
      }
    done
    sleep 0.2
  done
  log "S3 up on ${ENDPOINT} in $((SECONDS - t0)) s (state ${STATE_DIR})"
}

# SIGTERM, up to $2 tenths of a second to exit, then SIGKILL (the data is thrown away anyway).
stop_one() {
  local name=$1 grace=$2 pid
  pid=$(live_pid "$name") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 "$grace"); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "${name} (pid ${pid}) still running after SIGTERM; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "${name} (pid ${pid}) survived SIGKILL"
}

cmd_stop() {
  # Clients before servers: radosgw, then the OSD, then the monitor they report to.
  local i
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do stop_one "${DAEMONS[i]}" 50; done
  rm -rf -- "$STATE_DIR"
  return 0
}

cmd_env() {
  cat <<EOF
export ARTIFACTSTORE_TEST_S3_ENDPOINT=${ENDPOINT}
export ARTIFACTSTORE_TEST_S3_ACCESS_KEY_ID=${ACCESS_KEY}
export ARTIFACTSTORE_TEST_S3_SECRET_ACCESS_KEY=${SECRET_KEY}
export ARTIFACTSTORE_TEST_S3_REGION=${REGION}
EOF
}

cmd_status() {
  local d pid
  for d in "${DAEMONS[@]}"; do
    if pid=$(live_pid "$d"); then echo "${d}: pid ${pid}"; else echo "${d}: not running"; fi
  done
  if s3_answers; then
    echo "S3: answering on ${ENDPOINT}"
  else
    echo "S3: not answering on ${ENDPOINT}"
    return 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
