# shellcheck shell=bash
# Functions for interop scenario scripts. Source it from a bash script that uses set -euo pipefail:
#
#   . "$(dirname "$0")/../lib/scenario.sh"
#   lab_init guest-client                    # scenario name; arms the cleanup trap and a watchdog
#   lab_start -p -- 'rping -c -a $IBCM_HOST_IP -p 7174 -C 1 & ibcm-wait 30'
#   lab_wait_cm 'REQ' 1 10                   # the Linux REQ is in the capture
#   lab_host 5 some-host-program ...         # runs inside the lab's network namespace
#   lab_signal_guest                         # releases the guest's `ibcm-wait`
#   lab_wait_guest 20                        # the guest powers off; returns its command's status
#   lab_kernel_ok                            # no kernel warning/oops in the guest
#
# Every wait has a time limit. Everything the lab made (qemu, tap, namespace, capture, background
# host commands) is removed by lab_stop, which the EXIT trap runs; a scenario that sets its own
# EXIT trap must call lab_stop from it. Results (console log, capture, host logs, timings) stay in
# $LAB_OUT = interop/.cache/results/<scenario>/<kernel series>/.
#
# Variables set: LAB_SCENARIO LAB_KERNEL LAB_NAME LAB_NS LAB_STATE LAB_OUT LAB_PCAP LAB_HOST_IP
# LAB_GUEST_IP LAB_INTEROP LAB_IBCM. The kernel series comes from $IBCM_KERNEL (default 6.1) or
# lab_start -k.
#
# Two guests on one link (interop/vm/run-pair: guest "linux" with the kernel CM, guest "ibcm"
# without it and with the ibcm CLI on its PATH):
#   lab_pair_start -p -- 'LINUX GUEST COMMAND' 'IBCM GUEST COMMAND'   # both ready, then released
#   lab_on ibcm lab_wait_guest_line srv 'listening' 10     # any guest function, for one guest
#   lab_on linux lab_reboot -- 'tagged c1 cm_client connect $IBCM_PEER_IP 7174'
#   lab_pair_wait 30                                        # both power off; both statuses 0
#
# Scenarios with ibcm on the host side (the CLI: $IBCM_CLI, default build/tools/ibcm):
#   lab_need_ibcm
#   lab_ibcm_bg ours 30 connect --transport roce --local "$LAB_HOST_IP" --remote "$LAB_GUEST_IP" ...
#   lab_wait_event ours established 1 10      # its --json events in $LAB_OUT/ours.log
#   lab_expect_events ours 'rep_received established dreq_received timewait_exit'
#   lab_expect_guest l1 'listen CONNECT_REQUEST accept ESTABLISHED ...'   # `tagged l1 cm_client ...`
#   lab_expect_seq <<'EOF'                    # the capture's exact CM sequence (lib/cm-seq)
#   H>G REQ lc=H1 .*
#   G>H REP lc=G1 rc=H1 .*
#   EOF

LAB_INTEROP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LAB_CACHE=${IBCM_INTEROP_CACHE:-$LAB_INTEROP/.cache}
# LAB_HOST_IP, guest_conf (each guest's IP, MAC, tap), pid_alive, capture_start, guest_release
# shellcheck source=../vm/common.sh
. "$LAB_INTEROP/vm/common.sh"
LAB_GUEST_IP=198.51.100.2
LAB_KERNEL=${IBCM_KERNEL:-6.1}
LAB_STARTED=0
LAB_PAIR=0   # 1 after lab_pair_start
LAB_LINK=tap0 # the host's interface on the link: tap0, or a pair's bridge br0
LAB_GUEST=   # the guest the guest functions act on: "" (the single guest), or linux / ibcm (lab_on)
LAB_BG_PIDS=()
LAB_WATCHDOG_PID=
LAB_IBCM=${IBCM_CLI:-$(cd "$LAB_INTEROP/.." && pwd)/build/tools/ibcm}
# Put in front of every guest command: `tagged TAG CMD...` runs CMD with each output line (stdout
# and stderr) prefixed "TAG " on the console and a last line "TAG RC=<exit status>", so the host
# can tell apart the programs of one guest (lab_guest, lab_expect_guest); it returns CMD's status.
# `wait_listen PORT` waits (10 s at most) until an rdma_cm id listens on PORT (`rdma res show
# cm_id`: ucmatose prints nothing once it listens). `skip_qpn N` makes and drops N RC QPs (those of
# N ibv_rc_pingpong servers), so this guest's QPNs start at 0x11 + N where the other's start at
# 0x11: a QPN reported on the wrong side then fails a cross-check. `show_qps COMM N` waits (15 s
# at most) until program COMM has N RC QPs with a remote QPN set (RTR), then prints its QPs'
# `rdma res show qp` lines ("... lqpn 18 rqpn 17 type RC state RTS ... comm ibcm").
# shellcheck disable=SC2016  # expanded by the guest's shell
LAB_GUEST_PRELUDE='tagged() {
  _t=$1; shift
  { "$@" 2>&1; echo $? >"/tmp/.rc.$_t"; echo "RC=$(cat "/tmp/.rc.$_t")"; } |
    while IFS= read -r _l; do echo "$_t $_l"; done
  return "$(cat "/tmp/.rc.$_t")"
}
wait_listen() {
  _n=0
  until rdma res show cm_id | grep -qE "state LISTEN.*:$1( |\$)"; do
    _n=$((_n + 1)); [ $_n -lt 100 ] || { echo "nothing listens on port $1"; return 1; }
    sleep 0.1
  done
}
skip_qpn() {
  _ps=
  for _i in $(seq "$1"); do
    ibv_rc_pingpong -d rxe0 -g 1 -p $((18514 + _i)) >/dev/null 2>&1 &
    _ps="$_ps $!"
  done
  _n=0
  until [ "$(rdma res show qp | grep -c "type RC .*comm ibv_rc_pingpong")" -ge "$1" ] || [ $_n -ge 100 ]; do
    _n=$((_n + 1)); sleep 0.05
  done
  kill $_ps; wait $_ps 2>/dev/null; return 0
}
show_qps() {
  _n=0
  until [ "$(rdma res show qp | grep "comm $1 " | grep -c "rqpn [1-9]")" -ge "$2" ] || [ $_n -ge 300 ]; do
    _n=$((_n + 1)); sleep 0.05
  done
  rdma res show qp | grep "comm $1 "
}'

lab_log() { echo "[$(date +%H:%M:%S.%N | cut -c1-12)] ${LAB_SCENARIO:-lab}/${LAB_KERNEL}: $*" >&2; }
lab_fail() { lab_log "FAIL: $*"; exit 1; }
# lab_figure TEXT: a measured figure of the scenario, logged and kept in $LAB_OUT/figures.txt,
# which interop/run-scenarios prints under the scenario's result and again at the end of the run.
lab_figure() {
  lab_log "$*"
  echo "$*" >>"$LAB_OUT/figures.txt"
}

# lab_init SCENARIO [TOTAL_SECONDS]: names the scenario, arms the EXIT trap and a watchdog that ends
# the scenario (SIGTERM to this shell) after TOTAL_SECONDS (default 300).
lab_init() {
  LAB_SCENARIO=$1
  LAB_TOTAL=${2:-300}
  [ "$(id -u)" -eq 0 ] || lab_fail "must run as root"
  LAB_NAME=s$$
  LAB_NS=ibcm-$LAB_NAME
  LAB_STATE=$LAB_CACHE/run/$LAB_NAME
  LAB_GDIR=$LAB_STATE # the current guest's run-vm state (console.log, qemu.pid, t_ready)
  LAB_OUT=$LAB_CACHE/results/$LAB_SCENARIO/$LAB_KERNEL
  LAB_PCAP=
  rm -rf "$LAB_OUT"
  mkdir -p "$LAB_OUT"
  trap lab_stop EXIT
  trap 'exit 130' INT
  trap 'lab_log "ended by SIGTERM (watchdog: ${LAB_TOTAL}s)"; exit 143' TERM
  # shellcheck disable=SC2016  # $sp is the watchdog's own variable
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$LAB_TOTAL" &
    sp=$!
    wait "$sp" && kill -TERM $$
  ) </dev/null >/dev/null 2>&1 &
  LAB_WATCHDOG_PID=$!
}

# lab_start [-k SERIES] [-p] [-a SRC:DST]... [-g GUEST_SECONDS] [-r READY_SECONDS] -- 'GUEST COMMAND'
# Boots the guest with that command (a shell line run by the guest's sh) and returns once it printed
# IBCM-GUEST-READY (rxe0 is up). -p captures the tap into $LAB_OUT/capture.pcap from before boot.
# In the guest: IBCM_HOST_IP / IBCM_GUEST_IP are set; `ibcm-wait [SECONDS]` blocks until
# lab_signal_guest; cm_client and the rdma-core tools are on PATH.
lab_start() { lab_boot run-vm "$@"; }

# lab_pair_start [-k SERIES] [-p] [-K] [-a ROLE:SRC:DST]... [-g S] [-r S] -- 'LINUX CMD' 'IBCM CMD'
# Boots the two guests of interop/vm/run-pair on one link (bridge br0 in the lab's namespace,
# $LAB_LINK) and returns once both are ready and their commands released: "linux" (198.51.100.2,
# the kernel CM) and "ibcm" (198.51.100.3, no kernel CM module, $IBCM_CLI as `ibcm` on its PATH).
# -K: the ibcm guest with the kernel CM too (a baseline between two kernel-CM guests). -p captures
# the bridge. In the guests IBCM_SELF_IP and IBCM_PEER_IP are set as well. Guest functions then act
# on one guest: lab_on linux|ibcm FUNCTION ARGS...
lab_pair_start() { lab_boot run-pair "$@"; }

# lab_boot run-vm|run-pair OPTIONS -- COMMAND(S): lab_start and lab_pair_start
lab_boot() {
  local tool=$1 args=() cmds=() o n=1
  shift
  OPTIND=1
  while getopts "k:pa:g:r:K" o; do
    case "$o" in
      k) LAB_KERNEL=$OPTARG ;;
      p) LAB_PCAP=$LAB_OUT/capture.pcap; args+=(-p "$LAB_PCAP") ;;
      a) args+=(-a "$OPTARG") ;;
      g) args+=(-g "$OPTARG") ;;
      r) args+=(-r "$OPTARG") ;;
      K) [ "$tool" = run-pair ] || lab_fail "lab_start: -K is lab_pair_start's"; args+=(--ibcm-kernel-cm) ;;
      *) lab_fail "lab_start: bad option" ;;
    esac
  done
  shift $((OPTIND - 1))
  if [ "$tool" = run-pair ]; then
    n=2
    LAB_PAIR=1 LAB_LINK=br0 LAB_GDIR=
  fi
  [ $# -eq $n ] || lab_fail "$tool: want exactly $n guest command(s) after the options"
  if [ "$tool" = run-pair ]; then
    cmds=(--linux "$LAB_GUEST_PRELUDE
$1" --ibcm "$LAB_GUEST_PRELUDE
$2")
  else
    cmds=(-c "$LAB_GUEST_PRELUDE
$1")
  fi
  if [ "$LAB_OUT" != "$LAB_CACHE/results/$LAB_SCENARIO/$LAB_KERNEL" ]; then # -k changed it
    LAB_OUT=$LAB_CACHE/results/$LAB_SCENARIO/$LAB_KERNEL
    rm -rf "$LAB_OUT"; mkdir -p "$LAB_OUT"
    [ -z "$LAB_PCAP" ] || { LAB_PCAP=$LAB_OUT/capture.pcap; args=("${args[@]/*capture.pcap/$LAB_PCAP}"); }
  fi
  [ -f "$LAB_CACHE/$LAB_KERNEL/initrd.gz" ] || "$LAB_INTEROP/vm/build-image" "$LAB_KERNEL" >&2
  LAB_STARTED=1
  # A boot that never reaches IBCM-GUEST-READY has not run a line of the scenario: it is the
  # emulator or the guest kernel, not a CM. It is booted once more (said in the log, its console
  # kept as [ROLE.]console.failed-boot.log); a second failure fails the scenario.
  local try f
  for try in 1 2; do
    if IBCM_CLI=$LAB_IBCM "$LAB_INTEROP/vm/$tool" -k "$LAB_KERNEL" -n "$LAB_NAME" -d "${args[@]}" "${cmds[@]}"; then
      break
    fi
    for f in "$LAB_STATE/console.log" "$LAB_STATE"/*/console.log; do
      [ ! -f "$f" ] || cp "$f" "$LAB_OUT/$(lab_role_of "$f")console.failed-boot.log"
    done
    [ "$try" = 1 ] || lab_fail "guest did not start, twice (see $LAB_OUT/*console.failed-boot.log)"
    lab_log "guest did not start (console: $LAB_OUT/*console.failed-boot.log); booting once more"
  done
  if [ "$LAB_PAIR" = 1 ]; then local what="both guests"; else local what=guest; fi
  lab_log "$what ready after $(cat "$LAB_STATE/t_ready")s"
}

# lab_role_of FILE: "ROLE." for a file in a pair guest's state directory, "" for the single guest's
lab_role_of() {
  local d
  d=$(basename "$(dirname "$1")")
  [ "$d" = linux ] || [ "$d" = ibcm ] && echo "$d." || true
}

# lab_on linux|ibcm FUNCTION ARGS...: run a guest function (lab_console, lab_wait_console,
# lab_wait_guest_line, lab_guest*, lab_expect_guest, lab_wait_guest, lab_kernel_ok,
# lab_signal_guest, lab_power_off, lab_reboot) on that guest of the pair; returns its status
lab_on() {
  [ "$LAB_PAIR" = 1 ] || lab_fail "lab_on: not a pair lab (lab_pair_start)"
  local LAB_GUEST=$1 LAB_GDIR=$LAB_STATE/$1 LAB_GUEST_IP G_IP G_MAC G_TAP
  guest_conf "$1" && [ -n "$1" ] || lab_fail "lab_on: no guest '$1' (linux or ibcm)"
  LAB_GUEST_IP=$G_IP
  shift
  "$@"
}

# lab_pair_wait SECONDS: wait for both guests to power off; 0 if both commands exited 0, else the
# linux guest's status if not 0, else the ibcm guest's
lab_pair_wait() {
  local end=$((SECONDS + $1)) rl=0 ri=0
  lab_on linux lab_wait_guest "$1" || rl=$?
  lab_on ibcm lab_wait_guest $((end - SECONDS > 1 ? end - SECONDS : 1)) || ri=$?
  [ "$rl" = 0 ] || return "$rl"
  return "$ri"
}

# lab_power_off [--keep-link]: pull the guest's plug (SIGKILL qemu); the namespace, tap, capture
# and host programs stay. Nothing more comes from the guest: no DREQ, no REJ, no shutdown.
# A tap nobody holds loses its carrier and drops what the host sends before the capture sees it;
# --keep-link attaches a sink in the guest's place (pcap-tool sink, ended by lab_stop), so the
# capture keeps showing what the host sends to the dead guest. (Not before lab_reboot.)
lab_power_off() {
  lab_need_guest
  "$LAB_INTEROP/vm/stop" --power-off "$LAB_NAME" ${LAB_GUEST:+"$LAB_GUEST"} || lab_fail "could not power off the guest"
  lab_log "guest${LAB_GUEST:+ $LAB_GUEST} powered off"
  if [ "${1:-}" = --keep-link ]; then
    local sink=sink${LAB_GUEST:+-$LAB_GUEST} end=$((SECONDS + 5))
    guest_conf "$LAB_GUEST"
    lab_host_bg "${sink/-/_}" 600 python3 -u "$LAB_INTEROP/lib/pcap-tool" sink "$G_TAP"
    until grep -q 'sink attached' "$LAB_OUT/${sink/-/_}.log" 2>/dev/null; do
      [ $SECONDS -lt "$end" ] || lab_fail "tap sink did not attach: $(cat "$LAB_OUT/${sink/-/_}.log")"
      sleep 0.05
    done
  fi
}

# lab_need_guest: in a pair lab, the guest functions need lab_on
lab_need_guest() {
  [ "$LAB_PAIR" = 0 ] || [ -n "$LAB_GUEST" ] || lab_fail "a pair lab: say which guest (lab_on linux|ibcm ${FUNCNAME[1]} ...)"
}

# lab_reboot [-g S] [-r S] [-a SRC:/DST]... [--] 'GUEST COMMAND': power the guest off and boot it
# again in the same lab (same MAC, IP, GID; the capture goes on) with a new command; returns once
# ready. The options go to run-vm (run-pair) as they are. The previous boot's console stays in
# $LAB_STATE/console.bootN.log (copied to $LAB_OUT at the end). In a pair lab, on the guest lab_on
# names: `lab_on ibcm lab_reboot [--ibcm-kernel-cm] -- 'CMD'` (-a SRC:DST is for that guest; the
# console is $LAB_STATE/ibcm/console.bootN.log, ibcm.console.bootN.log in $LAB_OUT).
lab_reboot() {
  [ $# -ge 1 ] || lab_fail "lab_reboot: no guest command"
  lab_need_guest
  local cmd=${!#} args=("${@:1:$#-1}") i
  [ ${#args[@]} -eq 0 ] || [ "${args[-1]}" != -- ] || unset 'args[-1]'
  if [ "$LAB_PAIR" = 1 ]; then
    for i in "${!args[@]}"; do # -a SRC:DST is for this guest
      [ "${args[i]}" != -a ] || args[i + 1]=$LAB_GUEST:${args[i + 1]}
    done
    IBCM_CLI=$LAB_IBCM "$LAB_INTEROP/vm/run-pair" -n "$LAB_NAME" -B "$LAB_GUEST" "${args[@]}" --"$LAB_GUEST" "$LAB_GUEST_PRELUDE
$cmd" || lab_fail "guest $LAB_GUEST did not boot again (see $LAB_GDIR/console.log)"
  else
    "$LAB_INTEROP/vm/run-vm" -k "$LAB_KERNEL" -n "$LAB_NAME" -d -B "${args[@]}" -c "$LAB_GUEST_PRELUDE
$cmd" || lab_fail "guest did not boot again (see $LAB_STATE/console.log)"
  fi
  lab_log "guest${LAB_GUEST:+ $LAB_GUEST} booted again, ready after $(cat "$LAB_GDIR/t_ready")s"
}

# lab_console: the guest's console output so far (carriage returns removed)
lab_console() {
  [ -n "$LAB_GDIR" ] || { lab_log "a pair lab: say which guest (lab_on linux|ibcm ...)"; return 1; }
  tr -d '\r' <"$LAB_GDIR/console.log"
}

# lab_console_has REGEX: a console line matches (grep -E). (No `grep -q` behind a pipe under
# pipefail: its early exit makes the writer die of SIGPIPE and the pipeline look failed.)
lab_console_has() { lab_console | grep -aE -- "$1" >/dev/null; }

# lab_wait_console REGEX SECONDS: wait until a console line matches (grep -E)
lab_wait_console() {
  local re=$1 end=$((SECONDS + $2))
  while [ $SECONDS -lt "$end" ]; do
    lab_console_has "$re" && return 0
    lab_qemu_alive || { lab_console_has "$re" && return 0; lab_fail "guest gone while waiting for /$re/"; }
    sleep 0.1
  done
  lab_fail "no /$re/ on the guest console within $2s"
}

lab_qemu_alive() { [ -f "$LAB_GDIR/qemu.pid" ] && pid_alive "$(cat "$LAB_GDIR/qemu.pid")"; }

# lab_host SECONDS CMD...: run CMD on the host side, inside the lab's namespace, with a time limit.
lab_host() {
  local t=$1
  shift
  timeout -k 2 "$t" ip netns exec "$LAB_NS" "$@"
}

# lab_host_bg TAG SECONDS CMD...: the same in the background; output in $LAB_OUT/TAG.log
lab_host_bg() {
  local tag=$1 t=$2
  shift 2
  timeout -k 2 "$t" ip netns exec "$LAB_NS" "$@" </dev/null >"$LAB_OUT/$tag.log" 2>&1 &
  LAB_BG_PIDS+=("$!")
  eval "LAB_BG_$tag=$!"
  lab_log "host: started $tag (pid $!): $*"
}

# lab_host_wait TAG SECONDS: wait for a lab_host_bg command; returns its exit status
lab_host_wait() {
  local tag=$1 end=$((SECONDS + $2)) pid
  eval "pid=\${LAB_BG_$tag:-}"
  [ -n "$pid" ] || lab_fail "lab_host_wait: no background command $tag"
  while kill -0 "$pid" 2>/dev/null; do
    [ $SECONDS -lt "$end" ] || lab_fail "host command $tag still running after $2s"
    sleep 0.1
  done
  local rc=0
  wait "$pid" || rc=$?
  return "$rc"
}

# lab_host_stop TAG SECONDS: end a lab_host_bg command with SIGTERM (which `timeout` passes on to
# it) and wait for it; returns its exit status
lab_host_stop() {
  local pid
  eval "pid=\${LAB_BG_$1:-}"
  [ -n "$pid" ] || lab_fail "lab_host_stop: no background command $1"
  kill -TERM "$pid" 2>/dev/null || true
  lab_host_wait "$1" "$2"
}

# lab_capture FILE: capture the link (tap0, a pair's br0) from now on (when lab_start had no -p);
# one at a time (vm/stop ends it)
lab_capture() {
  LAB_PCAP=$1
  capture_start "$LAB_NS" "$LAB_LINK" "$LAB_PCAP" "$LAB_STATE" || lab_fail "capture on $LAB_LINK did not start"
}

# lab_pcap_count DISPLAY_FILTER: packets in the capture matching a tshark display filter
lab_pcap_count() {
  if [ -z "$LAB_PCAP" ] || [ ! -f "$LAB_PCAP" ]; then echo 0; return; fi
  local n
  n=$(tshark -n -r "$LAB_PCAP" -Y "$1" -T fields -e frame.number 2>/dev/null | wc -l) || true
  echo "${n:-0}"
}

# lab_wait_pcap DISPLAY_FILTER COUNT SECONDS: wait for COUNT matching packets in the capture
lab_wait_pcap() {
  local end=$((SECONDS + $3))
  while [ "$(lab_pcap_count "$1")" -lt "$2" ]; do
    [ $SECONDS -lt "$end" ] || lab_fail "capture: fewer than $2 packets match '$1' after $3s"
    sleep 0.2
  done
}

# lab_cm: one line per CM MAD in the capture (lib/pcap-tool cm: all CM messages, comm IDs, ICRC)
lab_cm() { [ -n "$LAB_PCAP" ] && [ -f "$LAB_PCAP" ] && "$LAB_INTEROP/lib/pcap-tool" cm "$LAB_PCAP"; }

# lab_wait_cm REGEX COUNT SECONDS: wait until COUNT lab_cm lines match REGEX (e.g. ' REP ')
lab_wait_cm() {
  local end=$((SECONDS + $3)) n
  while :; do
    n=$(lab_cm 2>/dev/null | grep -cE -- "$1") || true
    [ "${n:-0}" -ge "$2" ] && return 0
    [ $SECONDS -lt "$end" ] || lab_fail "capture: fewer than $2 CM lines match /$1/ after $3s"
    sleep 0.2
  done
}

# lab_inject PCAP FRAME...: send those frames of a capture, byte for byte, out of the host's tap
# (a pair's bridge)
lab_inject() {
  local f=$1
  shift
  lab_host 5 "$LAB_INTEROP/lib/pcap-tool" inject "$LAB_LINK" "$f" "$@" >&2
}

# lab_signal_guest [SECONDS]: release the guest's `ibcm-wait` (a TCP connect to its port 7999)
lab_signal_guest() {
  lab_need_guest
  guest_release "$LAB_NS" "$LAB_GUEST_IP" "${1:-10}" ||
    lab_fail "guest${LAB_GUEST:+ $LAB_GUEST} not waiting for a signal (ibcm-wait) within ${1:-10}s"
}

# lab_wait_guest SECONDS: wait for the guest to power off; returns the guest command's exit status
lab_wait_guest() {
  lab_need_guest
  local end=$((SECONDS + $1)) line
  while lab_qemu_alive; do
    [ $SECONDS -lt "$end" ] || lab_fail "guest${LAB_GUEST:+ $LAB_GUEST} still running after $1s"
    sleep 0.1
  done
  line=$(lab_console | grep -a -o 'IBCM-GUEST-EXIT.*' | head -n 1) || true
  [ -n "$line" ] || lab_fail "guest${LAB_GUEST:+ $LAB_GUEST} ended without IBCM-GUEST-EXIT"
  lab_log "guest${LAB_GUEST:+ $LAB_GUEST}: $line"
  return "$(echo "$line" | sed -n 's/.*rc=\([0-9]*\).*/\1/p')"
}

# lab_kernel_ok: the guest reported no kernel WARNING/BUG/Oops (after its command ended)
lab_kernel_ok() {
  lab_need_guest
  lab_console_has 'IBCM-GUEST-KERNEL-OK' && return 0
  lab_console | grep -a 'IBCM-GUEST-KERNEL' >&2 || true
  lab_fail "guest${LAB_GUEST:+ $LAB_GUEST} kernel reported problems (or no kernel check ran)"
}

# --- ibcm on the host side, and what each side reported ------------------------------------

# lab_need_ibcm: the ibcm CLI is built (fails the scenario with how to build it otherwise)
lab_need_ibcm() {
  [ -x "$LAB_IBCM" ] ||
    lab_fail "no ibcm CLI at $LAB_IBCM (cmake -S . -B build -G Ninja && ninja -C build ibcm_cli, or set IBCM_CLI)"
}

# lab_ibcm_bg TAG SECONDS SUBCOMMAND ARGS...: `ibcm SUBCOMMAND ARGS... --json` in the lab's
# namespace, in the background; its events (one JSON object a line) go to $LAB_OUT/TAG.log
lab_ibcm_bg() {
  local tag=$1 t=$2
  shift 2
  lab_host_bg "$tag" "$t" "$LAB_IBCM" "$@" --json
}

# lab_events TAG: the event names in TAG's log, space-separated
lab_events() { "$LAB_INTEROP/lib/events" names "$LAB_OUT/$1.log"; }

# lab_event TAG EVENT FIELD [N]: FIELD of the N-th EVENT in TAG's log (fails if there is none)
lab_event() {
  "$LAB_INTEROP/lib/events" get "$LAB_OUT/$1.log" "$2" "$3" "${4:-1}" ||
    lab_fail "$1: no field $3 in event $2 #${4:-1}"
}

# lab_event_where TAG EVENT FIELD VALUE FIELD2: FIELD2 of the first EVENT in TAG's log whose FIELD
# is VALUE (fails if there is none)
lab_event_where() {
  local n=1 v
  while v=$("$LAB_INTEROP/lib/events" get "$LAB_OUT/$1.log" "$2" "$3" "$n"); do
    [ "$v" != "$4" ] || { lab_event "$1" "$2" "$5" "$n"; return; }
    n=$((n + 1))
  done
  lab_fail "$1: no $2 event with $3 = $4"
}

# lab_wait_event TAG EVENT COUNT SECONDS: wait until TAG's log has COUNT EVENT lines
lab_wait_event() {
  local end=$((SECONDS + $4)) n
  while :; do
    n=$(lab_events "$1" | tr ' ' '\n' | grep -cx -- "$2") || true
    [ "${n:-0}" -ge "$3" ] && return 0
    [ $SECONDS -lt "$end" ] || lab_fail "$1: fewer than $3 '$2' events after $4s (got: $(lab_events "$1"))"
    sleep 0.1
  done
}

# lab_expect_events TAG 'NAME NAME ...' [N]: TAG's log has exactly these events, in this order;
# with N, only those of its N-th connection (N-th local_comm_id; 0: events without one), for
# connections whose lives overlap (one's TIMEWAIT ends during the next one's setup)
lab_expect_events() {
  local got
  if [ $# -ge 3 ]; then
    got=$("$LAB_INTEROP/lib/events" conn "$LAB_OUT/$1.log" "$3")
  else
    got=$(lab_events "$1")
  fi
  [ "$got" = "$2" ] || lab_fail "$1${3:+ connection $3} reported: '$got'; expected: '$2'"
  lab_log "$1${3:+ connection $3} reported: $got"
}

# lab_guest TAG: the guest's lines of `tagged TAG ...` (whole lines, tag removed)
lab_guest() { "$LAB_INTEROP/lib/events" guest-lines "$LAB_GDIR/console.log" "$1"; }

# lab_guest_has TAG REGEX: a line of `tagged TAG ...` matches REGEX (grep -E)
lab_guest_has() { lab_guest "$1" | grep -E -- "$2" >/dev/null; }

# lab_guest_field TAG REGEX KEY [N]: the value of KEY=value in the N-th (default first) TAG line
# matching REGEX
lab_guest_field() {
  lab_guest "$1" | grep -E -- "$2" | sed -n "s/.* $3=\([^ ]*\).*/\1/p" | sed -n "${4:-1}p"
}

# lab_expect_guest TAG 'WORD ...' [CONSOLE]: what the guest's `tagged TAG` program reported, as
# lib/events guest lists it (EV= names without RDMA_CM_EVENT_, actions without ACT=, RESULT=, RC=), is exactly this.
# CONSOLE: another console log than the current boot's (e.g. $LAB_STATE/console.boot1.log).
lab_expect_guest() {
  local got
  lab_need_guest
  got=$("$LAB_INTEROP/lib/events" guest "${3:-$LAB_GDIR/console.log}" "$1")
  [ "$got" = "$2" ] || lab_fail "guest $1 reported: '$got'; expected: '$2'"
  lab_log "guest $1 reported: $got"
}

# lab_expect_guest_any_order TAG 'WORD ...' [CONSOLE]: the same words as lab_expect_guest, in any
# order (a listener whose connections' events interleave)
lab_expect_guest_any_order() {
  local got
  lab_need_guest
  got=$("$LAB_INTEROP/lib/events" guest "${3:-$LAB_GDIR/console.log}" "$1")
  [ "$(tr ' ' '\n' <<<"$got" | sort)" = "$(tr ' ' '\n' <<<"$2" | sort)" ] ||
    lab_fail "guest $1 reported: '$got'; expected, in any order: '$2'"
  lab_log "guest $1 reported: $got"
}

# lab_wait_guest_line TAG REGEX SECONDS: wait for a line of `tagged TAG ...` matching REGEX
lab_wait_guest_line() { lab_wait_console "^$1 .*$2" "$3"; }

# lab_seq [--times]: the capture's CM sequence (lib/cm-seq)
lab_seq() { "$LAB_INTEROP/lib/cm-seq" --ibcm "$LAB_IBCM" "$@" "$LAB_PCAP"; }

# lab_stale_recovery MAX_ROUND_TRIPS: the capture's stale recovery (lib/cm-seq --recovery) into
# $LAB_OUT/stale-recovery.json and the log; fails if there is none or it took more round trips
lab_stale_recovery() {
  local r
  r=$(lab_seq --recovery) || lab_fail "no stale recovery in the capture"
  echo "$r" >"$LAB_OUT/stale-recovery.json"
  lab_log "stale recovery: $r"
  python3 -c 'import json, sys; sys.exit(json.loads(sys.argv[1])["round_trips"] > int(sys.argv[2]))' \
    "$r" "$1" || lab_fail "stale recovery took more than $1 round trips"
}

# A guest command that starts with $LAB_CLOCK_MARK ties the guest's clock to the capture's: it
# reads the uptime, then pings the host (the echo request is on the capture) and prints the uptime.
# shellcheck disable=SC2016,SC2034  # expanded by the guest's shell; used by scenarios
LAB_CLOCK_MARK='read _up _x </proc/uptime; ping -c 1 -W 2 $IBCM_HOST_IP >/dev/null 2>&1; echo "clock-mark uptime=$_up"'

# lab_reboot_to_data WHAT ROLE T_OFF CONSOLE: the time from a pair guest's reboot to the first data
# on the new connection, all on the capture's (host) clock: from T_OFF (the power cut: `now` before
# `lab_on ROLE lab_reboot`), from that boot's READY (CONSOLE: that boot's console, whose command
# started with $LAB_CLOCK_MARK; READY = the mark's echo request - (mark uptime - READY uptime)), and
# from the stale REQ (the first REQ after T_OFF), to the first RC SEND (BTH opcode SEND_FIRST or
# SEND_ONLY) after T_OFF, whose receive is the first completion. Logged; a JSON line appended to
# $LAB_OUT/reboot-to-data.txt (WHAT names the run: ibcm, kernel-cm)
lab_reboot_to_data() {
  # shellcheck disable=SC2034  # guest_conf sets all three
  local G_IP G_MAC G_TAP up_ready up_mark t_ready firsts t_data t_req t_mark end=$((SECONDS + 3)) r
  guest_conf "$2"
  while :; do # the capture file may lag the wire
    # one pass: the first RC SEND, CM REQ and echo request from the guest after T_OFF
    firsts=$(tshark -n -r "$LAB_PCAP" -Y "frame.time_epoch > $3" -T fields -E separator=, \
      -e frame.time_epoch -e infiniband.bth.opcode -e infiniband.mad.attributeid -e icmp.type -e ip.src 2>/dev/null |
      awk -F, -v g="$G_IP" '
        $4 == "" && !d && ($2 == "0" || $2 == "4") { d = $1 }
        $4 == "" && !q && ($3 == "0x0010" || $3 == "16") { q = $1 }
        !m && $4 == "8" && $5 == g { m = $1 }
        END { print d, q, m }') || true
    read -r t_data t_req t_mark <<<"$firsts"
    [ -z "$t_data" ] && [ $SECONDS -lt "$end" ] || break
    sleep 0.25
  done
  [ -n "$t_data" ] || lab_fail "capture: no RC SEND after the reboot of $2"
  up_ready=$(tr -d '\r' <"$4" | sed -n 's/.*IBCM-GUEST-READY.* uptime=\([0-9.]*\).*/\1/p' | sed -n 1p)
  up_mark=$(tr -d '\r' <"$4" | sed -n 's/^clock-mark uptime=\([0-9.]*\).*/\1/p' | sed -n 1p)
  [ -n "$t_req" ] && [ -n "$t_mark" ] && [ -n "$up_ready" ] && [ -n "$up_mark" ] ||
    lab_fail "reboot of $2: no stale REQ ($t_req), clock mark ($t_mark, $up_mark) or READY ($up_ready)"
  t_ready=$(awk -v m="$t_mark" -v u="$up_mark" -v r="$up_ready" 'BEGIN { printf "%.6f", m - (u - r) }')
  r=$(printf '{"scenario":"%s","kernel":"%s","run":"%s","rebooted":"%s","power_off_to_data_s":%s,"ready_to_data_s":%s,"stale_req_to_data_s":%s}' \
    "$LAB_SCENARIO" "$LAB_KERNEL" "$1" "$2" "$(lab_diff "$3" "$t_data")" "$(lab_diff "$t_ready" "$t_data")" "$(lab_diff "$t_req" "$t_data")")
  echo "$r" >>"$LAB_OUT/reboot-to-data.txt"
  lab_figure "reboot of $2 to the first data ($1): $(lab_diff "$3" "$t_data") s from the power cut, $(lab_diff "$t_ready" "$t_data") s from READY, $(lab_diff "$t_req" "$t_data") s from the stale REQ"
}

# lab_expect_seq [--conn NAME] [PCAP] <<EOF ... EOF: the capture's CM message sequence is exactly
# the given lines (one regular expression per line, see lib/cm-seq); the comparison goes to
# $LAB_OUT/seq.txt. --conn NAME: only the MADs of that connection (lc= or rc= NAME: G1, I2, ...),
# for connections set up or torn down at the same time, whose MADs interleave in any order
# shellcheck disable=SC2120  # the capture argument is optional
lab_expect_seq() {
  local conn=()
  [ "${1:-}" != --conn ] || { conn=(--conn "$2"); shift 2; }
  local f=${1:-$LAB_PCAP} rc want end
  [ -n "$f" ] && [ -f "$f" ] || lab_fail "lab_expect_seq: no capture"
  want=$(cat)
  # The capture file may lag the wire (the last packets still in the capturer's buffer): a
  # sequence that differs is compared again for up to 3 s before it fails.
  end=$((SECONDS + 3))
  while :; do
    rc=0
    printf '%s\n' "$want" | "$LAB_INTEROP/lib/cm-seq" --ibcm "$LAB_IBCM" "${conn[@]}" --expect - "$f" \
      >"$LAB_OUT/seq.txt" 2>&1 || rc=$?
    if [ "$rc" = 0 ] || [ "$SECONDS" -ge "$end" ]; then break; fi
    sleep 0.25
  done
  cat "$LAB_OUT/seq.txt" >&2
  [ "$rc" = 0 ] || lab_fail "CM sequence${conn[1]:+ of ${conn[1]}} in $(basename "$f") is not the expected one"
}

# lab_mad_field N NAME [PCAP]: field NAME (spec name) of the N-th CM MAD in the capture
lab_mad_field() {
  "$LAB_INTEROP/lib/cm-seq" --ibcm "$LAB_IBCM" --field "$1" "$2" "${3:-$LAB_PCAP}" ||
    lab_fail "no field $2 in CM MAD #$1"
}

# lab_seq_times MSG...: the capture times (seconds) of the CM MADs of those types, one a line
lab_seq_times() {
  local re
  re=$(printf '%s|' "$@")
  lab_seq --times | awk -v re="^(${re%|})\$" '$3 ~ re { print $1 }'
}

# lab_cm_time T: a CM time value in seconds, 4.096 us x 2^T (timeouts, packet lifetimes)
lab_cm_time() { awk -v t="$1" 'BEGIN { printf "%.9f", 4.096e-6 * 2 ^ t }'; }

# lab_diff A B: B - A in seconds, 3 decimals
lab_diff() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# lab_within WHAT MEASURED EXPECTED [LATE]: MEASURED is EXPECTED, never early (2 ms for rounding),
# late by at most LATE seconds (default 0.25: timers on a busy 2-core machine); logs both
lab_within() {
  local late=${4:-0.25}
  lab_log "$1: $2 s (expected $3 s, up to +$late)"
  awk -v m="$2" -v e="$3" -v s="$late" 'BEGIN { exit !(m >= e - 0.002 && m <= e + s) }' ||
    lab_fail "$1 took $2 s, expected $3 s (up to +$late)"
}

# lab_stop: end everything the lab made and keep its logs in $LAB_OUT. Safe to call twice.
lab_stop() {
  local rc=$? pid
  trap - EXIT
  if [ -n "$LAB_WATCHDOG_PID" ]; then
    kill "$LAB_WATCHDOG_PID" 2>/dev/null || true
    wait "$LAB_WATCHDOG_PID" 2>/dev/null || true
    LAB_WATCHDOG_PID=
  fi
  for pid in "${LAB_BG_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  LAB_BG_PIDS=()
  if [ "$LAB_STARTED" = 1 ]; then
    "$LAB_INTEROP/vm/stop" "$LAB_NAME" || true
    if [ -d "$LAB_STATE" ]; then
      # A pair's guest files get their guest's name in front: linux.console.log, ibcm.t_ready, ...
      for f in "$LAB_STATE"/{,linux/,ibcm/}{console.log,qemu.err,capture.err,t_ready,console.boot*.log}; do
        [ ! -f "$f" ] || cp "$f" "$LAB_OUT/$(lab_role_of "$f")$(basename "$f")"
      done
      rm -rf "$LAB_STATE"
    fi
    LAB_STARTED=0
  fi
  [ -z "$LAB_PCAP" ] || [ ! -f "$LAB_PCAP" ] || "$LAB_INTEROP/lib/pcap-tool" cm "$LAB_PCAP" >"$LAB_OUT/cm.txt" 2>/dev/null || true
  return "$rc"
}
