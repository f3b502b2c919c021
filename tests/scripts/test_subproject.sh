#!/usr/bin/env bash
# tests/scripts/test_subproject.sh — netsock as a subproject:
# tests/install/subproject/CMakeLists.txt does add_subdirectory(netsock)
# and links its program against netsock::netsock. Checked:
#   - the parent builds and its program (tests/install/consumer.c) runs;
#   - only the library is built: no netsock tool, tests, benchmarks or
#     examples, no tests registered, no install rules;
#   - the parent compiles with -Wconversion, which netsock's sources do not
#     pass: there are warnings but no errors (no -Werror from netsock);
#   - nothing of netsock's reaches the parent's compile line (-Werror, its
#     warning set, -std=c11, -D_GNU_SOURCE, include/src), while netsock's
#     own sources still get C11 and _GNU_SOURCE;
#   - with BUILD_SHARED_LIBS=ON the parent gets the shared library.
# Usage: test_subproject.sh BUILD_DIR (BUILD_DIR is not used: the parent
# builds netsock itself). Exit 77 (skip) without cmake or ninja.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
for tool in cmake ninja python3 readelf; do
    command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/netsock-subproject-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

b="$tmp/b"
cmake -S "$src/tests/install/subproject" -B "$b" -G Ninja -DNETSOCK_SOURCE_DIR="$src" \
    >"$tmp/cfg.log" 2>&1 || { cat "$tmp/cfg.log" >&2; fail "configure"; }
cmake --build "$b" -j 2 >"$tmp/build.log" 2>&1 || { tail -40 "$tmp/build.log" >&2; fail "build"; }
grep -q "warning: .*-Wconversion" "$tmp/build.log" ||
    fail "no -Wconversion warning seen: did the parent's flags reach netsock's sources?"
out=$("$b/app") || fail "app: exit status $?"
grep -q "^consumer: netsock .*: 65536 bytes intact$" <<<"$out" || fail "app printed '$out'"
echo "   $out"

# Only the library and the parent's program.
targets=$(cmake --build "$b" --target help | sed -n 's/^\([A-Za-z0-9_.-]*\): .*/\1/p')
for t in netsock rawproto tcp_echo test_tcp_states test_sim_tcp bench_tcp netsock_shared; do
    grep -qx "$t" <<<"$targets" && fail "the subproject defines target '$t'"
done
grep -qx netsock_static <<<"$targets" || fail "no netsock_static target"
[ -z "$(find "$b/netsock" -maxdepth 2 -name 'test_*' -type f -perm -u+x)" ] || fail "tests were built"
[ ! -e "$b/netsock/netsock" ] || fail "the netsock tool was built"
n=$(cd "$b" && ctest -N | sed -n 's/^Total Tests: //p')
[ "$n" = 1 ] || fail "$n tests registered; only the parent's own (1) expected"
if grep -qs "file(INSTALL" "$b/netsock/cmake_install.cmake"; then
    fail "the subproject installs files into the parent's prefix"
fi

# Compile lines, from compile_commands.json.
python3 - "$b/compile_commands.json" "$src" <<'EOF' || exit 1
import json, sys
cmds = json.load(open(sys.argv[1]))
src = sys.argv[2]
def line(e):
    return e.get("command") or " ".join(e["arguments"])
parent = [line(e) for e in cmds if e["file"].endswith("/tests/install/consumer.c")]
ours = [line(e) for e in cmds if e["file"].startswith(src + "/src/")]
if len(parent) != 1 or not ours:
    sys.exit("FAIL: compile_commands.json: %d parent, %d netsock entries" % (len(parent), len(ours)))
bad = [f for f in ("-Werror", "-Wshadow", "-Wmissing-prototypes", "-std=c11", "_GNU_SOURCE",
                   src + "/src") if f in parent[0]]
if bad:
    sys.exit("FAIL: netsock's %s reached the parent's compile line: %s" % (bad, parent[0]))
if "-I" + src + "/include" not in parent[0] and "-isystem " + src + "/include" not in parent[0]:
    sys.exit("FAIL: the parent does not get netsock's include directory: " + parent[0])
for c in ours:
    if "-Werror" in c:
        sys.exit("FAIL: netsock's sources are compiled with -Werror as a subproject: " + c)
    if "-std=c11" not in c or "-D_GNU_SOURCE" not in c:
        sys.exit("FAIL: netsock's sources lack -std=c11 or _GNU_SOURCE: " + c)
print("   compile lines: the parent's has only netsock's include directory; "
      "netsock's %d sources have C11, _GNU_SOURCE, no -Werror" % len(ours))
EOF

# BUILD_SHARED_LIBS: the parent links libnetsock.so.
bs="$tmp/bs"
cmake -S "$src/tests/install/subproject" -B "$bs" -G Ninja -DNETSOCK_SOURCE_DIR="$src" \
    -DBUILD_SHARED_LIBS=ON >"$tmp/cfg-shared.log" 2>&1 || { cat "$tmp/cfg-shared.log" >&2; fail "configure (shared)"; }
cmake --build "$bs" -j 2 >"$tmp/build-shared.log" 2>&1 || { tail -40 "$tmp/build-shared.log" >&2; fail "build (shared)"; }
readelf -d "$bs/app" | grep -q "NEEDED.*libnetsock.so" || fail "BUILD_SHARED_LIBS=ON: app does not link libnetsock.so"
"$bs/app" >/dev/null || fail "app (shared): exit status $?"
echo "PASS: add_subdirectory(netsock) builds only netsock::netsock, static or shared, and keeps its flags to itself"
