#!/bin/sh
# Checks the layering of core/ from the #include lines of its files; fails
# (exit 1, naming the offending files) when
#   - the include graph has a cycle (a file and its own header, x.c + x.h,
#     count as one module, so "a.c includes b.h, b.c includes a.h" is a cycle),
#   - a layer includes a layer above it. From the bottom up:
#       engine/    may include engine/ and the public headers <oocsi/...>
#       api/       may include api/, engine/ and the public headers
#       features/  may include features/ and the public headers only
#   - a features/ file names an internal oocsi__ function that no features/
#     header declares (a way round the include rule).
# Usage: cmake/check_layers.sh [core-dir]   (default: core next to this script)
set -eu
core=${1:-$(dirname "$0")/../core}
cd "$core"

# One line per include edge: "from-module to-module", modules as dir/name.
edges=$(for f in */*.c */*.h; do
    dir=${f%%/*}
    from=${f%.*}
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
        case $inc in
        oocsi/*) continue ;; # public headers
        */*) target=$inc ;;
        *) target=$dir/$inc ;;
        esac
        if [ ! -f "$target" ]; then
            echo "BAD $f includes \"$inc\", which is not a file of core/" >&2
            echo "MISSING $from"
            continue
        fi
        echo "$from ${target%.*}"
    done
done)

status=0
if printf '%s\n' "$edges" | grep -q '^MISSING'; then
    status=1
fi

rank() {
    case $1 in
    engine/*) echo 0 ;;
    api/*) echo 1 ;;
    features/*) echo 2 ;;
    *) echo 9 ;;
    esac
}

printf '%s\n' "$edges" | grep -v '^MISSING' | while read -r from to; do
    [ -n "$from" ] || continue
    rf=$(rank "$from")
    rt=$(rank "$to")
    if [ "$rf" = 9 ] || [ "$rt" = 9 ]; then
        echo "layer: $from or $to is in no known layer (engine, api, features)"
        exit 1
    fi
    if [ "$rf" = 2 ] && [ "$rt" != 2 ]; then
        echo "layer: $from (features) includes $to: features use only the public API"
        exit 1
    fi
    if [ "$rt" -gt "$rf" ]; then
        echo "layer: $from includes $to, a layer above it"
        exit 1
    fi
done || status=1

# Cycles: depth-first search over the module graph.
printf '%s\n' "$edges" | grep -v '^MISSING' | awk '
    NF == 2 && $1 != $2 { adj[$1] = adj[$1] " " $2; nodes[$1] = 1; nodes[$2] = 1 }
    function visit(n,    i, k, m, parts) {
        state[n] = 1; stack[++depth] = n
        k = split(adj[n], parts, " ")
        for (i = 1; i <= k; i++) {
            m = parts[i]
            if (state[m] == 1) {
                path = m
                for (j = depth; j >= 1 && stack[j] != m; j--) path = stack[j] " -> " path
                print "cycle: " m " -> " path
                found = 1
            } else if (state[m] == 0) visit(m)
        }
        state[n] = 2; depth--
    }
    END {
        for (n in nodes) state[n] = 0
        for (n in nodes) if (state[n] == 0) visit(n)
        exit found
    }' || status=1

# features/ may call oocsi__ functions only when a features/ header declares them.
declared=$(cat features/*.h 2>/dev/null | grep -oE 'oocsi__[a-z0-9_]+' | sort -u)
for f in features/*.c; do
    for name in $(grep -oE 'oocsi__[a-z0-9_]+' "$f" | sort -u); do
        if ! printf '%s\n' "$declared" | grep -qx "$name"; then
            echo "layer: $f uses $name, which no features/ header declares"
            status=1
        fi
    done
done

if [ "$status" -eq 0 ]; then
    echo "core/ layers: engine <- api <- features, no include cycle"
fi
exit "$status"
