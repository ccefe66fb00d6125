#!/usr/bin/env bash
# Builds the benchmarks in Release (build-bench/), runs them all and prints
# one markdown table (the README's Performance section): every row of
# issue 12's targets with liboocsi, the raw socket loop, libmosquitto /
# the mosquitto broker and (hub rows) the Java server side by side, each
# target marked met or not and why; then the callgrind profiles of the
# liboocsi send and receive paths.
#
#   tests/bench/run.sh            default sizes (several minutes)
#   tests/bench/run.sh --quick    tiny sizes, to prove everything still runs (< 60 s)
#   options: --bindir DIR  use already-built programs in DIR (no build)
#            --no-install  never apt-get (the default when not root)
#            --no-valgrind no callgrind figures (sanitizer builds)
#            --readme      also write the table into README.md (between the
#                          bench-table markers of its Performance section)
#            --rt          run the latency programs (round trip, connect) with
#                          real-time priority (chrt -f 10, root only): steady
#                          figures on a machine that other jobs keep busy
#
# Row format (tests/bench/README.md): each program prints lines
#   ROW|target|measurement|liboocsi|raw loop|libmosquitto/mosquitto|Java server|target text|met|why|
# (target: 1-5 as numbered in the README's Targets list, or - for a figure
# without one; met: yes, no or -). Rows of the older six-field form
#   ROW|n|measurement|value|baseline|target|met|
# are shown too, with the baseline in the raw column.
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
README=0
RT=0
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) QUICK=1 ;;
    --bindir) BINDIR=$2; shift ;;
    --no-install) INSTALL=0 ;;
    --no-valgrind) NOVALGRIND=1 ;;
    --readme) README=1 ;;
    --rt) RT=1 ;;
    *) echo "usage: $0 [--quick] [--bindir DIR] [--no-install] [--no-valgrind] [--readme] [--rt]" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" = 1 ]; then
    RT_N=50 CN_N=20 HUB_BURST=2000 RC_ROUNDS=1 RC_DOWN=200 COST_N=2000 CG_N=300 FP_N=500 GW_N=200
else
    RT_N=${RT_N:-5000} CN_N=${CN_N:-500} HUB_BURST=${HUB_BURST:-100000} RC_ROUNDS=${RC_ROUNDS:-5}
    RC_DOWN=${RC_DOWN:-1000,3000,10000}
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
        cmake --build build-bench -j2 --target bench_roundtrip bench_connect bench_hub bench_reconnect bench_msgcost \
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
    if [ "$rc" -eq 0 ] && ! grep -q -e '^ROW|' -e '^RATE|' -e '^HWM|' "$WORK/$name.out"; then
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
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')
LAT=()
SCHED="normal scheduling"
if [ "$RT" = 1 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null 2>&1 && chrt -f 10 true 2>/dev/null; then
        LAT=(chrt -f 10)
        SCHED="SCHED_FIFO (chrt -f 10, --rt)"
    else
        log "--rt: chrt -f is not available here (root needed): normal scheduling"
    fi
fi
run roundtrip "${LAT[@]}" "$BINDIR/bench_roundtrip" "$RT_N"
run connect "${LAT[@]}" "$BINDIR/bench_connect" "$CN_N"
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
# peak RSS of a receive burst: one mode per process (VmHWM covers the whole process)
run burst.lib "$BINDIR/bench_msgcost" recv-lib 50 "$HUB_BURST"
run burst.raw "$BINDIR/bench_msgcost" recv-raw 50 "$HUB_BURST"
[ -n "$MQ_PORT" ] && run burst.mosq "$BINDIR/bench_mosquitto" "$MQ_PORT" recv 50 "$HUB_BURST"
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
        for mode in send-lib send-json send-raw recv-lib recv-raw; do
            cg "$mode.$size" "$BINDIR/bench_msgcost" "$mode" "$size" "$CG_N"
        done
        if [ -n "$MQ_PORT" ]; then
            cg "send-mosq.$size" "$BINDIR/bench_mosquitto" "$MQ_PORT" send "$size" "$CG_N"
            cg "send-text-mosq.$size" "$BINDIR/bench_mosquitto" "$MQ_PORT" send-text "$size" "$CG_N"
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
cost_cell() { # key -> "instructions; msg/s" or n/a
    local ir rate
    [ "$1" = - ] && { echo -; return; }
    ir=$(per_msg "$1")
    rate=${RATE[$1]:-}
    if [ -n "$rate" ]; then echo "$ir; $rate/s"; else echo "$ir"; fi
}
# cost_row TARGET "measurement" LIBKEY RAWKEY MQKEY AGAINST FACTOR STRICT
#   a ROW line for an instructions-per-message comparison (keys of IR/RATE:
#   MODE.SIZE, or - for no such column); met when lib <= FACTOR x the
#   AGAINST column (raw or mq), or < when STRICT is 1.
cost_row() {
    local target=$1 what=$2 lk=$3 rk=$4 mk=$5 against=$6 factor=$7 strict=$8
    local lib ref rule verdict
    lib=$(per_msg "$lk")
    if [ "$against" = raw ]; then ref=$(per_msg "$rk"); else ref=$(per_msg "$mk"); fi
    local name=raw+cJSON
    [ "$against" = mq ] && name=libmosquitto
    if [ "$strict" = 1 ]; then rule="< $name"; else rule="<= $factor x $name"; fi
    [ "$factor" = 1 ] && [ "$strict" != 1 ] && rule="<= $name"
    verdict=$(awk -v l="$lib" -v r="$ref" -v f="$factor" -v s="$strict" -v n="$name" 'BEGIN {
        if (l == "n/a" || r == "n/a" || r == 0) { printf "-|n/a (no %s figure)", n; exit }
        ok = (s == 1) ? (l < f * r) : (l <= f * r);
        printf "%s|%.2fx %s", ok ? "yes" : "no", l / r, n }')
    printf 'ROW|%s|%s: instructions/msg; msg/s|%s|%s|%s|-|%s|%s|\n' "$target" "$what" "$(cost_cell "$lk")" \
        "$(cost_cell "$rk")" "$(cost_cell "$mk")" "$rule" "$verdict"
}
{
    # target 1: receiving
    cost_row 1 "receive, 50 B" recv-lib.50 recv-raw.50 recv-mosq.50 mq 1 0
    cost_row 1 "receive, 4 KiB" recv-lib.4096 recv-raw.4096 recv-mosq.4096 mq 1 0
    # target 2: sending (from a cJSON object; oocsi_send)
    cost_row 2 "send 50 B from a cJSON object (oocsi_send)" send-lib.50 send-raw.50 send-mosq.50 raw 1 1
    cost_row 2 "send 4 KiB from a cJSON object (oocsi_send)" send-lib.4096 send-raw.4096 send-mosq.4096 raw 1 1
    # target 2: sending JSON text as it is (oocsi_send_json) against libmosquitto publishing the same text
    cost_row 2 "send 50 B from JSON text (oocsi_send_json)" send-json.50 - send-text-mosq.50 mq 1.5 0
    cost_row 2 "send 4 KiB from JSON text (oocsi_send_json)" send-json.4096 - send-text-mosq.4096 mq 2 0
    # target 3: peak RSS of a receive burst, one mode per process (VmHWM)
    hwm() { grep -h "^HWM|$1|" "$WORK"/burst.*.out 2>/dev/null | cut -d'|' -f4; }
    awk -v l="$(hwm recv-lib)" -v r="$(hwm recv-raw)" -v m="$(hwm recv-mosq)" -v n="$HUB_BURST" 'BEGIN {
        if (l == "" || m == "") { met = "-"; why = "n/a (no libmosquitto figure)" }
        else { met = (l <= 2 * m) ? "yes" : "no"; why = sprintf("%.2fx libmosquitto", l / m) }
        printf "ROW|3|peak RSS (VmHWM) receiving a burst of %s x 50 B (KiB)|%s|%s|%s|-|<= 2x libmosquitto|%s|%s|\n",
            n, l == "" ? "n/a" : l, r == "" ? "n/a" : r, m == "" ? "n/a" : m, met, why }'
} >"$WORK/cost.out"

# Every ROW line, in the order of the targets (1-5, then the rest), as
# "key<TAB>line"; old-format rows of a program get its default target.
collect_rows() {
    local f def
    for spec in roundtrip:4 connect:4 reconnect:4 cost:- hub:5 footprint:- gateway:-; do
        f=$WORK/${spec%%:*}.out
        def=${spec#*:}
        [ -f "$f" ] || continue
        grep -h '^ROW|' "$f" | awk -F'|' -v def="$def" -v OFS='|' '{
            if (NF >= 11) { t = $2; lib = $4; raw = $5; mq = $6; java = $7; tg = $8; met = $9; why = $10 }
            else { t = def; lib = $4; raw = $5; mq = "-"; java = "-"; tg = $6; met = $7; why = "" }
            key = (t ~ /^[0-9]+$/) ? t : 9
            print key, t, $3, lib, raw, mq, java, tg, met, why }'
    done | sort -s -t'|' -k1,1n
}
ROWS=$(collect_rows)

render_table() {
    echo "| # | measurement | liboocsi | raw loop | libmosquitto / mosquitto | Java server | target | met |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "$ROWS" | awk -F'|' 'NF >= 9 {
        met = $9; why = $10
        if (met == "yes") cell = "**yes**"; else if (met == "no") cell = "**no**"; else cell = met
        if (why != "" && why != "-") cell = (cell == "-" ? why : cell ": " why)
        printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8, cell }'
    echo
    # per target: rows met of rows with a verdict
    printf '%s\n' "$ROWS" | awk -F'|' 'NF >= 9 && $2 ~ /^[0-9]+$/ && ($9 == "yes" || $9 == "no") {
            n[$2]++; if ($9 == "yes") y[$2]++ }
        END { line = "Targets met (rows met / rows with a verdict):"
            for (t = 1; t <= 5; t++) if (n[t]) line = line sprintf(" %d: %d/%d%s;", t, y[t] + 0, n[t], y[t] == n[t] ? " met" : " not met")
            print line }'
    echo
    printf 'Machine: %s CPUs (%s), %s, Linux %s; 1-minute load average %s at the start, %s at the end.\n' \
        "$(nproc 2>/dev/null || echo '?')" \
        "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)" \
        "$(awk '/^MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo 2>/dev/null)" \
        "$(uname -r)" "$LOAD_START" "$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo '?')"
    printf 'Sizes: %s round trips per variant, %s connects per side (both: %s), reconnect %s round(s)\n' \
        "$RT_N" "$CN_N" "$SCHED" "$RC_ROUNDS"
    printf 'with the hub down %s ms,' "$RC_DOWN"
    printf ' bursts of %s; instructions per message: valgrind --tool=callgrind over only the measured loop\n' "$HUB_BURST"
    printf '(--toggle-collect=measured_*), %s messages per mode; msg/s: native runs of %s (50 B) and %s (4 KiB).\n' \
        "$CG_N" "$COST_N" "$((COST_N / 4))"
}
TABLE=$(render_table)
echo
printf '%s\n' "$TABLE"

if [ "$README" = 1 ]; then
    if grep -q '^<!-- bench-table:begin -->' README.md && grep -q '^<!-- bench-table:end -->' README.md; then
        printf '%s\n' "$TABLE" >"$WORK/table.md"
        awk -v tf="$WORK/table.md" '
            /^<!-- bench-table:begin -->/ { print; print ""; while ((getline l < tf) > 0) print l; print ""; skip = 1; next }
            /^<!-- bench-table:end -->/ { skip = 0 }
            !skip' README.md >"$WORK/README.new" && cat "$WORK/README.new" >README.md
        log "README.md: table regenerated"
    else
        log "README.md has no bench-table markers: not changed"
    fi
fi

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
    for f in roundtrip connect hub reconnect msgcost mosquitto footprint gateway; do
        [ -f "$WORK/$f.out" ] && grep -v -e '^ROW|' -e '^RATE|' "$WORK/$f.out"
    done
fi
exit "$FAILED"
