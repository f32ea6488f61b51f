# shellcheck shell=bash
# Shared by interop/vm/{run-vm,run-pair,stop,build-image} and interop/lib/scenario.sh: the lab's
# addresses, process checks by PID, the capture, and the release of a guest's `ibcm-wait`.
# Sourced; defines only variables and functions.

# The host side of every lab (as in tests/vectors): on tap0 (one guest) or on br0 (a pair).
# shellcheck disable=SC2034  # used by the scripts that source this
LAB_HOST_IP=198.51.100.1
LAB_HOST_MAC=42:b0:67:09:1c:8f
LAB_SIGNAL_PORT=7999
# The CM modules a guest booted with ibcm.cm=0 does not load (guest-init).
LAB_KERNEL_CM_MODULES="ib_cm iw_cm rdma_cm rdma_ucm"

# guest_conf ROLE: sets G_IP, G_MAC and G_TAP of a lab's guest. ROLE "" is run-vm's single guest;
# "linux" and "ibcm" are the two guests of a pair lab (run-pair). Returns 1 for another ROLE.
guest_conf() {
  case "$1" in
    "" | linux) G_IP=198.51.100.2 G_MAC=52:54:00:12:34:56 G_TAP=tap0 ;;
    ibcm) G_IP=198.51.100.3 G_MAC=52:54:00:12:34:57 G_TAP=tap1 ;;
    *) return 1 ;;
  esac
}

# pair_other ROLE: the other guest of a pair
pair_other() { if [ "$1" = linux ]; then echo ibcm; else echo linux; fi; }

now() { date +%s.%N; }
# elapsed T0: seconds since T0 (a `now` value), 2 decimals
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
# past DEADLINE: `now` is later than DEADLINE
past() { awk -v d="$1" -v n="$(now)" 'BEGIN { exit !(n > d) }'; }
# deadline_in SECONDS: a deadline that many seconds from now
deadline_in() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a + b }'; }

# pid_alive PID: the process exists and is not a zombie. (A detached qemu is re-parented to PID 1,
# which may reap it seconds later: `kill -0` alone would still see it.)
pid_alive() {
  local st
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "${st%% *}" != Z ]
}

# is_prog PID NAME...: PID is alive and its executable's basename is one of NAME...
is_prog() {
  local pid=$1 exe n
  shift
  [[ "$pid" =~ ^[0-9]+$ ]] && pid_alive "$pid" || return 1
  exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
  exe=$(basename "${exe% (deleted)}")
  for n in "$@"; do [ "$exe" = "$n" ] && return 0; done
  return 1
}

# ldd_libs FILE: every shared library `ldd` lists for FILE (the loader too), one path a line
ldd_libs() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'; }

# capture_start NS IFACE PCAP STATE: capture everything on IFACE in namespace NS into PCAP
# (tcpdump, else dumpcap); records the capturer's PID in STATE/capture.pid (vm/stop ends it with
# SIGINT) and the file in STATE/pcap; returns once it listens. Errors in STATE/capture.err.
capture_start() {
  local ns=$1 ifc=$2 pcap=$3 state=$4 pid
  rm -f "$pcap"
  if command -v tcpdump >/dev/null; then
    ip netns exec "$ns" tcpdump -i "$ifc" -s 0 -B 16384 -U --immediate-mode -Z root -w "$pcap" </dev/null >/dev/null 2>"$state/capture.err" &
  elif command -v dumpcap >/dev/null; then
    ip netns exec "$ns" dumpcap -i "$ifc" -q -P -w "$pcap" </dev/null >/dev/null 2>"$state/capture.err" &
  else
    echo "neither tcpdump nor dumpcap: run interop/install-deps" >&2
    return 1
  fi
  pid=$!
  echo "$pid" >"$state/capture.pid"
  echo "$pcap" >"$state/pcap"
  for _ in $(seq 100); do
    grep -qiE 'listening on|capturing on' "$state/capture.err" 2>/dev/null && return 0
    kill -0 "$pid" 2>/dev/null || { echo "capture failed: $(cat "$state/capture.err")" >&2; return 1; }
    sleep 0.05
  done
  echo "capture did not start: $(cat "$state/capture.err")" >&2
  return 1
}

# guest_release NS IP SECONDS: end the guest's `ibcm-wait` (a TCP connect to IP:7999 from inside
# NS), trying until it listens; returns 1 if it did not within SECONDS
guest_release() {
  local ns=$1 ip=$2 end=$((SECONDS + $3))
  until timeout 2 ip netns exec "$ns" bash -c "exec 3<>/dev/tcp/$ip/$LAB_SIGNAL_PORT && echo go >&3" 2>/dev/null; do
    [ $SECONDS -lt "$end" ] || return 1
    sleep 0.1
  done
}
