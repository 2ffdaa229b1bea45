#!/usr/bin/env bash
# Fetch, on a machine with a package index, the wheels of tools/gpu_wheels.txt for the GPU machine's Python
# (CPython 3.12, manylinux x86-64) into wheels/gpu-py312/ (git-ignored; about 50 MB, av 36 MB of it), for
# tools/gpu_check.sh to install there, where nothing can be downloaded:
#
#   bash tools/fetch_gpu_wheels.sh [DIR]        # DIR default wheels/gpu-py312
#
# then carry the folder to the device (device tool: carry ["wheels/gpu-py312"]). Binary wheels are
# downloaded with `pip download --only-binary=:all: --python-version 3.12 --platform manylinux...`; fvcore and
# iopath publish source archives only and are pure Python, so those two are built here into py3-none-any
# wheels (`pip wheel --no-deps`). Each package alone, without its needs (--no-deps): the list names the ones
# the GPU machine lacks. An existing wheel of the pinned version is kept.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-$REPO/wheels/gpu-py312}"
PYTHON="${PYTHON:-$REPO/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
mkdir -p "$DIR"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux2010_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$p")
done
SOURCE_ONLY="fvcore iopath"  # pure Python, source archives only on PyPI
while read -r req; do
    req="${req%%#*}"
    req="$(echo "$req" | tr -d '[:space:]')"
    [ -n "$req" ] || continue
    name="${req%%==*}" version="${req##*==}"
    wheel_name="$(echo "$name" | tr '-' '_')"
    if ls "$DIR/${wheel_name}-${version}-"*.whl >/dev/null 2>&1; then
        echo "fetch_gpu_wheels: $req already in $DIR"
        continue
    fi
    if [[ " $SOURCE_ONLY " == *" $name "* ]]; then
        "$PYTHON" -m pip wheel -q --no-deps -w "$DIR" "$req"
    else
        "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            "${platforms[@]}" -d "$DIR" "$req"
    fi
done < "$REPO/tools/gpu_wheels.txt"
ls -l "$DIR"
du -sh "$DIR"
"$PYTHON" "$REPO/tools/gpu_check.py" wheels --dir "$DIR" --report-only
