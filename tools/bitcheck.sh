#!/usr/bin/env bash
# Every output of the command a refactoring must not change, into OUTDIR, to compare two builds
# byte for byte: each seed model run eager, hybridized and frozen, its dumps (inference and a
# training step), its gradients, two epochs of training, resnet-mini, the demo (timings removed).
#   tools/bitcheck.sh OLD/build/hybrid /tmp/old; tools/bitcheck.sh build/hybrid /tmp/new
#   diff -r /tmp/old /tmp/new        # empty: the same results bit for bit
set -uo pipefail
[[ $# -eq 2 ]] || { echo "usage: tools/bitcheck.sh HYBRID OUTDIR" >&2; exit 2; }
H=$(realpath "$1"); O=$2; D=$(dirname "$(realpath "$0")")/../tests/data
mkdir -p "$O" && rm -f "$O"/*
models="mlp mlp-class my-sequential fixed-hidden nest-mlp chimera parallel factory"
for m in $models; do
    in=$D/extra/$m/input.npy; [[ -f $in ]] || in=$D/$m/input.npy
    w=$D/extra/$m/weights.safetensors; [[ -f $w ]] || w=$D/$m/weights.safetensors
    for mode in eager hybrid; do
        "$H" run "$m" --weights "$w" --input "$in" --output "$O/$m.$mode.npy" --input "$in" \
            --output "$O/$m.$mode.2.npy" --mode $mode > "$O/$m.$mode.log" 2>&1
    done
    "$H" run "$m" --weights "$w" --input "$in" --output "$O/$m.frozen.npy" --mode hybrid --freeze \
        > /dev/null 2>&1
    "$H" dump "$m" --after all > "$O/$m.dump" 2>&1
    "$H" dump "$m" --train --optimizer adam > "$O/$m.train.dump" 2>&1
    if [[ -f $D/$m/grad_output.npy ]]; then
        for mode in eager hybrid; do
            "$H" grad "$m" --weights "$D/$m/weights.safetensors" --input "$D/$m/input.npy" \
                --grad-output "$D/$m/grad_output.npy" --output "$O/$m.grads.$mode.st" \
                --mode $mode > /dev/null 2>&1
        done
    fi
done
untimed() { sed 's/[0-9]\+ steps\/s//g; s/[0-9.]\+ *ms//g; s/[0-9.]\+ *s\b//g'; }
for m in mlp chimera resnet-mini; do
    for mode in eager hybrid; do
        "$H" train $m --epochs 2 --mode $mode 2>&1 | untimed > "$O/$m.train.$mode.log"
    done
done
"$H" dump resnet-mini --after all > "$O/resnet-mini.dump" 2>&1
"$H" dump branch > "$O/branch.dump" 2>&1
"$H" demo 2>&1 | untimed | grep -v 'µs\|us\b\|speed\|×\|per call' > "$O/demo.log"
echo "$(ls "$O" | wc -l) outputs in $O"
