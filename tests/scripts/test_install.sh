#!/usr/bin/env bash
# tests/scripts/test_install.sh — `make install` and three consumers of the
# installed package, as a new user would build them:
#
#   1. `make install PREFIX=P` into a temporary prefix, and once more with
#      DESTDIR=D PREFIX=/opt/netsock-test (a staged install): every file
#      where GNUInstallDirs puts it under $DESTDIR$PREFIX, nothing else;
#      libnetsock.so with its soname and only ns_* exported; netsock.pc and
#      the CMake package naming PREFIX (not DESTDIR); the netsock tool and
#      every man page in man/.
#   2. consumers of tests/install/consumer.c (TCP in the simulator), each
#      run and checked:
#        cc ... $(pkg-config --cflags --libs netsock)             shared
#        cc -static ... $(pkg-config --static --cflags --libs netsock)
#        CMake find_package(netsock) + netsock::netsock (and _static)
#      plus the examples (examples/CMakeLists.txt on its own) built against
#      the package, and a find_package asking for an incompatible version;
#   3. `make uninstall` removes every file installed.
# The library is built afresh here, with gcc and without sanitizers (the
# consumers link it as users do); BUILD_DIR is not used.
# Usage: test_install.sh BUILD_DIR. Exit 77 (skip) without cmake, ninja,
# pkg-config or a static libc.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in cmake ninja pkg-config cc readelf nm make; do
    command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsock-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
log() { echo "== $*"; }
# run LOG CMD...: run CMD with its output in $tmp/LOG; show it on failure.
run() {
    local name=$1
    shift
    "$@" >"$tmp/$name.log" 2>&1 || { cat "$tmp/$name.log" >&2; fail "$name: $* (exit status $?)"; }
}

build="$tmp/build"
prefix="$tmp/prefix"
# Unoptimised (BUILD_TYPE=Debug: -O0 -g) to keep the test short.
mk() { make -C "$src" --no-print-directory BUILD="$build" BUILD_TYPE=Debug JOBS=2 "$@"; }

log "make install PREFIX=$prefix"
run install mk install PREFIX="$prefix"
# Where GNUInstallDirs puts things for this prefix.
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
[ -n "$libdir" ] || fail "no CMAKE_INSTALL_LIBDIR in the cache"

log "make install DESTDIR=$tmp/stage PREFIX=/opt/netsock-test"
run stage mk install DESTDIR="$tmp/stage" PREFIX=/opt/netsock-test
stage="$tmp/stage/opt/netsock-test"
[ "$(ls -A "$tmp/stage")" = opt ] || fail "staged install wrote outside DESTDIR/PREFIX: $(ls -A "$tmp/stage")"
slibdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$build/CMakeCache.txt")
expect_file() { [ -e "$stage/$1" ] || fail "staged install: no $1"; }
for f in include/netsock/netsock.h include/netsock/socket.h include/netsock/sim.h \
         include/netsock/os.h include/netsock/dev.h include/netsock/pbuf.h \
         include/netsock/counters.h "$slibdir/libnetsock.a" "$slibdir/libnetsock.so" \
         "$slibdir/pkgconfig/netsock.pc" "$slibdir/cmake/netsock/netsockConfig.cmake" \
         "$slibdir/cmake/netsock/netsockConfigVersion.cmake" \
         "$slibdir/cmake/netsock/netsockTargets.cmake" bin/netsock \
         share/doc/netsock/README.md share/doc/netsock/docs/sockets.md; do
    expect_file "$f"
done
for p in "$src"/man/*.1 "$src"/man/*.3; do
    sec=${p##*.}
    expect_file "share/man/man$sec/$(basename "$p")"
done
n_src=$(ls "$src"/include/netsock/*.h | wc -l)
n_inst=$(ls "$stage"/include/netsock/*.h | wc -l)
[ "$n_src" = "$n_inst" ] || fail "$n_src public headers, $n_inst installed"
grep -qx 'prefix=/opt/netsock-test' "$stage/$slibdir/pkgconfig/netsock.pc" ||
    fail "netsock.pc does not name PREFIX: $(head -1 "$stage/$slibdir/pkgconfig/netsock.pc")"
if grep -rq "$tmp" "$stage/$slibdir/pkgconfig" "$stage/$slibdir/cmake"; then
    fail "the staged package files name the build or DESTDIR directory"
fi
# pkg-config through a sysroot finds the staged headers, as packagers use it.
cflags=$(PKG_CONFIG_SYSROOT_DIR="$tmp/stage" PKG_CONFIG_LIBDIR="$stage/$slibdir/pkgconfig" \
    pkg-config --cflags netsock)
cflags=${cflags%% } # pkgconf ends it with a space
[ "$cflags" = "-I$stage/include" ] || fail "staged pkg-config --cflags: '$cflags'"

log "libnetsock.so: soname, version, exports"
so=$(readlink -f "$prefix/$libdir/libnetsock.so")
soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libnetsock.so.0.1 ] || fail "soname '$soname', want libnetsock.so.0.1"
[ "$(basename "$so")" = libnetsock.so.0.1.0 ] || fail "libnetsock.so points to $(basename "$so")"
[ -e "$prefix/$libdir/$soname" ] || fail "no $soname link"
# Exported: exactly the functions the installed headers declare (not
# static inline), both ways.
nm -D --defined-only "$so" | awk '{print $3}' | sort -u >"$tmp/exported"
grep -hoE '^[a-z][^(]*[ *]ns_[a-z0-9_]+\(' "$prefix"/include/netsock/*.h | grep -v '^static ' |
    grep -oE 'ns_[a-z0-9_]+\($' | tr -d '(' | sort -u >"$tmp/declared"
extra=$(comm -23 "$tmp/exported" "$tmp/declared" | head -5)
[ -z "$extra" ] || fail "libnetsock.so exports what no public header declares: $extra"
missing=$(comm -13 "$tmp/exported" "$tmp/declared" | head -5)
[ -z "$missing" ] || fail "declared in a public header but not in libnetsock.so: $missing"
echo "   $soname, exports the $(wc -l <"$tmp/exported") functions the headers declare, nothing else"
v=$("$prefix/bin/netsock" version)
[ "$v" = "netsock $(PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig" pkg-config --modversion netsock)" ] ||
    fail "installed netsock says '$v'"

export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
consumer="$src/tests/install/consumer.c"
strict="-std=c11 -Wall -Wextra -Wpedantic -Werror"
want="consumer: netsock $(pkg-config --modversion netsock): 65536 bytes intact"
check_run() { # check_run NAME PROGRAM [ENV...]: PROGRAM prints $want and exits 0
    local name=$1 prog=$2 out
    shift 2
    out=$(env "$@" "$prog" 2>&1) || fail "$name: exit status $?: $out"
    [ "$out" = "$want" ] || fail "$name printed '$out'"
    echo "   $name: $out"
}

log "consumer 1: cc \$(pkg-config --cflags --libs netsock)"
# shellcheck disable=SC2046,SC2086
run pc cc $strict -o "$tmp/c_shared" "$consumer" $(pkg-config --cflags --libs netsock)
readelf -d "$tmp/c_shared" | grep -q "NEEDED.*\[libnetsock.so.0.1\]" ||
    fail "pkg-config consumer is not linked against libnetsock.so.0.1"
check_run "shared (pkg-config)" "$tmp/c_shared" LD_LIBRARY_PATH="$prefix/$libdir"

log "consumer 2: cc -static \$(pkg-config --static --cflags --libs netsock)"
if ! echo 'int main(void){return 0;}' | cc -static -x c -o "$tmp/static-probe" - 2>/dev/null; then
    echo "SKIP: no static libc (libc6-dev's libc.a) for a fully static link"
    exit 77
fi
libs=$(pkg-config --static --libs netsock)
grep -qw -- -lm <<<"$libs" || fail "pkg-config --static --libs lacks -lm: $libs"
# shellcheck disable=SC2046,SC2086
run pc_static cc $strict -static -o "$tmp/c_static" "$consumer" $(pkg-config --static --cflags --libs netsock)
if readelf -d "$tmp/c_static" 2>/dev/null | grep -q NEEDED; then
    fail "the --static consumer still needs shared libraries"
fi
check_run "static (pkg-config --static)" "$tmp/c_static"

log "consumer 3: CMake find_package(netsock) + netsock::netsock"
run cmake_cfg cmake -S "$src/tests/install/find_package" -B "$tmp/cm" -G Ninja \
    -DCMAKE_PREFIX_PATH="$prefix"
run cmake_build cmake --build "$tmp/cm"
grep -q "netsock_DIR:PATH=$prefix/$libdir/cmake/netsock" "$tmp/cm/CMakeCache.txt" ||
    fail "find_package found another netsock: $(grep netsock_DIR "$tmp/cm/CMakeCache.txt")"
readelf -d "$tmp/cm/consumer_shared" | grep -q "NEEDED.*\[libnetsock.so.0.1\]" ||
    fail "netsock::netsock is not the shared library"
readelf -d "$tmp/cm/consumer_static" | grep -q "NEEDED.*libnetsock" &&
    fail "netsock::netsock_static links the shared library"
check_run "CMake netsock::netsock" "$tmp/cm/consumer_shared"
check_run "CMake netsock::netsock_static" "$tmp/cm/consumer_static"

log "find_package(netsock 0.2) is refused (0.x: minor versions are incompatible)"
mkdir -p "$tmp/v2"
printf 'cmake_minimum_required(VERSION 3.25)\nproject(v LANGUAGES C)\nfind_package(netsock 0.2 REQUIRED)\n' \
    >"$tmp/v2/CMakeLists.txt"
if cmake -S "$tmp/v2" -B "$tmp/v2/b" -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/v2.log" 2>&1; then
    fail "find_package(netsock 0.2) accepted version 0.1"
fi
grep -q "0.1.0" "$tmp/v2.log" || { cat "$tmp/v2.log" >&2; fail "no version in the refusal"; }

log "the examples, built against the installed package"
run ex_cfg cmake -S "$src/examples" -B "$tmp/ex" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
run ex_build cmake --build "$tmp/ex"
for e in "$src"/examples/*.c; do
    name=$(basename "$e" .c)
    grep -q "netsock_example($name " "$src/examples/CMakeLists.txt" || continue
    [ -x "$tmp/ex/$name" ] || fail "example $name not built against the package"
done
"$tmp/ex/tcp_echo" >"$tmp/echo.out" || fail "installed tcp_echo: exit status $?"
grep -q "^PASS: 4 of 4 echoes intact" "$tmp/echo.out" || fail "installed tcp_echo: $(tail -1 "$tmp/echo.out")"
"$tmp/ex/many_clients" 200 >"$tmp/many.out" || fail "installed many_clients: exit status $?"
grep -q "^PASS: 200 of 200 clients served" "$tmp/many.out" || fail "installed many_clients: $(tail -1 "$tmp/many.out")"
echo "   $(ls "$tmp/ex" | grep -cxE "$(sed -n 's/^netsock_example(\([a-z_]*\) .*/\1/p' "$src/examples/CMakeLists.txt" | paste -sd'|')") examples built; tcp_echo and many_clients pass"

log "make uninstall"
run stage_reconf mk install PREFIX="$prefix" # the manifest of the real prefix
run uninstall mk uninstall
left=$(find "$prefix" -type f -o -type l)
[ -z "$left" ] || fail "make uninstall left: $left"
echo "PASS: install, three consumers, the examples, uninstall"
