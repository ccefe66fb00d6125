#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz and runs
# each one on a copy of its seed corpus (tests/fuzz/corpus/<target>).
#
#   tests/fuzz/run.sh            60 s per target
#   tests/fuzz/run.sh 600        600 s per target
#   tests/fuzz/run.sh -runs=N    N executions per target (the long run by hand)
#
# A target's dictionary, tests/fuzz/dict/<target>.dict, is passed with
# -dict= when it exists.
#
# Environment: FUZZ_TARGETS="line_codec url" runs only those targets;
# FUZZ_WORK=DIR puts the working corpora, logs and crash files there
# (default build-fuzz/run). Fails if any target finds a crash, a leak, a
# timeout or runs out of memory; the reproducer stays in the work directory
# (run the target binary with that file as its argument to replay it).
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD="$ROOT/build-fuzz"
WORK=${FUZZ_WORK:-$BUILD/run}
TARGETS=${FUZZ_TARGETS:-"line_codec webjson_codec url hub_commands client"}

usage() {
    echo "usage: $0 [seconds | -runs=N]" >&2
    exit 2
}

ARG=${1:-60}
case "$ARG" in
-runs=*)
    N=${ARG#-runs=}
    case "$N" in '' | *[!0-9]*) usage ;; esac
    LIMIT=(-runs="$N")
    ;;
'' | *[!0-9]*) usage ;;
*) LIMIT=(-max_total_time="$ARG") ;;
esac

echo "+ building the fuzz targets in $BUILD (clang)"
mkdir -p "$BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_C_COMPILER=clang -DOOCSI_FUZZ=ON -DOOCSI_BUILD_EXAMPLES=OFF \
    -DOOCSI_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$BUILD/configure.log" 2>&1 ||
    { cat "$BUILD/configure.log"; exit 1; }
cmake --build "$BUILD" -j2 --target fuzz

# Leaks are bugs too; UBSan findings abort (the targets are built with
# -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fuzz_stat() { # fuzz_stat NAME LOG: the value of libFuzzer's final "stat::NAME:" line
    sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

failed=0
summary=()
for t in $TARGETS; do
    bin="$BUILD/tests/fuzz/fuzz_$t"
    seeds="$ROOT/tests/fuzz/corpus/$t"
    dir="$WORK/$t"
    if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
        echo "no such fuzz target: $t" >&2
        exit 2
    fi
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$seeds"/* "$dir/corpus/"
    seeds_n=$(find "$dir/corpus" -type f | wc -l)
    dict=()
    if [ -f "$ROOT/tests/fuzz/dict/$t.dict" ]; then
        dict=(-dict="$ROOT/tests/fuzz/dict/$t.dict")
    fi
    echo
    echo "+ fuzz_$t ${LIMIT[*]} ${dict[*]} ($seeds_n seeds; log $dir/log)"
    start=$(date +%s)
    rc=0
    nice -n 5 "$bin" "${LIMIT[@]}" "${dict[@]}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
    secs=$(($(date +%s) - start))
    execs=$(fuzz_stat number_of_executed_units "$dir/log")
    rate=$(fuzz_stat average_exec_per_sec "$dir/log")
    corpus_n=$(find "$dir/corpus" -type f | wc -l)
    corpus_kb=$(du -sk "$dir/corpus" | cut -f1)
    found=$(find "$dir/artifacts" -type f | wc -l)
    cov=$(grep -oE 'cov: [0-9]+' "$dir/log" | tail -n 1 | cut -d' ' -f2)
    line=$(printf '%-14s %12s execs %7s s %9s exec/s  cov %5s  corpus %4s -> %5s files (%s KiB)  crashes %s' \
        "$t" "${execs:-?}" "$secs" "${rate:-?}" "${cov:-?}" "$seeds_n" "$corpus_n" "$corpus_kb" "$found")
    echo "$line"
    summary+=("$line")
    if [ "$rc" -ne 0 ] || [ "$found" -ne 0 ]; then
        failed=1
        echo "fuzz_$t FAILED (exit $rc); reproducers:" >&2
        find "$dir/artifacts" -type f >&2
        grep -E -A 30 '^==[0-9]+==ERROR|runtime error|invariant broken|deadly signal' "$dir/log" | head -n 60 >&2 || tail -n 40 "$dir/log" >&2
    fi
done

echo
echo "==== fuzzing summary (${LIMIT[*]} per target)"
printf '%s\n' "${summary[@]}"
total=0
for l in "${summary[@]}"; do
    n=$(echo "$l" | awk '{print $2}')
    case "$n" in *[!0-9]*) ;; *) total=$((total + n)) ;; esac
done
echo "total: $total executions"
if [ "$failed" -ne 0 ]; then
    echo "fuzzing found problems (see above)" >&2
    exit 1
fi
