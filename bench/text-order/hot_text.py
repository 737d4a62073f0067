"""The linker scripts that place the functions a plain run executes together.

    python3 hot_text.py write OUT ARCHIVES BINARY=TRACE...   (in order of importance)
    python3 hot_text.py check BINARY TRACE MAX_PAGES

Each BINARY is a static, position-dependent build (its addresses are those `nm`
prints), and its TRACE step-trace's list of the instruction addresses a run
executed in it; ARCHIVES is a colon-separated list of the static C libraries they
were linked with. Each function a trace hits becomes one input-section pattern:

- a Rust function (compiled with one section per function, `.text.<symbol>`) by its
  mangled name with the hash left open (`..17h*`; for std's v0 names the crate
  ids, `Cs*_`), so the pattern still matches after a rebuild, in the dynamic form,
  and for every instance of a generic function;
- a C library function by its archive member (`*libc.a:fileops.o`), since those
  objects are built with one `.text` each;
- any other function (`main`) by its own section.

A function LLVM deems cold (`#[cold]`, such as a vector's growth) sits in
`.text.unlikely.<symbol>`, so each pattern names both sections.

The patterns go into one output section, inserted before `.text`; what they do not
match stays where the linker puts it. Unmatched patterns cost nothing, so the same
script serves the dynamic build, where the C library is not linked in.

`check` is the release test's: it fails when TRACE (a run of BINARY, built with the
script) executed code on more than MAX_PAGES text pages outside that section, which
is what a list that no longer matches the code shows.
"""

import bisect
import re
import subprocess
import sys

RUST_HASH = re.compile(r"17h[0-9a-f]{16}E(\.llvm\.\d+)?$")
CRATE_ID = re.compile(r"Cs[0-9A-Za-z]+_")
LOCAL_COPY = re.compile(r"\.\d+$")


def pattern(name):
    """The input-section pattern of function NAME, with its build-specific parts open."""
    if name.startswith("_ZN"):  # legacy mangling: a hash per symbol
        return RUST_HASH.sub("17h*", name)
    if name.startswith("_R"):  # v0 mangling (the prebuilt std): a hash per crate
        name = CRATE_ID.sub("Cs*_", name)
    return LOCAL_COPY.sub("*", name)


def functions(binary):
    """(start, size, name) of every function symbol of BINARY, sorted by start."""
    out = subprocess.run(
        ["nm", "-S", "--defined-only", binary], check=True, capture_output=True, text=True
    ).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTwWi":
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    syms.sort()
    return syms


def members(archives):
    """Which archive member defines each function symbol of ARCHIVES."""
    owner = {}
    for archive in archives:
        out = subprocess.run(
            ["nm", "-A", "--defined-only", archive], check=True, capture_output=True, text=True
        ).stdout
        name = re.sub(r"-[0-9.]+\.a$", "*.a", archive.rsplit("/", 1)[-1])
        for line in out.splitlines():
            # /usr/lib/x86_64-linux-gnu/libc.a:fileops.o:0000000000001860 T _IO_file_open
            where, _, rest = line.rpartition(":")
            parts = rest.split()
            if len(parts) == 3 and parts[1] in "tTwWi":
                owner.setdefault(parts[2], f"*{name}:{where.rsplit(':', 1)[-1]}")
    return owner


def executed(binary, trace):
    """Names of the functions of BINARY whose code TRACE ran."""
    syms = functions(binary)
    starts = [s[0] for s in syms]
    hit = set()
    for line in open(trace):
        ip = int(line, 16)
        i = bisect.bisect_right(starts, ip) - 1
        if i >= 0 and ip < syms[i][0] + max(syms[i][1], 1):
            hit.add(syms[i][2])
    return hit


def hot_section(binary):
    """(start, size) of BINARY's `.text.hot_run`."""
    out = subprocess.run(["readelf", "-SW", binary], check=True, capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if ".text.hot_run " in line:
            fields = line.split("]", 1)[1].split()
            return int(fields[2], 16), int(fields[4], 16)
    sys.exit(f"{binary} has no .text.hot_run section: it was linked without its hot-text list")


def check(binary, trace, max_pages):
    start, size = hot_section(binary)
    text = functions(binary)
    lo, hi = text[0][0], text[-1][0] + text[-1][1]
    pages = {int(line, 16) >> 12 for line in open(trace)}
    pages = {p for p in pages if lo >> 12 <= p <= hi >> 12}
    inside = {p for p in pages if start >> 12 <= p <= (start + size - 1) >> 12}
    outside = pages - inside
    print(
        f"{binary}: the run executed {len(pages)} text pages, {len(outside)} outside"
        f" .text.hot_run ({size // 1024} KiB)"
    )
    if len(outside) > int(max_pages):
        sys.exit(
            f"{binary}: more than {max_pages} text pages executed outside .text.hot_run:"
            " remake the lists with bench/text-order.sh"
        )


def write(out, archives, *runs):
    """Each run's functions after those of the runs before it: the first run's lie
    together at the start, and a later run (a container target's) only adds its own
    after them."""
    owner = members([a for a in archives.split(":") if a])
    lines = [
        "/* The functions a plain run of this binary executes, placed together so",
        "   that a run maps few pages of text. Written by bench/text-order.sh; see",
        "   there how to remake it, and crates/nsjoin-cli/build.rs for its use. */",
        "SECTIONS",
        "{",
        "  .text.hot_run : {",
    ]
    sections, c_objects = set(), set()
    for run in runs:
        binary, _, trace = run.partition("=")
        lines.append(f"    /* first executed by the run {trace.rsplit('/', 1)[-1]} */")
        new_sections, new_objects = set(), set()
        for name in executed(binary, trace):
            if name in owner:
                new_objects.add(owner[name])
            else:
                new_sections.add(pattern(name))
        new_sections -= sections
        new_objects -= c_objects
        lines += [f"    *(.text.{p} .text.unlikely.{p})" for p in sorted(new_sections)]
        lines += [f"    {m}(.text .text.*)" for m in sorted(new_objects)]
        sections |= new_sections
        c_objects |= new_objects
    lines += ["  }", "}", "INSERT BEFORE .text;", ""]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    print(
        f"{out}: {len(sections)} function sections, {len(c_objects)} C library objects",
        file=sys.stderr,
    )

if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](*sys.argv[2:])
