#!/bin/sh
# Fails when a C source or header outside tests/ is longer than 800 lines:
# a file that long holds more than one responsibility; split it by what it
# owns (see the README of its folder). Usage: cmake/check_sizes.sh [root]
set -eu
cd "${1:-$(dirname "$0")/..}"
limit=800
status=0
for f in $(find core codecs transports include examples -name '*.[ch]' | sort); do
    n=$(wc -l <"$f")
    if [ "$n" -gt "$limit" ]; then
        echo "size: $f has $n lines (limit $limit)"
        status=1
    fi
done
[ "$status" -ne 0 ] || echo "no source file outside tests/ over $limit lines"
exit "$status"
