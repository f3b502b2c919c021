#!/bin/bash
# Layers include downward only: every `#include "..."` in src/ goes to a
# header of the including file's own layer or of a layer it may include,
# and the include graph has no cycle. The layers, the files of each and
# what each may include are the table in docs/architecture.md (between
# "<!-- layers -->" and the next blank line), so the map and the check
# cannot drift apart. Public headers (include/netsock/) are the library's
# interface, declarations only: any file may include them, and they include
# only each other.
#
# With a build directory, the same rule for calls: every symbol an object
# of the library uses (nm's undefined symbols) and another object defines
# must be defined in a layer the user may include, so a declaration
# written by hand cannot reach upward past the include check. (A call
# through a function pointer an upper layer registered is not a symbol
# reference of the lower one: that is the one way up.)
#
# Usage: test_layers.sh [BUILD_DIR] [--root DIR] [--table FILE]
#   BUILD_DIR     where the library's objects are (optional; ctest passes it)
#   --root DIR    the source tree to check (default: this repository)
#   --table FILE  the Markdown file holding the table (default:
#                 ROOT/docs/architecture.md); e.g. to check an old tree
#                 against today's map
# Prints every upward arrow (file:line, both layers) and every cycle, and
# exits 1 when there is one.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
root=$here
table=
build=
while [ $# -gt 0 ]; do
    case $1 in
    --root) root=$(cd "$2" && pwd); shift 2 ;;
    --table) table=$2; shift 2 ;;
    *) build=$1; shift ;;
    esac
done
[ -n "$table" ] || table=$root/docs/architecture.md
command -v python3 >/dev/null || { echo "SKIP: no python3"; exit 77; }

exec python3 - "$root" "$table" "$build" <<'EOF'
import os, re, subprocess, sys

root, table_path, build = sys.argv[1], sys.argv[2], sys.argv[3]
errors = []

# ---- the table --------------------------------------------------------------
# | layer | name | where (backquoted paths) | may include |
rows, in_table = [], False
with open(table_path) as f:
    for line in f:
        if '<!-- layers -->' in line:
            in_table = True
            continue
        if not in_table:
            continue
        if not line.strip():
            if rows:
                break
            continue
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if len(cells) < 4 or cells[0] in ('layer', '') or set(cells[0]) <= set('-: '):
            continue
        rows.append(cells)
if not rows:
    sys.exit(f"{table_path}: no layer table after <!-- layers -->")

layers = {}   # id -> (name, may-include set)
owners = []   # (path prefix or file, layer id)
def parse_set(spec, own):
    out = {own}
    for part in re.split(r'[,\s]+', spec):
        if not part or part in ('-', 'nothing', 'none'):
            continue
        m = re.fullmatch(r'(\d+)-(\d+)', part)
        if m:
            out.update(str(i) for i in range(int(m[1]), int(m[2]) + 1))
        else:
            out.add(part)
    return out
for cells in rows:
    lid, name, where, may = cells[0], cells[1], cells[2], cells[3]
    layers[lid] = (name, parse_set(may, lid))
    for p in re.findall(r'`([^`]+)`', where):
        owners.append((p, lid))
for lid, (name, may) in layers.items():
    for t in may:
        if t not in layers:
            errors.append(f"table: layer {lid} ({name}) may include an unknown layer {t}")
        elif lid.isdigit() and t.isdigit() and int(t) > int(lid):
            errors.append(f"table: layer {lid} ({name}) may include layer {t}, above it")

def layer_of(rel):
    best = None
    for p, lid in owners:
        if rel == p or (p.endswith('/') and rel.startswith(p)):
            if best is None or len(p) > len(best[0]):
                best = (p, lid)
    return best[1] if best else None

def describe(lid):
    return f"layer {lid} ({layers[lid][0]})"

# ---- the includes -------------------------------------------------------------
inc_re = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
files = []
for d, _, names in os.walk(os.path.join(root, 'src')):
    for n in sorted(names):
        if n.endswith(('.c', '.h')):
            files.append(os.path.relpath(os.path.join(d, n), root))
files.sort()
graph = {}
for rel in files:
    lid = layer_of(rel)
    if lid is None:
        errors.append(f"{rel}: in no layer of the table")
    graph[rel] = []
    with open(os.path.join(root, rel), errors='replace') as f:
        for no, line in enumerate(f, 1):
            m = inc_re.match(line)
            if not m:
                continue
            name = m[1]
            if name.startswith('netsock/'):
                if not os.path.exists(os.path.join(root, 'include', name)):
                    errors.append(f"{rel}:{no}: includes {name}, which does not exist")
                continue
            target = os.path.normpath(os.path.join('src', name))
            if not os.path.exists(os.path.join(root, target)):
                target = os.path.normpath(os.path.join(os.path.dirname(rel), name))
            if not os.path.exists(os.path.join(root, target)):
                errors.append(f"{rel}:{no}: includes \"{name}\", not found under src/")
                continue
            graph[rel].append((target, no))
            tl = layer_of(target)
            if lid is None or tl is None:
                continue
            if tl not in layers[lid][1]:
                errors.append(f"{rel}:{no}: includes {target}, {describe(tl)}, from "
                              f"{describe(lid)}: an arrow upward (or to a layer it may not use)")

# Public headers include only each other.
pub = os.path.join(root, 'include', 'netsock')
for n in sorted(os.listdir(pub)) if os.path.isdir(pub) else []:
    with open(os.path.join(pub, n)) as f:
        for no, line in enumerate(f, 1):
            m = inc_re.match(line)
            if m and not m[1].startswith('netsock/'):
                errors.append(f"include/netsock/{n}:{no}: includes \"{m[1]}\": public headers "
                              "include only public headers")

# ---- cycles ---------------------------------------------------------------------
# Between files (a header including itself through others) ...
state, stack = {}, []
def visit(f):
    state[f] = 1
    stack.append(f)
    for t, no in graph.get(f, []):
        if state.get(t) == 1:
            cyc = stack[stack.index(t):] + [t]
            errors.append("include cycle: " + " -> ".join(cyc))
        elif t not in state:
            visit(t)
    stack.pop()
    state[f] = 2
for f in files:
    if f not in state:
        visit(f)
# ... and between layers: the arrows that exist, layer to layer.
ledges = {}
for f, outs in graph.items():
    a = layer_of(f)
    for t, _ in outs:
        b = layer_of(t)
        if a and b and a != b:
            ledges.setdefault(a, set()).add(b)
lstate = {}
def lvisit(a, path):
    lstate[a] = 1
    for b in sorted(ledges.get(a, ())):
        if lstate.get(b) == 1:
            cyc = path[path.index(b):] + [b]
            errors.append("layer cycle: " + " -> ".join(describe(x) for x in cyc))
        elif b not in lstate:
            lvisit(b, path + [b])
    lstate[a] = 2
for a in sorted(ledges):
    if a not in lstate:
        lvisit(a, [a])

# ---- symbols ----------------------------------------------------------------------
n_sym = 0
objdir = os.path.join(build, 'CMakeFiles', 'netsock_obj.dir') if build else ''
if objdir and os.path.isdir(objdir):
    defs, uses = {}, {}
    for d, _, names in os.walk(objdir):
        for n in names:
            if not n.endswith('.c.o'):
                continue
            rel = os.path.relpath(os.path.join(d, n), objdir)[:-2]  # src/x/y.c
            if rel not in graph:  # an object of a source no longer in the tree
                continue
            try:
                out = subprocess.run(['nm', os.path.join(d, n)], capture_output=True,
                                     text=True, check=True).stdout
            except (OSError, subprocess.CalledProcessError):
                continue
            for line in out.splitlines():
                parts = line.split()
                if len(parts) == 2 and parts[0] == 'U':
                    uses.setdefault(rel, set()).add(parts[1])
                elif len(parts) == 3 and parts[1] in 'TDBRC':
                    defs[parts[2]] = rel
    for rel in sorted(uses):
        lid = layer_of(rel)
        for sym in sorted(uses[rel]):
            owner = defs.get(sym)
            if not owner or lid is None:
                continue
            n_sym += 1
            ol = layer_of(owner)
            if ol and ol not in layers[lid][1]:
                errors.append(f"{rel}: uses {sym}, defined in {owner}, {describe(ol)}, from "
                              f"{describe(lid)}: a call upward (or to a layer it may not use)")

if errors:
    for e in errors:
        print("FAIL: " + e)
    print(f"{len(errors)} layering error(s); the table: {table_path}")
    sys.exit(1)
n_inc = sum(len(v) for v in graph.values())
calls = f", {n_sym} symbol references between objects" if n_sym else " (no objects: includes only)"
print(f"layers OK: {len(files)} files, {n_inc} includes{calls}, no arrow upward, no cycle")
EOF
