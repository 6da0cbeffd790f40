#!/usr/bin/env bash
# `sharing: overlap`'s layout, for sizes that need more than page alignment: every
# compartment region, every overlap region and every DDC window that flexcap_image.ld
# describes must be bounded exactly by one Morello capability (length representable:
# RRLEN; base aligned for it: RRMASK), whichever address the linker gives the first one.
# The model answers through `flexcap cap eval` (crrl, cram).
#   overlap_layout_test.sh FLEXCAP
set -u
flexcap=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

# check NAME MIN_OVERLAP_BYTES < YAML: generates the image and checks its layout.
check() {
  local name=$1 min_overlap=$2
  mkdir -p "$tmp/$name"
  cat >"$tmp/$name/config.yaml"
  "$flexcap" image-header "$tmp/$name/config.yaml" --libraries one,two,three --out "$tmp/$name/flexcap_image.hh" \
    2>"$tmp/$name/err" || fail "$name: image-header failed: $(cat "$tmp/$name/err")"
  python3 - "$flexcap" "$tmp/$name/flexcap_image.ld" "$name" "$min_overlap" <<'PY' || exit 1
import re, subprocess, sys
flexcap, script, name, min_overlap = sys.argv[1:]
text = open(script).read()
# Every section in order: (name, alignment, size), with the size as the script sets it.
sections = []
for m in re.finditer(r"  (flexcap_(?:region|overlap)_(\d+)) \(NOLOAD\) : ALIGN\(0x([0-9a-f]+)\) \{(.*?)\n  \}", text, re.S):
    size = re.search(r"\. = \w+_begin \+ 0x([0-9a-f]+);", m.group(4))
    sections.append((m.group(1), int(m.group(3), 16), int(size.group(1), 16)))
regions = [s for s in sections if "region" in s[0]]
overlaps = [s for s in sections if "overlap" in s[0]]
assert len(regions) == 3 and len(overlaps) == 2, (name, [s[0] for s in sections])
alignment = sections[0][1]
assert all(s[1] == alignment for s in sections), (name, "one alignment for every boundary", sections)
# Offsets from the first region, which the linker puts on `alignment`; nothing between.
offset, at = 0, {}
for s in sections:
    assert offset % alignment == 0, (name, s)
    at[s[0]] = (offset, s[2])
    offset += s[2]
def window(i):
    begin = at[f"flexcap_overlap_{i-1}"][0] if i > 0 else at[f"flexcap_region_{i}"][0]
    last = f"flexcap_overlap_{i}" if i < 2 else f"flexcap_region_{i}"
    return begin, at[last][0] + at[last][1]
ranges = [(s[0], at[s[0]][0], at[s[0]][0] + s[2]) for s in sections]
ranges += [(f"DDC of compartment {i}", *window(i)) for i in range(3)]
lines = []
for what, begin, end in ranges:
    lines += [f"crrl {end - begin:x}", f"cram {end - begin:x}"]
out = subprocess.run([flexcap, "cap", "eval"], input="\n".join(lines) + "\n", capture_output=True, text=True,
                     check=True).stdout.split("\n")
for k, (what, begin, end) in enumerate(ranges):
    length = end - begin
    rrlen = int(out[2 * k].split("=> ")[1], 16)
    mask = int(out[2 * k + 1].split("=> ")[1], 16)
    assert rrlen == length, f"{name}: {what}: length {length:#x} is not representable (RRLEN {rrlen:#x})"
    assert begin & ~mask == 0 and alignment & ~mask == 0, f"{name}: {what}: base not aligned for {length:#x}"
# Each overlap region is at least what was asked.
for o in overlaps:
    assert o[2] >= int(min_overlap), (name, o, "smaller than overlap-size")
print(f"  {name}: boundaries aligned to {alignment:#x}, overlap regions of {overlaps[0][2]:#x} bytes, exact")
PY
}

echo "Layouts (every region and DDC window exact):"
check pages 65536 <<'EOF'
sharing: overlap
compartments:
  - { name: one, mechanism: { driver: cheri }, default: true }
  - { name: two, mechanism: { driver: cheri } }
  - { name: three, mechanism: { driver: cheri } }
EOF
check large 5000 <<'EOF'
sharing: overlap
overlap-size: 5000
compartments:
  - { name: one, mechanism: { driver: cheri }, default: true, heap: 100MiB, stack: 20KiB }
  - { name: two, mechanism: { driver: cheri }, heap: 3MiB }
  - { name: three, mechanism: { driver: cheri }, heap: 1GiB }
EOF
check huge 1048576 <<'EOF'
sharing: overlap
overlap-size: 1MiB
compartments:
  - { name: one, mechanism: { driver: cheri }, default: true, heap: 64KiB, stack: 16KiB }
  - { name: two, mechanism: { driver: cheri }, heap: 64GiB }
  - { name: three, mechanism: { driver: cheri }, heap: 777KiB }
EOF

# Without overlap, no overlap region and the layout is as before.
mkdir -p "$tmp/plain"
cat >"$tmp/plain/config.yaml" <<'EOF'
compartments:
  - { name: one, mechanism: { driver: cheri }, default: true }
  - { name: two, mechanism: { driver: cheri } }
EOF
"$flexcap" image-header "$tmp/plain/config.yaml" --libraries one,two --out "$tmp/plain/flexcap_image.hh" ||
  fail "image-header failed without overlap"
! grep -q "flexcap_overlap_[0-9]" "$tmp/plain/flexcap_image.ld" || fail "an overlap region without sharing: overlap"
grep -q '\*(.bss.flexcap_overlap_two)' "$tmp/plain/flexcap_image.ld" ||
  fail "without overlap, FLEXCAP_OVERLAP_SHARED data must stay in its library's compartment"

# overlap with a driver other than cheri: refused at its line, nothing generated.
sed 's/driver: cheri/driver: mprotect/' "$tmp/plain/config.yaml" | sed '1i sharing: overlap' >"$tmp/bad.yaml"
"$flexcap" image-header "$tmp/bad.yaml" --libraries one,two --out "$tmp/bad/flexcap_image.hh" 2>"$tmp/bad.err" &&
  fail "sharing: overlap with mprotect was accepted"
grep -q "bad.yaml:1:10: \`sharing: overlap\` .*only the cheri driver.*Fix:" "$tmp/bad.err" ||
  fail "no line-level error for overlap under mprotect: $(cat "$tmp/bad.err")"
[[ ! -e $tmp/bad/flexcap_image.ld ]] || fail "a layout was generated from a bad configuration"
echo "ok"
