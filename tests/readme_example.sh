#!/bin/sh
# The README's C example must compile as written and run: extract its first ```c block, build
# it against the public header and the static library, run it.
set -eu
readme=$1 include=$2 lib=$3 cc=${CC:-cc}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/^```c$/ {on=1; next} /^```$/ && on {exit} on' "$readme" > "$dir/example.c"
test -s "$dir/example.c" || { echo "no \`\`\`c block in $readme"; exit 1; }
$cc -std=c11 -Wall -Werror ${EXTRA_CFLAGS:-} -I"$include" "$dir/example.c" "$lib" \
    $(pkg-config --libs openblas libcjson libprotobuf-c 2>/dev/null || echo -lopenblas -lcjson -lprotobuf-c) ${EXTRA_LIBS:-} \
    -lm -lpthread \
    -o "$dir/example"
"$dir/example" > "$dir/out"
grep -q 'shape=\[2, 10\]' "$dir/out" || { cat "$dir/out"; exit 1; }
echo "README example compiles and prints a [2, 10] result"
