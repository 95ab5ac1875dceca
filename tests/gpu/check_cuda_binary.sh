#!/usr/bin/env bash
# Checks a CUDA build's binaries without a device (CTest, label unit):
#
#   check_cuda_binary.sh arch CUOBJDUMP BINARY SM... [--ptx SM]
#       BINARY embeds machine code (cubin) for every SM listed (e.g. 75 80 86 89 90) and, with
#       --ptx, PTX for that SM, so every supported GPU loads it without compiling just in time.
#   check_cuda_binary.sh runtime BINARY
#       BINARY carries the static CUDA runtime and does not load libcudart.so: one CUDA runtime
#       per process (two runtimes each keep their own contexts, streams and error state).
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

case "${1:-}" in
  arch)
    cuobjdump=$2 binary=$3; shift 3
    [ -x "$cuobjdump" ] || fail "cuobjdump not found at '$cuobjdump' (it ships with the CUDA toolkit)"
    [ -f "$binary" ] || fail "no binary at $binary; build it first"
    elf=$("$cuobjdump" --list-elf "$binary" 2>&1) || fail "cuobjdump --list-elf $binary: $elf"
    ptx=$("$cuobjdump" --list-ptx "$binary" 2>&1) || fail "cuobjdump --list-ptx $binary: $ptx"
    missing=()
    while [ $# -gt 0 ]; do
      if [ "$1" = "--ptx" ]; then
        grep -Eq "\.sm_$2\.ptx" <<<"$ptx" || missing+=("PTX for compute_$2")
        shift 2; continue
      fi
      grep -Eq "\.sm_$1\.cubin" <<<"$elf" || missing+=("sm_$1 machine code")
      shift
    done
    if [ ${#missing[@]} -gt 0 ]; then
      echo "cuobjdump --list-elf $binary:"; echo "$elf"
      echo "cuobjdump --list-ptx $binary:"; echo "$ptx"
      fail "$(basename "$binary") lacks ${missing[*]}; set CMAKE_CUDA_ARCHITECTURES (cmake/KilnCuda.cmake)"
    fi
    echo "OK: $(basename "$binary") embeds $(grep -Eo 'sm_[0-9]+a?\.cubin' <<<"$elf" | sort -u | tr '\n' ' ')and $(grep -Eo 'sm_[0-9]+a?\.ptx' <<<"$ptx" | sort -u | tr '\n' ' ')"
    ;;
  runtime)
    binary=$2
    [ -f "$binary" ] || fail "no binary at $binary; build it first"
    needed=$(readelf -d "$binary" | awk '/NEEDED/ {print $NF}' | tr -d '[]')
    if grep -q '^libcudart\.so' <<<"$needed"; then
      fail "$(basename "$binary") loads the shared CUDA runtime ($(grep '^libcudart' <<<"$needed" | tr '\n' ' '))" \
           "and should link CUDA::cudart_static like kiln_gpu"
    fi
    # grep without -q reads all of nm's output: with -q, pipefail would see nm's SIGPIPE.
    nm "$binary" 2>/dev/null | grep 'libcudart_static_' >/dev/null ||
      fail "$(basename "$binary") has no static CUDA runtime (no libcudart_static symbols)"
    echo "OK: $(basename "$binary") carries the static CUDA runtime and does not load libcudart.so"
    ;;
  *)
    echo "usage: check_cuda_binary.sh arch CUOBJDUMP BINARY SM... [--ptx SM] | runtime BINARY" >&2
    exit 2 ;;
esac
