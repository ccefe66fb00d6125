#!/usr/bin/env bash
# Builds the benchmarks in Release (build-bench/), runs them all and prints
# one markdown table (the README's Performance section), then the callgrind
# profiles of the liboocsi send and receive paths.
#
#   tests/bench/run.sh            modest default sizes (a few minutes)
#   tests/bench/run.sh --quick    tiny sizes, to prove everything still runs (< 60 s)
#   options: --bindir DIR  use already-built programs in DIR (no build)
#            --no-install  never apt-get (the default when not root)
#            --no-valgrind no callgrind figures (sanitizer builds)
#
# Baselines: mosquitto (broker), libmosquitto-dev and valgrind are installed
# with apt-get only when missing and running as root. Without them the rows
# that need them say "n/a". The broker is started on a free loopback port and
# stopped by its PID. Exit status: 0 when every program ran successfully.
set -uo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
QUICK=0
BINDIR=
INSTALL=1
NOVALGRIND=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --bindir) BINDIR=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-valgrind) NOVALGRIND=1 ;;
    *) echo "usage: $0 [--quick] [--bindir DIR] [--no-install] [--no-valgrind]" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    RT_N=50 HUB_BURST=2000 RC_ROUNDS=1 RC_DOWN=200 COST_N=2000 CG_N=300 FP_N=500 GW_N=200
else
    RT_N=${RT_N:-5000} HUB_BURST=${HUB_BURST:-100000} RC_ROUNDS=${RC_ROUNDS:-5} RC_DOWN=${RC_DOWN:-1000}
    COST_N=${COST_N:-100000} CG_N=${CG_N:-20000} FP_N=${FP_N:-20000} GW_N=${GW_N:-10000}
fi

WORK=$(mktemp -d /tmp/oocsi-bench.XXXXXX)
MQ_PID=
FAILED=0
cleanup() {
    if [ -n "$MQ_PID" ]; then
        kill "$MQ_PID" 2>/dev/null
        wait "$MQ_PID" 2>/dev/null
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '%s\n' "$*" >&2; }

# ------------------------------------------------------------ dependencies
missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
pkg-config --exists libmosquitto 2>/dev/null || missing+=(libmosquitto-dev)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$INSTALL" = 1 ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >&2 ||
            log "apt-get failed; continuing without ${missing[*]}"
    else
        log "missing ${missing[*]} (not installing): those baselines are skipped"
    fi
fi
MOSQUITTO=$(command -v mosquitto 2>/dev/null || { [ -x /usr/sbin/mosquitto ] && echo /usr/sbin/mosquitto; } || true)
VALGRIND=$(command -v valgrind 2>/dev/null || true)
[ "$NOVALGRIND" = 1 ] && VALGRIND=

# ------------------------------------------------------------------- build
if [ -z "$BINDIR" ]; then
    log "building (Release) in build-bench"
    if ! { cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >"$WORK/configure.log" 2>&1 &&
        cmake --build build-bench -j2 --target bench_roundtrip bench_hub bench_reconnect bench_msgcost \
            bench_footprint $(pkg-config --exists libmosquitto 2>/dev/null && echo bench_mosquitto) \
            >"$WORK/build.log" 2>&1; }; then
        cat "$WORK/configure.log" "$WORK/build.log" >&2
        exit 1
    fi
    # the gateway benchmark needs libwebsockets (oocsi-gateway): optional
    cmake --build build-bench -j2 --target bench_gateway >"$WORK/build-gateway.log" 2>&1 ||
        log "bench_gateway not built (no libwebsockets?): its rows are skipped"
    BINDIR=build-bench/tests/bench
fi

run() { # name args...: runs one program, its output into $WORK/name.out
    local name=$1
    shift
    log "+ $*"
    timeout 600 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
    local rc=$?
    if [ "$rc" -eq 0 ] && ! grep -q -e '^ROW|' -e '^RATE|' "$WORK/$name.out"; then
        rc=99 # ran but printed no figures
    fi
    if [ "$rc" -ne 0 ]; then
        log "FAILED: $* (exit $rc)"
        cat "$WORK/$name.out" "$WORK/$name.err" >&2
        FAILED=1
    fi
}

# -------------------------------------------------------- mosquitto broker
MQ_PORT=
if [ -n "$MOSQUITTO" ]; then # bench_mosquitto, and bench_hub's broker rows
    for _ in 1 2 3 4 5; do
        p=$((20000 + RANDOM % 30000))
        if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            continue # taken
        fi
        printf 'listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 1000000\n' "$p" \
            >"$WORK/mosquitto.conf"
        "$MOSQUITTO" -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
        MQ_PID=$!
        for _ in $(seq 50); do
            if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
                MQ_PORT=$p
                break
            fi
            kill -0 "$MQ_PID" 2>/dev/null || break
            sleep 0.1
        done
        [ -n "$MQ_PORT" ] && break
        kill "$MQ_PID" 2>/dev/null
        wait "$MQ_PID" 2>/dev/null
        MQ_PID=
    done
    [ -n "$MQ_PORT" ] || log "could not start mosquitto: the libmosquitto baseline is skipped"
fi

# ------------------------------------- bench_hub: the hub, mosquitto and the Java server side by side
# The broker above, and the Java reference server (../shared/reference) when Java is installed (not with
# --quick: the JVM takes seconds to start); bench_hub reads their CPU time and memory from /proc by PID.
HUB_ARGS=(--conns 1000 --clients 1000)
[ "$QUICK" = 1 ] && HUB_ARGS=(--conns 50 --clients 50)
[ -n "$MQ_PORT" ] && HUB_ARGS+=(--mosquitto "$MQ_PORT:$MQ_PID")
JAVA_PID=
JAVA_SERVER="$ROOT/../shared/reference/run-java-server"
if [ "$QUICK" = 0 ] && [ -x "$JAVA_SERVER" ] && command -v java >/dev/null 2>&1; then
    jp=$((20000 + RANDOM % 30000))
    "$JAVA_SERVER" "$jp" -clients 5000 >"$WORK/java-server.log" 2>&1 &
    JAVA_PID=$! # the script execs java: this is the server's PID
    trap 'cleanup; [ -n "$JAVA_PID" ] && kill "$JAVA_PID" 2>/dev/null' EXIT
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$jp") 2>/dev/null && { HUB_ARGS+=(--java "$jp:$JAVA_PID"); break; }
        kill -0 "$JAVA_PID" 2>/dev/null || break
        sleep 0.1
    done
else
    log "no Java server for bench_hub (--quick, or no java): its rows say n/a"
fi

# ------------------------------------------------------------------- runs
run roundtrip "$BINDIR/bench_roundtrip" "$RT_N"
run hub "$BINDIR/bench_hub" "$HUB_BURST" "${HUB_ARGS[@]}"
if [ -n "$JAVA_PID" ]; then
    kill "$JAVA_PID" 2>/dev/null
    wait "$JAVA_PID" 2>/dev/null
    JAVA_PID=
fi
run reconnect "$BINDIR/bench_reconnect" "$RC_ROUNDS" "$RC_DOWN"
run msgcost "$BINDIR/bench_msgcost" "$COST_N"
[ -n "$MQ_PORT" ] && run mosquitto "$BINDIR/bench_mosquitto" "$MQ_PORT" "$COST_N"
run footprint "$BINDIR/bench_footprint" "$FP_N"
[ -x "$BINDIR/bench_gateway" ] && run gateway "$BINDIR/bench_gateway" "$GW_N"

# instructions per message (callgrind, only the measured loop of one thread)
declare -A IR
cg() { # key program args...
    local key=$1
    shift
    local out="$WORK/cg.$key.out"
    log "+ valgrind --tool=callgrind $*"
    if timeout 600 "$VALGRIND" --tool=callgrind --callgrind-out-file="$out" --collect-atstart=no \
        '--toggle-collect=measured_*' "$@" >"$WORK/cg.$key.log" 2>&1; then
        IR[$key]=$(awk '/^summary:/ {print $2}' "$out")
    else
        log "FAILED under callgrind: $*"
        cat "$WORK/cg.$key.log" >&2
        FAILED=1
    fi
}
if [ -n "$VALGRIND" ]; then
    for size in 50 4096; do
        for mode in send-lib send-raw recv-lib recv-raw; do
            cg "$mode.$size" "$BINDIR/bench_msgcost" "$mode" "$size" "$CG_N"
        done
        if [ -n "$MQ_PORT" ]; then
            cg "send-mosq.$size" "$BINDIR/bench_mosquitto" "$MQ_PORT" send "$size" "$CG_N"
            cg "recv-mosq.$size" "$BINDIR/bench_mosquitto" "$MQ_PORT" recv "$size" "$CG_N"
        fi
    done
fi

# ------------------------------------------------------------------ table
declare -A RATE
while IFS='|' read -r _ mode size rate; do
    RATE[$mode.$size]=$rate
done < <(cat "$WORK/msgcost.out" "$WORK/mosquitto.out" 2>/dev/null | grep '^RATE|')

per_msg() { # key -> instructions per message, or n/a
    local ir=${IR[$1]:-}
    if [ -n "$ir" ]; then awk -v i="$ir" -v n="$CG_N" 'BEGIN { printf "%.0f", i / n }'; else echo n/a; fi
}
cost_row() { # dir size
    local dir=$1 size=$2
    local lib raw mq lr rr mr verdict
    lib=$(per_msg "$dir-lib.$size")
    raw=$(per_msg "$dir-raw.$size")
    mq=$(per_msg "$dir-mosq.$size")
    lr=${RATE[$dir-lib.$size]:-n/a}
    rr=${RATE[$dir-raw.$size]:-n/a}
    mr=${RATE[$dir-mosq.$size]:-n/a}
    verdict=$(awk -v l="$lib" -v r="$raw" -v m="$mq" 'BEGIN {
        if (l == "n/a" || r == "n/a") { print "n/a"; exit }
        a = (l <= 2 * r) ? "yes" : "no"; b = (m == "n/a") ? "n/a" : ((l < m) ? "yes" : "no");
        printf "%s (%.2fx raw); %s", a, l / r, b }')
    local path=send
    [ "$dir" = recv ] && path=receive
    printf '| 2 | %s path, %s B payload: instructions/msg; msg/s | %s; %s/s | raw+cJSON %s; %s/s. libmosquitto %s; %s/s | <= 2x raw; < libmosquitto | %s |\n' \
        "$path" "$size" "$lib" "$lr" "$raw" "$rr" "$mq" "$mr" "$verdict"
}

echo
echo "| # | measurement | liboocsi | baseline / ratio | target | met |"
echo "|---|---|---|---|---|---|"
rows() { # ROW|item|measurement|value|baseline|target|met| -> a table row
    grep -h '^ROW|' "$@" 2>/dev/null | awk -F'|' '{ printf "| %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7 }'
}
rows "$WORK/roundtrip.out" "$WORK/hub.out" "$WORK/reconnect.out"
for dir in send recv; do
    for size in 50 4096; do
        cost_row "$dir" "$size"
    done
done
rows "$WORK/footprint.out" "$WORK/gateway.out"
echo
echo "Instructions per message: valgrind --tool=callgrind, only the measured loop (--toggle-collect=measured_*),"
echo "$CG_N messages per mode; messages/s: native runs of $COST_N (50 B) and $((COST_N / 4)) (4 KiB) messages."

if [ -n "$VALGRIND" ] && [ -f "$WORK/cg.recv-lib.50.out" ]; then
    for key in send-lib.50 send-lib.4096 recv-lib.50 recv-lib.4096; do
        if [ -f "$WORK/cg.$key.out" ]; then
            echo
            echo "callgrind profile, $key (self instructions, top functions):"
            echo '```'
            callgrind_annotate --inclusive=no "$WORK/cg.$key.out" 2>/dev/null | awk '/^-+$/ {d++} d >= 3 && NF' |
                grep -v '^-' | head -16
            echo '```'
        fi
    done
fi

if [ "$QUICK" = 0 ]; then
    echo
    echo "details:"
    for f in roundtrip hub reconnect msgcost mosquitto footprint gateway; do
        [ -f "$WORK/$f.out" ] && grep -v -e '^ROW|' -e '^RATE|' "$WORK/$f.out"
    done
fi
exit "$FAILED"
