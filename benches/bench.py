#!/usr/bin/env python3
"""staticize beside its peers, in one run, on the same inputs; writes BENCHMARKS.md.

Run through benches/run.sh (it builds the release binary and installs missing tools).
Every comparison alternates staticize and the peer (ABBA order, so drift in machine load
hits both sides alike) and reports medians, min-max and the ratio staticize / peer.
A row whose staticize feature or peer tool is missing prints "pending: <why>" instead of
failing, so the whole file can be regenerated after more branches land.

Environment: BENCH_RUNS (default 5) timed pairs per row; BENCH_BIG_RUNS (default 3) for the
100 MB image rows; STATICIZE (default target/release/staticize); BENCH_OUT (default
BENCHMARKS.md at the repository root for a full run, target/BENCHMARKS-partial.md when only
some groups run, so the committed report keeps every row); BENCH_WORK (default a temporary
directory).
"""

import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STATICIZE = Path(os.environ.get("STATICIZE", REPO / "target/release/staticize"))
OUT_ENV = os.environ.get("BENCH_OUT")
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
BIG_RUNS = int(os.environ.get("BENCH_BIG_RUNS", "3"))
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's lddtree needs pyelftools from the system python
CHECK_TREES = ["/usr/bin", "/usr/lib", "/usr/libexec"]
UNREADABLE = "<interpreter bytes are not text>"


class Pending(Exception):
    """A row that cannot run yet: a staticize feature or a peer tool is missing."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, cwd=None, env=None, ok_codes=(0,), stdout=subprocess.PIPE, input_bytes=None):
    """Runs cmd (list, or str through sh -c); returns CompletedProcess; raises on other codes."""
    shell = isinstance(cmd, str)
    full_env = dict(os.environ, **(env or {}))
    p = subprocess.run(cmd, shell=shell, cwd=cwd, env=full_env, stdout=stdout,
                       stderr=subprocess.PIPE, input=input_bytes)
    if p.returncode not in ok_codes:
        shown = cmd if shell else shlex.join(map(str, cmd))
        tail = p.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise RuntimeError(f"`{shown}` exited {p.returncode}: " + " | ".join(tail))
    return p


def which(tool):
    return shutil.which(tool) is not None


def timed(cmd, **kw):
    """Wall seconds of one run; output discarded unless kw says otherwise."""
    kw.setdefault("stdout", subprocess.DEVNULL)
    t = time.perf_counter()
    sh(cmd, **kw)
    return time.perf_counter() - t


def alternate(a, b, runs, before=None):
    """Times callables a and b `runs` times each, alternating ABBA; `before` runs untimed
    before every timed call (cleanup)."""
    ta, tb = [], []
    for i in range(runs):
        order = [(a, ta), (b, tb)] if i % 2 == 0 else [(b, tb), (a, ta)]
        for fn, acc in order:
            if before:
                before()
            acc.append(fn())
    return ta, tb


def staticize(*args):
    return [str(STATICIZE), *map(str, args)]


_HELP = {}


def help_text(*sub):
    if sub not in _HELP:
        p = subprocess.run(staticize(*sub, "--help"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        _HELP[sub] = p.stdout.decode(errors="replace") if p.returncode == 0 else ""
    return _HELP[sub]


def has_command(name):
    """True when `staticize NAME` exists (listed under Commands in --help)."""
    return re.search(rf"^\s+{re.escape(name)}\s", help_text(), re.M) is not None


def has_flag(sub, flag):
    return flag in help_text(sub)


def need_command(name, branch):
    if not has_command(name):
        raise Pending(f"`staticize {name}` is not in this build (branch `{branch}` not merged yet)")


def need_tool(tool, package):
    if not which(tool):
        raise Pending(f"{tool} not installed ({package})")


def first_json(text):
    """The first JSON value on stdout (the step lines go to stderr, but be lenient)."""
    start = min(i for i in (text.find("{"), text.find("[")) if i >= 0)
    return json.JSONDecoder().raw_decode(text[start:])[0]


def fmt_s(x):
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def fmt_b(n):
    if n is None:
        return "—"
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.2f} {unit}" if unit == "MB" else f"{n / size:.1f} {unit}"
    return f"{n} B"


def spread(ts):
    return f"{fmt_s(statistics.median(ts))} ({fmt_s(min(ts))}–{fmt_s(max(ts))})"


# ---------------------------------------------------------------------------------------------
# Rows. Each returns a list of timing rows and may add notes/sections to REPORT.

TIMINGS = []  # dicts: group, what, s, p, target, verdict, note
SECTIONS = []  # (title, markdown)


def row(group, what, s_times, p_times, target=None, limit=None, note="", words=("meets", "misses")):
    ratio = statistics.median(s_times) / statistics.median(p_times)
    verdict = ""
    if limit is not None:
        verdict = words[0] if limit(ratio, s_times, p_times) else words[1]
    TIMINGS.append(dict(group=group, what=what, s=spread(s_times), p=spread(p_times),
                        ratio=f"{ratio:.2f}", target=target or "reported", verdict=verdict, note=note))
    log(f"  {what}: staticize {spread(s_times)} vs {spread(p_times)} → {ratio:.2f} {verdict}")


def pending(group, what, reason, target=None):
    TIMINGS.append(dict(group=group, what=what, s="—", p="—", ratio="—", target=target or "reported",
                        verdict=f"pending: {reason}", note=""))
    log(f"  {what}: pending: {reason}")


def peer_failed(group, what, s_times, reason, target=None, note=""):
    """A row both sides ran: staticize's time is measured, the peer could not do the job at all
    (its own error is the row's verdict). Measured, not pending."""
    TIMINGS.append(dict(group=group, what=what, s=spread(s_times), p="fails", ratio="—",
                        target=target or "reported", verdict=f"only staticize does it; the peer: {reason}", note=note))
    log(f"  {what}: staticize {spread(s_times)}; the peer fails: {reason}")


def guarded(group, what, target, fn):
    """Runs a row; Pending and failures become a row saying so, never a crash."""
    try:
        fn()
    except Pending as e:
        pending(group, what, str(e), target)
    except Exception as e:  # noqa: BLE001 — one broken row must not lose the others
        pending(group, what, f"failed: {e}", target)


def big_executable(work):
    """A ~100 MB static ELF that runs: a musl hello with node's bytes (or generated data) in a
    non-loaded section — the size and mix of a real big program, without being dynamic."""
    big = work / "big" / "bigapp"
    if big.exists():
        return big
    big.parent.mkdir(parents=True, exist_ok=True)
    src = work / "hello.c"
    src.write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')
    small = work / "hello-small"
    cc = "musl-gcc" if which("musl-gcc") else "gcc"
    sh([cc, "-static", "-Os", "-s", str(src), "-o", str(small)])
    node = shutil.which("node")
    payload = work / "payload.bin"
    if node and os.path.getsize(os.path.realpath(node)) > 50_000_000:
        shutil.copyfile(os.path.realpath(node), payload)
        origin = f"a static hello with {node} ({fmt_b(payload.stat().st_size)}) as a non-loaded section"
    else:
        # 60 MB that does not compress, 40 MB that does: a stand-in for code and data.
        with open(payload, "wb") as f:
            seed = b"staticize"
            import hashlib
            for i in range(60 * 1024 * 1024 // 32):
                seed = hashlib.sha256(seed).digest()
                f.write(seed)
            f.write(b"static linking puts everything in one file. " * (40 * 1024 * 1024 // 45))
        origin = "a static hello with 100 MB of generated data (60 % random) as a non-loaded section"
    sh(["objcopy", "--add-section", f".payload={payload}", "--set-section-flags",
        ".payload=noload,readonly", str(small), str(big)])
    payload.unlink()
    out = sh([str(big)]).stdout.decode().strip()
    assert out == "hi", f"the big executable must run: {out!r}"
    SECTIONS.append(("Inputs", f"- The ~100 MB executable: {origin}; {fmt_b(big.stat().st_size)}, "
                               f"`staticize check` says static; it runs and prints `hi`."))
    return big


def podman_build_save(ctx, tag, out_tar):
    """`podman build` (no cache) + `podman save`, as a user of the Containerfile would."""
    return f"podman build -q --no-cache -t {tag} {shlex.quote(str(ctx))} >/dev/null && " \
           f"podman save -o {shlex.quote(str(out_tar))} {tag} >/dev/null"


def rotate(fns, runs, before=None):
    """Times every callable in `fns` (name → callable) `runs` times, interleaved: each round runs
    them all, starting one later than the round before, so drift in load hits all alike."""
    names = list(fns)
    times = {n: [] for n in names}
    for i in range(runs):
        k = i % len(names)
        for n in names[k:] + names[:k]:
            if before:
                before()
            times[n].append(fns[n]())
    return times


def rows_image(work):
    group = "1. Image from a ~100 MB executable"
    big = big_executable(work)
    ctx = big.parent
    (ctx / "Containerfile").write_text("FROM scratch\nCOPY bigapp /bigapp\nENTRYPOINT [\"/bigapp\"]\n")
    p_tar = work / "big-podman.tar"
    tag = "localhost/staticize-bench-big:latest"
    gz = f"tar c -C {shlex.quote(str(ctx))} bigapp | gzip -6 | sha256sum"
    compress = has_flag("image", "--compress")
    no_compress = "`staticize image --compress` is not in this build (branch `images` not merged yet)"

    def tar_of(variant):
        return work / f"big-staticize-{variant}.tar"

    def image(variant):
        extra = ["--compress", variant] if variant != "default" else []
        return staticize("image", big, "-o", tar_of(variant), "-t", "bigapp:bench", *extra)

    def clean():
        for f in (*(tar_of(v) for v in ("default", "zstd", "none")), p_tar):
            f.unlink(missing_ok=True)
        subprocess.run(["podman", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    fns = {"default": lambda: timed(image("default"))}
    if compress:
        fns["zstd"] = lambda: timed(image("zstd"))
        fns["none"] = lambda: timed(image("none"))
    if which("podman"):
        fns["podman"] = lambda: timed(podman_build_save(ctx, tag, p_tar))
    fns["gzip"] = lambda: timed(gz)
    fns["sha256sum"] = lambda: timed(["sha256sum", str(big)])
    log(f"  {BIG_RUNS} rounds of: {', '.join(fns)}")
    t = rotate(fns, BIG_RUNS, clean)

    size = {}
    for v in [v for v in ("default", "zstd", "none") if v in t]:
        sh(image(v))
        size[v] = tar_of(v).stat().st_size
    gz_bytes = int(sh(f"tar c -C {shlex.quote(str(ctx))} bigapp | gzip -6 | wc -c").stdout)
    if "podman" in t:
        sh(podman_build_save(ctx, tag, p_tar))
        size["podman"] = p_tar.stat().st_size
    clean()

    label = {"default": "`staticize image` (gzip, the default)", "zstd": "`staticize image --compress zstd`",
             "none": "`staticize image --compress none`"}
    podman_what = "`podman build` (FROM scratch, COPY, ENTRYPOINT) + `podman save`"
    if "podman" in t:
        row(group, f"{label['default']} vs {podman_what}", t["default"], t["podman"], "≤ 0.5",
            lambda r, *_: r <= 0.5,
            f"archive {fmt_b(size['default'])} vs {fmt_b(size['podman'])} (podman save writes layers uncompressed)")
    else:
        pending(group, f"{label['default']} vs {podman_what}", "podman not installed (apt-get install podman)", "≤ 0.5")
    smaller = size["default"] <= gz_bytes
    row(group, f"{label['default']} vs `tar c | gzip -6 | sha256sum`", t["default"], t["gzip"],
        "≤ 0.6, output no larger", lambda r, *_: r <= 0.6 and smaller,
        f"whole archive {size['default']:,} B vs gzip stream {gz_bytes:,} B ({'no larger' if smaller else 'LARGER'})")
    if compress:
        row(group, f"{label['none']} vs `sha256sum` of the file", t["none"], t["sha256sum"], "≤ 1.5",
            lambda r, *_: r <= 1.5, f"archive {fmt_b(size['none'])}")
        if "podman" in t:
            for v in ("none", "zstd"):
                row(group, f"{label[v]} vs {podman_what}", t[v], t["podman"], "reported",
                    note=f"archive {fmt_b(size[v])} vs {fmt_b(size['podman'])}"
                         + (" — both with uncompressed layers" if v == "none" else ""))
    else:
        pending(group, "`staticize image --compress none` vs `sha256sum` of the file", no_compress, "≤ 1.5")


def parse_scanelf(text):
    """`scanelf -F '%F %i %n'` lines → {path: (interp, [needed])}; paths may hold spaces."""
    out = {}
    for line in text.splitlines():
        if not line.startswith("/"):
            continue  # the header, or the tail of a garbage interpreter with a newline in it
        parts = line.rsplit(" ", 2)
        if len(parts) == 3 and "/" in parts[0]:
            out[parts[0]] = (parts[1], [n for n in parts[2].split(",") if n])
        else:  # an interpreter string that is not text (e.g. in a separate .debug file)
            out[line.split(" ", 1)[0]] = (UNREADABLE, [])
    return out


def rows_check(work):
    group = "2. `check -r` over system trees"
    trees = [t for t in CHECK_TREES if os.path.isdir(t)]
    target = "≤ 0.5, same verdicts"

    def run():
        need_tool("scanelf", "apt-get install pax-utils")
        if not has_flag("check", "--recursive"):
            raise Pending("`staticize check -r` is not in this build (branch `bench` not merged yet)")
        ours_out, theirs_out = work / "check.out", work / "scanelf.out"
        s_cmd = staticize("check", "-r", *trees)
        p_cmd = ["scanelf", "-R", "-F", "%F %i %n", *trees]

        def s():
            with open(ours_out, "wb") as f:
                return timed(s_cmd, stdout=f, ok_codes=(0, 1))

        def p():
            with open(theirs_out, "wb") as f:
                return timed(p_cmd, stdout=f)

        s(), p()  # warm the page cache and dentries for both
        ts, tp = alternate(s, p, RUNS)
        # Same verdicts: every ELF file scanelf lists, with the same interpreter and libraries.
        ours = first_json(sh(staticize("--json", "check", "-r", *trees), ok_codes=(0, 1)).stdout.decode())
        theirs = parse_scanelf(theirs_out.read_text(errors="replace"))
        def interp(r):
            # A PT_INTERP whose bytes are not text (separate .debug files keep the header but
            # not the contents): scanelf prints the bytes; staticize says the file is no program
            # to load (other-elf: a separate debug-info file), or dynamic without naming the
            # interpreter. Both say there is no loader to run: they agree.
            no_loader = r["kind"] in ("dynamic", "other-elf") and not r.get("interp")
            if no_loader and theirs.get(r["path"], ("",))[0] == UNREADABLE:
                return UNREADABLE
            return r.get("interp") or ""

        mine = {r["path"]: (interp(r), r.get("needed") or []) for r in ours if "kind" in r}
        unjudged = [r["path"] for r in ours if "kind" not in r]
        only_ours = sorted(set(mine) - set(theirs))
        only_theirs = sorted(set(theirs) - set(mine))
        differ = sorted(p for p in set(mine) & set(theirs) if mine[p] != theirs[p])
        mismatches = len(only_ours) + len(only_theirs) + len(differ)
        kinds = {}
        for r in ours:
            kinds[r.get("kind", "error")] = kinds.get(r.get("kind", "error"), 0) + 1
        lines = [f"- Trees: {', '.join(trees)}. staticize judged {len(ours):,} ELF files "
                 f"({', '.join(f'{v:,} {k}' for k, v in sorted(kinds.items()))}); scanelf listed {len(theirs):,}.",
                 f"- Mismatches: {mismatches} (only staticize: {len(only_ours)}, only scanelf: "
                 f"{len(only_theirs)}, different interpreter or libraries: {len(differ)})."]
        for label, paths in (("only staticize", only_ours), ("only scanelf", only_theirs), ("differ", differ)):
            for path in paths[:10]:
                lines.append(f"  - {label}: `{path}` staticize {mine.get(path)} scanelf {theirs.get(path)}")
        odd = [p for p, v in mine.items() if v[0] == UNREADABLE]
        if odd:
            kinds_odd = sorted({k for r in ours if mine.get(r.get("path"), ("",))[0] == UNREADABLE
                                for k in [r["kind"]]})
            lines.append(f"- {len(odd)} file(s) carry a PT_INTERP whose bytes are not text (e.g. `{odd[0]}`, a "
                         f"separate debug-info file): staticize judges them {', '.join(kinds_odd)} (not a "
                         "program to load), scanelf prints the bytes; counted as agreeing.")
        if unjudged:
            lines.append(f"- Unreadable (verdict is an error): {len(unjudged)}, e.g. `{unjudged[0]}`.")
        SECTIONS.append(("Verdicts: `staticize check -r` against `scanelf`", "\n".join(lines)))
        row(group, f"`staticize check -r {' '.join(trees)}` vs `scanelf -R -F '%F %i %n'` (warm cache)",
            ts, tp, target, lambda r, *_: r <= 0.5 and mismatches == 0,
            f"{len(mine):,} ELF files, {mismatches} verdict mismatches")

    guarded(group, "`staticize check -r` vs `scanelf -R`", target, run)


def real(p):
    return os.path.realpath(p)


def lddtree_set(prog):
    lddtree = shutil.which("lddtree")
    if not lddtree:
        raise Pending("lddtree not installed (apt-get install pax-utils python3-pyelftools)")
    if sh([SYSTEM_PYTHON, "-c", "import elftools"], ok_codes=(0, 1)).returncode != 0:
        raise Pending("lddtree needs pyelftools (apt-get install python3-pyelftools)")
    cmd = [SYSTEM_PYTHON, lddtree, "-l", prog]
    lines = [l for l in sh(cmd).stdout.decode().splitlines() if l.strip()]
    return cmd, {real(l) for l in lines[1:]}


def ldd_set(prog):
    cmd = ["ldd", prog]
    libs = set()
    for line in sh(cmd).stdout.decode().splitlines():
        m = re.search(r"=>\s+(/\S+)", line) or re.match(r"\s*(/\S+)\s+\(0x", line)
        if m:
            libs.add(real(m.group(1)))
    return cmd, libs


def rows_closure(work):
    group = "3. Library closure"
    progs = [p for p in (shutil.which("redis-server"), shutil.which("node")) if p]

    for prog in progs or ["redis-server"]:
        name = Path(prog).name

        def run(prog=prog, name=name):
            need_command("bundle", "bundle")
            if not os.path.exists(prog):
                raise Pending(f"{name} not installed")
            out = work / f"{name}-bundle.tar"
            extra = ["--compress", "none"] if has_flag("bundle", "--compress") else []
            s_cmd = staticize("--json", "bundle", prog, "-o", out, *extra)
            res = first_json(sh(s_cmd).stdout.decode())
            entries = res["closure"]["entries"]
            ours = {real(e["host_path"]) for e in entries if str(e["kind"]).lower() in ("interp", "needed")}
            dlopen = {real(e["host_path"]) for e in entries if str(e["kind"]).lower() == "dlopen"}
            what_s = "`staticize bundle`" + (" --compress none" if extra else "") + " (closure + image written)"
            for peer, get in (("lddtree -l", lddtree_set), ("ldd", ldd_set)):
                try:
                    p_cmd, theirs = get(prog)
                except Pending as e:
                    pending(group, f"{name}: {what_s} vs `{peer}`", str(e))
                    continue
                ts, tp = alternate(lambda: timed(s_cmd), lambda: timed(p_cmd), RUNS,
                                   lambda: out.unlink(missing_ok=True))
                same = ours == theirs
                diff = "" if same else f"; only staticize {sorted(ours - theirs)}, only {peer} {sorted(theirs - ours)}"
                row(group, f"{name}: {what_s} vs `{peer}`", ts, tp, "same library set, ratio reported",
                    lambda r, *_: same,
                    f"{len(ours)} files{' (+' + str(len(dlopen)) + ' dlopen)' if dlopen else ''}, "
                    f"{'same set' if same else 'DIFFERENT'}{diff}", words=("same set", "DIFFERENT SET"))

        guarded(group, f"{name}: `staticize bundle` vs `lddtree -l` / `ldd`", "same library set", run)


def peak_kb(cmd):
    """Peak resident memory (KiB) of one run, from GNU time."""
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *map(str, cmd)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
    return int(p.stderr.decode().strip().splitlines()[-1])


def first_answer(cmd, port, env):
    """Seconds from start until http://127.0.0.1:PORT/ answers (then the server is killed)."""
    import socket
    t = time.perf_counter()
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t < 60:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    if c.recv(16):
                        return time.perf_counter() - t
            except OSError:
                time.sleep(0.005)
        raise RuntimeError("no answer within 60 s")
    finally:
        proc.kill()
        proc.wait()


def hello_node_dynamic(work):
    """examples/hello-node built by `staticize node --no-pack` (the dynamic executable)."""
    need_tool("npm", "nodejs npm")
    proj = work / "hello-node-src"
    if not proj.exists():
        shutil.copytree(REPO / "examples/hello-node", proj)
        sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=proj)
    out = work / "hello-node"
    if not out.exists():
        sh(staticize("node", proj / "server.js", "--no-pack", "--no-image", "-o", out))
    return out


def pack_starter(name, work):
    """How to time one start of a packed or unpacked program: `--version`, or for hello-node
    the first HTTP answer."""
    if name != "hello-node":
        return lambda p: (lambda: timed([p, "--version"]))
    port = 18000 + os.getpid() % 1000
    env = dict(os.environ, PORT=str(port))
    return lambda p: (lambda: first_answer([p], port, env))


def rows_pack_one(group, name, prog, work):
    """One program: pack time, size, start-up and peak memory against staticx (when staticx can
    pack it at all) and against the program itself. Start-up is a median of at least 7 runs."""
    runs = max(RUNS, 7)
    ours, theirs = work / f"{name}.packed", work / f"{name}.staticx"
    ts = [timed(staticize("pack", prog, "-o", ours, "--no-image"))]
    sz_s = ours.stat().st_size
    t = time.perf_counter()
    p = subprocess.run(["staticx", str(prog), str(theirs)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tp = [time.perf_counter() - t]
    start = pack_starter(name, work)
    version = name != "hello-node"
    if p.returncode == 0:
        sz_p = theirs.stat().st_size
        row(group, f"{name}: time to pack vs staticx", ts, tp, "≤ 0.5×", lambda r, *_: r <= 0.5,
            f"sizes: staticize {fmt_b(sz_s)}, staticx {fmt_b(sz_p)} → {sz_s / sz_p:.2f}× (target ≤ 1.15×)")
        a, b = alternate(start(ours), start(theirs), runs)
        mem = f"peak memory: staticize {peak_kb([ours, '--version'])} KiB, staticx {peak_kb([theirs, '--version'])} KiB" \
            if version else "start-up = first HTTP answer"
        row(group, f"{name}: start-up, packed vs staticx", a, b, "≤ 0.1×", lambda r, *_: r <= 0.1, mem)
    else:
        why = p.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        peer_failed(group, f"{name}: time to pack vs staticx", ts, f"staticx exits {p.returncode}: {why[0]}",
                    "size ≤ 1.15×, start-up ≤ 0.1×, pack time ≤ 0.5×", f"packed by staticize: {fmt_b(sz_s)}")
        log(f"  {name}: packed in {ts[0]:.1f} s, {fmt_b(sz_s)}")
    tu, tq = alternate(start(prog), start(ours), runs)
    mem = f"peak memory: packed {peak_kb([ours, '--version'])} KiB, itself {peak_kb([prog, '--version'])} KiB" \
        if version else f"packed {fmt_b(sz_s)} in {ts[0]:.1f} s; start-up = first HTTP answer"
    row(group, f"{name}: start-up, packed vs the program itself (cost of packing)", tq, tu, "reported", note=mem)


def rows_pack(work):
    group = "7. Pack (one static file from a dynamic program)"
    progs = [("redis-server", lambda: shutil.which("redis-server")), ("jq", lambda: shutil.which("jq")),
             ("hello-node", lambda: hello_node_dynamic(work))]
    for name, get in progs:
        def run(name=name, get=get):
            need_command("pack", "pack")
            need_tool("staticx", "pip install staticx")
            prog = get()
            if not prog:
                raise Pending(f"{name} not installed")
            rows_pack_one(group, name, prog, work)

        guarded(group, f"{name}: pack vs staticx", "size ≤ 1.15×, start-up ≤ 0.1×, pack time ≤ 0.5×", run)


def artifact_command(res):
    cmd = (res.get("artifact") or {}).get("command")
    if not cmd:
        raise Pending("the JSON output has no artifact.command")
    return cmd


def bare(cmd_text, tmp_out, own_out, sources=()):
    """The compiler command staticize printed, writing to our own output instead of its
    temporary one; leading VAR=value words become environment. With `sources`, the objects
    the command links (staticize's object cache compiles each source to a temporary
    objects/N.o first, gone when it exits) are replaced by the sources: the one command a
    user would type to compile and link them with the same flags."""
    words = shlex.split(cmd_text)
    env = {}
    while words and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]):
        k, v = words.pop(0).split("=", 1)
        env[k] = v
    if not any(tmp_out in w for w in words) and "-o" in words:
        # The command wrote elsewhere and staticize copied the result (go builds in its cache
        # slot, where it compares build IDs): our own output replaces the word after -o.
        words[words.index("-o") + 1] = own_out
    words = [own_out if w == tmp_out else w.replace(tmp_out, own_out) for w in words]
    if sources:
        objects = [i for i, w in enumerate(words) if re.search(r"/objects/\d+\.o$", w)]
        if not objects:
            raise Pending(f"no objects/N.o in the link command to replace with {' '.join(sources)}: {cmd_text}")
        words = words[:objects[0]] + list(sources) + [w for i, w in enumerate(words) if i > objects[0] and i not in objects]
    return words, env


def overhead_limit(r, s, p):
    return statistics.median(s) <= 1.05 * statistics.median(p) + 0.050


def rows_build(work):
    group = "4. Build overhead"
    target = "≤ 5 % + 50 ms"
    d = work / "build"
    d.mkdir(exist_ok=True)
    (d / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')

    def c():
        res = first_json(sh(staticize("--json", "c", "hello.c", "--no-image", "-o", "hello-s"), cwd=d).stdout.decode())
        cmd = artifact_command(res)
        words, env = bare(cmd, res["artifact"]["path"], "hello-bare", sources=["hello.c"])
        sh(words, cwd=d, env=env)  # fails here, not in the timing, if the bare command is wrong
        s_cmd = staticize("c", "hello.c", "--no-image", "-o", "hello-s")
        ts, tp = alternate(lambda: timed(s_cmd, cwd=d), lambda: timed(words, cwd=d, env=env), 3 * RUNS)
        SECTIONS.append(("The bare compiler command", f"`staticize c hello.c --no-image` links with (from `--json` "
                                                       f"artifact.command):\n\n```\n{cmd}\n```\n\nThe bare command "
                                                       "is that link with the object replaced by `hello.c` (the object "
                                                       "cache's objects are temporary), compiling and linking in one "
                                                       f"step:\n\n```\n{shlex.join(words)}\n```\n\nstaticize's runs "
                                                       "after the first take the object from the cache (it preprocesses "
                                                       "the source to key it, then links)."))
        row(group, "`staticize c hello.c --no-image` vs the bare compiler command it runs", ts, tp, target,
            overhead_limit, f"overhead {fmt_s(max(0.0, statistics.median(ts) - statistics.median(tp)))}")

    def go():
        need_command("go", "gorust")
        need_tool("go", "https://go.dev/dl or apt-get install golang")
        g = work / "hello-go"
        g.mkdir(exist_ok=True)
        (g / "go.mod").write_text("module example.com/hello\n\ngo 1.21\n")
        (g / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hi") }\n')
        s_cmd = staticize("--json", "go", ".", "--no-image", "-o", "hello-s")
        res = first_json(sh(s_cmd, cwd=g).stdout.decode())
        cmd = artifact_command(res)
        words, env = bare(cmd, res["artifact"]["path"], str(g / "hello-bare"))
        # The environment staticize sets (toolchains/go.toml): not part of the printed command.
        env.update(CGO_ENABLED="0", GOOS="linux", GOARCH={"x86_64": "amd64", "aarch64": "arm64"}.get(
            platform.machine(), platform.machine()))
        sh(words, cwd=g, env=env)  # warm the build cache for both
        ts, tp = alternate(lambda: timed(s_cmd, cwd=g), lambda: timed(words, cwd=g, env=env), RUNS)
        row(group, "`staticize go` vs bare `go build` with the same flags (warm build cache)", ts, tp, target,
            overhead_limit, f"overhead {fmt_s(max(0.0, statistics.median(ts) - statistics.median(tp)))}")
        SECTIONS.append(("The bare go command", f"`staticize go . --no-image` runs (artifact.command, with "
                                                 f"{' '.join(f'{k}={v}' for k, v in env.items())} set):\n\n```\n{cmd}\n```"))

    def proof():
        # The same build with its default proof run (the image's own command, in its own root)
        # and with --no-probe: the difference is what the proof costs a program that exits at once.
        if not has_flag("c", "--no-probe"):
            raise Pending("this staticize has no proof run (--no-probe)")
        need_tool("bwrap", "apt-get install bubblewrap")
        need_tool("strace", "apt-get install strace")
        base = staticize("c", "hello.c", "-o", "hello-p", "--image", "hello-p.tar", "--no-sbom")
        sh(base, cwd=d)  # warm the object cache for both
        p = sh(base, cwd=d)
        out = (p.stdout + p.stderr).decode(errors="replace")
        if "proved" not in out:
            raise Pending(f"the default build did not prove its image: {out.strip()}")
        ts, tp = alternate(lambda: timed(base, cwd=d), lambda: timed(base + ["--no-probe"], cwd=d), 3 * RUNS)
        delta = statistics.median(ts) - statistics.median(tp)
        row(group, "`staticize c hello.c` (image written) with its default proof run vs `--no-probe`", ts, tp,
            "proof adds < 1 s", lambda r, s, p: statistics.median(s) - statistics.median(p) < 1.0,
            f"the proof adds {fmt_s(max(0.0, delta))}")

    guarded(group, "`staticize c` vs the bare compiler command", target, c)
    guarded(group, "`staticize go` vs bare `go build`", target, go)
    guarded(group, "`staticize c hello.c` with its default proof run vs `--no-probe`", "proof adds < 1 s", proof)


# ---------------------------------------------------------------------------------------------
# Sizes

def image_rootfs(tar_path, dest):
    """Unpacks the layers of a staticize image into dest; returns (entrypoint, cmd)."""
    with tarfile.open(tar_path) as t:
        index = json.load(t.extractfile("index.json"))
        manifest = index["manifests"][0]
        doc = json.load(t.extractfile("blobs/sha256/" + manifest["digest"].split(":", 1)[1]))
        if "manifests" in doc:  # an index of platforms: take the first
            doc = json.load(t.extractfile("blobs/sha256/" + doc["manifests"][0]["digest"].split(":", 1)[1]))
        config = json.load(t.extractfile("blobs/sha256/" + doc["config"]["digest"].split(":", 1)[1]))
        for layer in doc["layers"]:
            blob = t.extractfile("blobs/sha256/" + layer["digest"].split(":", 1)[1])
            # Not stream mode ("r|gz"): Python's tarfile streams only the first gzip member, and
            # staticize's gzip layers are one member per MiB. gzip.GzipFile reads them all.
            mode = "r:gz" if layer["mediaType"].endswith("gzip") else "r:"
            if layer["mediaType"].endswith("zstd"):
                raise RuntimeError("zstd layers: unpack with skopeo instead")
            with tarfile.open(fileobj=blob, mode=mode) as lt:
                lt.extractall(dest, filter="tar") if sys.version_info >= (3, 12) else lt.extractall(dest)
    c = config.get("config", {})
    return c.get("Entrypoint") or [], c.get("Cmd") or []


def podman_image_bytes(tar_path, work, name):
    """`podman save` size of a podman-built FROM scratch image holding the same files."""
    if not which("podman"):
        return None, "podman not installed"
    ctx = work / f"podman-{name}"
    shutil.rmtree(ctx, ignore_errors=True)
    (ctx / "rootfs").mkdir(parents=True)
    entrypoint, cmd = image_rootfs(tar_path, ctx / "rootfs")
    lines = ["FROM scratch", "COPY rootfs/ /"]
    if entrypoint:
        lines.append("ENTRYPOINT " + json.dumps(entrypoint))
    if cmd:
        lines.append("CMD " + json.dumps(cmd))
    (ctx / "Containerfile").write_text("\n".join(lines) + "\n")
    tag = f"localhost/staticize-bench-{name}:latest"
    out = work / f"podman-{name}.tar"
    try:
        sh(podman_build_save(ctx, tag, out))
        return out.stat().st_size, ""
    except Exception as e:  # noqa: BLE001
        return None, f"podman build failed: {e}"
    finally:
        subprocess.run(["podman", "rmi", "-f", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        out.unlink(missing_ok=True)
        shutil.rmtree(ctx, ignore_errors=True)


def sizes(work):
    d = work / "sizes"
    d.mkdir(exist_ok=True)
    (d / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hello");return 0;}\n')
    (d / "hello.cpp").write_text('#include <iostream>\nint main(){std::cout << "hello" << std::endl;}\n')
    g = d / "go"
    g.mkdir(exist_ok=True)
    (g / "go.mod").write_text("module example.com/hello\n\ngo 1.21\n")
    (g / "main.go").write_text('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n')
    r = d / "rust"
    (r / "src").mkdir(parents=True, exist_ok=True)
    (r / "Cargo.toml").write_text('[package]\nname = "hello"\nversion = "0.1.0"\nedition = "2021"\n')
    (r / "src/main.rs").write_text('fn main() { println!("hello"); }\n')
    (d / "hello.js").write_text('console.log("hello");\n')
    redis = shutil.which("redis-server")

    cases = [
        # name, needs (command, branch, tool), argv, binary path (None: from JSON), seed figure
        ("C, musl", ("c", "core", "musl-gcc"), ["c", "hello.c", "--libc", "musl"], "94 kB (musl, scratch)"),
        ("C, glibc", ("c", "core", "gcc"), ["c", "hello.c", "--libc", "glibc"], "940 kB (static glibc, scratch)"),
        ("C++", ("cxx", "core", "g++"), ["cxx", "hello.cpp"], "—"),
        ("Go", ("go", "gorust", "go"), ["go", "./go"], "1.59 MB (hello), 3.6 MB (web service)"),
        ("Rust", ("rust", "gorust", "cargo"), ["rust", "./rust"], "—"),
        ("Node", ("node", "node", "node"), ["node", "hello.js"], "—"),
        ("redis", ("bundle", "bundle", "redis-server"), ["bundle", redis or "redis-server"], "7.73 MB (rootfs with .so)"),
    ]
    rows = []
    for label, (cmd, branch, tool), argv, seed in cases:
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        tar = d / f"{slug}.tar"
        try:
            need_command(cmd, branch)
            if not which(tool):
                raise Pending(f"{tool} not installed")
            extra = ["-o", str(tar)] if cmd == "bundle" else ["-o", str(d / f"{slug}.bin"), "--image", str(tar)]
            res = first_json(sh(staticize("--json", *argv, *extra), cwd=d).stdout.decode())
            if cmd == "bundle":
                binary = os.path.getsize(real(argv[1]))
                files = [e for e in res["closure"]["entries"] if str(e["kind"]).lower() != "symlink"]
                bin_note = f"{binary:,} B + {len(files)} libraries"
            else:
                binary = (d / f"{slug}.bin").stat().st_size
                bin_note = f"{binary:,} B"
            img = tar.stat().st_size
            pod, why = podman_image_bytes(tar, work, slug)
            rows.append(f"| {label} | {bin_note} | {img:,} B ({fmt_b(img)}) | {seed} | "
                        f"{f'{pod:,} B ({fmt_b(pod)})' if pod else why} |")
        except Pending as e:
            rows.append(f"| {label} | pending: {e} | | {seed} | |")
        except Exception as e:  # noqa: BLE001
            rows.append(f"| {label} | failed: {e} | | {seed} | |")
        log(f"  size {label}: {rows[-1]}")
    table = ["| program | binary | staticize image (archive) | seeds' figure | `podman build` + `podman save` of the same files |",
             "| --- | --- | --- | --- | --- |", *rows]
    SECTIONS.append(("5. Sizes: hello programs and redis", "\n".join(table) + "\n\n"
                     "The seeds' figures are `docker images` sizes (unpacked). staticize's archive is the "
                     "single file `docker load`/`podman load` take, layers compressed; `podman save` writes "
                     "layers uncompressed."))


def deps_sizes(work):
    """Issue 15: zlib's minigzip linked with musl + `--dep zlib` against `--libc glibc` (the
    distribution's libz.a): binary and image sizes. The zlib build is cached, so only its first
    run builds it."""
    d = work / "deps"
    d.mkdir(exist_ok=True)
    rows = []
    try:
        if not has_flag("c", "--dep"):
            raise Pending("staticize c has no --dep (issue 15)")
        for tool in ("apt-get", "musl-gcc", "gcc"):
            if not which(tool):
                raise Pending(f"{tool} not installed")
        sh(["apt-get", "source", "--download-only", "zlib"], cwd=d)
        orig = next(d.glob("zlib_*.orig.tar.*"))
        sh(["tar", "xf", str(orig), "--wildcards", "*/test/minigzip.c", "--strip-components=2"], cwd=d)
        cases = [("minigzip, musl + --dep zlib", ["--dep", "zlib"]),
                 ("minigzip, --libc glibc -l z", ["--libc", "glibc", "-l", "z"])]
        for label, flags in cases:
            slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
            binary, tar = d / f"{slug}.bin", d / f"{slug}.tar"
            sh(staticize("c", "minigzip.c", *flags, "-o", str(binary), "--image", str(tar)), cwd=d)
            rows.append(f"| {label} | {binary.stat().st_size:,} B | {tar.stat().st_size:,} B ({fmt_b(tar.stat().st_size)}) |")
    except Pending as e:
        rows.append(f"| minigzip | pending: {e} | |")
    except Exception as e:  # noqa: BLE001
        rows.append(f"| minigzip | failed: {e} | |")
    table = ["| program | binary | image (archive) |", "| --- | --- | --- |", *rows]
    SECTIONS.append(("Sizes: a program with a library, musl + --dep against glibc", "\n".join(table) + "\n\n"
                     "The issue's figures: 79 KB (musl) against 363 KB (glibc) images for minigzip."))


TLS_PROGRAM = r"""#include <stdio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
int main(void) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    unsigned char md[32]; unsigned int n;
    EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL);
    printf("%s sha256(abc)=%02x%02x..\n", OpenSSL_version(OPENSSL_VERSION), md[0], md[1]);
    SSL_CTX_free(ctx);
    return 0;
}
"""


def deps_registry(work):
    """Issue 30: a program with `--dep openssl` built on machine A (an empty cache: openssl is
    built, then pushed to the registry on 127.0.0.1:5000) and then on machine B (another empty
    cache, the same registry: openssl is pulled). One round each: A's build takes minutes."""
    d = work / "deps-registry"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    rows = []
    try:
        for tool in ("apt-get", "musl-gcc", "curl"):
            if not which(tool):
                raise Pending(f"{tool} not installed")
        registry = os.environ.get("STATICIZE_REGISTRY", "127.0.0.1:5000")
        if sh(["curl", "-fsS", f"http://{registry}/v2/"], ok_codes=(0, 7, 22)).returncode != 0:
            raise Pending(f"no registry on {registry} (scripts/services.sh start)")
        (d / "tls.c").write_text(TLS_PROGRAM)
        repo = f"{registry}/staticize-bench/cache-{os.getpid()}-{int(time.time())}"
        times, outs = {}, {}
        for m in ("a", "b"):
            env = {"STATICIZE_CACHE": str(d / m), "STATICIZE_DEPS_CACHE": "", "STATICIZE_DEPS": ""}
            t = time.perf_counter()
            r = sh(staticize("c", "tls.c", "--dep", "openssl", "--no-image", "--cache-registry", repo,
                             "-o", str(d / f"tls-{m}")), cwd=d, env=env, stdout=subprocess.PIPE)
            times[m] = time.perf_counter() - t
            outs[m] = r.stderr.decode() if r.stderr else ""
        pulled = "pulled openssl" in outs["b"] and "building openssl" not in outs["b"]
        same = (d / "tls-a").read_bytes() == (d / "tls-b").read_bytes()
        rows.append(f"| tls.c `--dep openssl` | {times['a']:.1f} s (builds openssl, pushes) | "
                    f"{times['b']:.1f} s ({'pulled' if pulled else 'NOT pulled'}) | "
                    f"{times['b'] / times['a']:.3f}x | {'yes' if same else 'no'} |")
    except Pending as e:
        rows.append(f"| tls.c `--dep openssl` | pending: {e} | | | |")
    except Exception as e:  # noqa: BLE001
        rows.append(f"| tls.c `--dep openssl` | failed: {e} | | | |")
    log(f"  deps-registry: {rows[-1]}")
    table = ["| program | machine A (empty cache) | machine B (empty cache, same registry) | B ÷ A | same bytes |",
             "| --- | --- | --- | --- | --- |", *rows]
    SECTIONS.append(("Deps shared through a registry: machine B against machine A", "\n".join(table) + "\n\n"
                     "Both machines are cache directories on this machine with the registry on 127.0.0.1:5000 "
                     "(no network latency); one round each. B still downloads the Debian source (its digest "
                     "is part of the key) and compiles the program."))


def blobs_registry(work):
    """Issue 30: the compressed layers of an image shared through the cache registry. Debian's
    node (99 MB, dynamic: `staticize bundle` carries its libraries) imaged on machine A (an empty
    cache: every layer compressed, then pushed) and on machine B (another empty cache, the same
    registry: every layer pulled, checked by inflating it, not compressed). Three rounds, each
    with its own repository; medians."""
    d = work / "blobs-registry"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    what = "bundle /usr/bin/node (gzip)"
    try:
        node = shutil.which("node")
        if not node or not which("curl"):
            raise Pending("node or curl not installed")
        registry = os.environ.get("STATICIZE_REGISTRY", "127.0.0.1:5000")
        if sh(["curl", "-fsS", f"http://{registry}/v2/"], ok_codes=(0, 7, 22)).returncode != 0:
            raise Pending(f"no registry on {registry} (scripts/services.sh start)")
        times = {"a": [], "b": [], "local": []}
        same, pulled = True, True
        for i in range(3):
            repo = f"{registry}/staticize-bench/blobs-{os.getpid()}-{i}"
            outs = {}
            for m in ("a", "b", "local"):
                cache = d / f"{i}-{'a' if m == 'local' else m}"
                out = d / f"{i}-{m}" / "node.tar"
                out.parent.mkdir(parents=True, exist_ok=True)
                env = {"STATICIZE_CACHE": str(cache)}
                t = time.perf_counter()
                r = sh(staticize("bundle", node, "--no-probe", "-t", "node-bench:1", "--cache-registry", repo,
                                 "-o", out), env=env)
                times[m].append(time.perf_counter() - t)
                outs[m] = r.stderr.decode(errors="replace")
                same = same and out.read_bytes() == (d / f"{i}-a" / "node.tar").read_bytes()
            pulled = pulled and "pulled layer" in outs["b"] and "pushed layer" not in outs["b"]
        med = {m: statistics.median(v) for m, v in times.items()}
        row = (f"| {what} | {med['a']:.1f} s (compresses, pushes) | {med['b']:.1f} s "
               f"({'pulled' if pulled else 'NOT pulled'}) | {med['b'] / med['a']:.2f}x | {med['local']:.1f} s | "
               f"{'yes' if same else 'no'} |")
    except Pending as e:
        row = f"| {what} | pending: {e} | | | | |"
    except Exception as e:  # noqa: BLE001
        row = f"| {what} | failed: {e} | | | | |"
    log(f"  blobs-registry: {row}")
    table = ["| image | machine A (empty cache) | machine B (empty cache, same registry) | B ÷ A | "
             "A again (its local blob cache) | same bytes |", "| --- | --- | --- | --- | --- | --- |", row]
    SECTIONS.append(("Layers shared through a registry: machine B against machine A", "\n".join(table) + "\n\n"
                     "Both machines are cache directories on this machine with the registry on 127.0.0.1:5000 "
                     "(no network latency); the whole command is timed (reading node's closure, hashing each "
                     "layer's tar, writing the archive). B reads each layer from the registry and inflates it "
                     "to check its tar instead of compressing it."))
def rows_cross(work):
    """Issue 27: a real CMake project (Debian's cmark) built for linux/arm64 by `staticize build
    --platform linux/arm64` (zig cross-compiles; nothing is emulated) against the native build
    of the same tree times two: the stand-in, since no emulating builder (binfmt_misc) runs on
    this machine, for `docker buildx --platform linux/arm64` under QEMU, which the issue puts at
    ten times a native build. Both builds start from a fresh tree each time; one untimed cross
    build first fills zig's cache of musl for arm64 (musl-gcc's libc comes prebuilt)."""
    group = "9. Cross build of a real project"
    what = "cmark (CMake): `staticize build --platform linux/arm64` (zig) vs 2 × the native build (musl-gcc)"
    target = "≤ 1 (an emulated build: ~10× native)"

    def run():
        for tool, pkg in (("apt-get", "apt"), ("cmake", "cmake"), ("musl-gcc", "musl-tools")):
            need_tool(tool, pkg)
        if sh(["python3", "-m", "ziglang", "version"], ok_codes=(0, 1)).returncode != 0:
            raise Pending("zig not installed (pip install ziglang)")
        d = work / "cross"
        d.mkdir(exist_ok=True)
        sh(["apt-get", "source", "--download-only", "cmark"], cwd=d, ok_codes=(0, 100))
        orig = next(d.glob("cmark_*.orig.tar.*"))

        def fresh():
            shutil.rmtree(d / "src", ignore_errors=True)
            (d / "src").mkdir()
            sh(["tar", "xf", str(orig), "--strip-components=1"], cwd=d / "src")

        build = staticize("build", d / "src", "--configure-arg=-DCMARK_TESTS=OFF", "--target", "cmark",
                          "--bin", "cmark", "--no-image")
        cross = [*build, "--platform", "linux/arm64", "-o", str(d / "cmark-arm64")]
        native = [*build, "-o", str(d / "cmark-native")]
        fresh()
        sh(cross, cwd=d)
        tc, tn = alternate(lambda: timed(cross, cwd=d), lambda: timed(native, cwd=d), max(2, RUNS // 2), before=fresh)
        machine = (d / "cmark-arm64").read_bytes()[18:20]
        if machine != (183).to_bytes(2, "little"):
            raise Exception("the cross build did not give an arm64 executable")
        row(group, what, tc, [2 * t for t in tn], target, lambda r, *_: r <= 1,
            f"native build alone {spread(tn)}; cross ÷ native {statistics.median(tc) / statistics.median(tn):.2f}")

    guarded(group, what, target, run)


# ---------------------------------------------------------------------------------------------
# Rebuilds and pushes (issue 29): what a second build after a small change costs, and what it sends.

REGISTRY = os.environ.get("BENCH_REGISTRY", "127.0.0.1:5000")
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json"])


def registry_image(repo, tag):
    """(manifest bytes, {digest: size} of config and layers) of repo:tag, read from the registry
    (an index: its linux/amd64 manifest, whose bytes are added to the index's)."""
    import urllib.request

    def get(ref):
        req = urllib.request.Request(f"http://{REGISTRY}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_TYPES})
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.read()
    body = get(tag)
    doc, size = json.loads(body), len(body)
    if "manifests" in doc:
        m = next(m for m in doc["manifests"] if m.get("platform", {}).get("architecture") in ("amd64", None))
        body = get(m["digest"])
        doc, size = json.loads(body), size + len(body)
    blobs = {doc["config"]["digest"]: doc["config"]["size"], **{l["digest"]: l["size"] for l in doc["layers"]}}
    return size, blobs, [l["size"] for l in doc["layers"]]


def sent_by_rebuild(repo, first, second):
    """Bytes the push of repo:second had to send with repo:first already there: its blobs the first
    lacked, and its manifest. Also the sizes of its layers."""
    _, had, _ = registry_image(repo, first)
    size, blobs, layers = registry_image(repo, second)
    return size + sum(n for d, n in blobs.items() if d not in had), layers


def push_report(text):
    """staticize's push line: "N blobs uploaded, M skipped, X sent, Y the registry already had"."""
    m = re.search(r"\(\d+ blobs? uploaded, \d+ skipped, [^)]*\)", text)
    return m.group(0).strip("()") if m else "no push report"


def node_runtime_rootfs(dest):
    """Debian's node and its libraries (ldd), at their paths: the first stage of the Containerfile."""
    node = shutil.which("node")
    libs = re.findall(r"(/\S+) \(0x", sh(["ldd", node]).stdout.decode())
    for f in [node, *libs]:
        target = dest / f.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(real(f), target)


def rows_rebuild_node(group, work):
    need_tool("podman", "podman")
    need_tool("npm", "nodejs npm")
    d = work / "rebuild-node"
    shutil.rmtree(d, ignore_errors=True)
    app = d / "app"
    shutil.copytree(REPO / "examples/hello-node", app)
    sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=app)
    ctx = d / "ctx"
    node_runtime_rootfs(ctx / "runtime")
    (ctx / "Containerfile").write_text(
        "FROM scratch AS runtime\nCOPY runtime/ /\n\nFROM runtime\nCOPY app/ /app/\n"
        'ENTRYPOINT ["/usr/bin/node", "/app/server.js"]\n')
    server = (app / "server.js").read_text()
    times = {k: [] for k in ("s-first", "s-re", "p-first", "p-re")}
    sent = {}
    for i in range(BIG_RUNS):
        stamp = f"{os.getpid()}-{i}"
        s_repo, p_repo = f"bench/node-s-{stamp}", f"bench/node-p-{stamp}"
        cache = d / f"cache-{i}"

        def s_build(tag):
            cmd = staticize("node", app / "server.js", "--no-pack", "-o", d / "hello", "--image", d / "hello.tar",
                            "--push", f"{REGISTRY}/{s_repo}:{tag}")
            t = time.perf_counter()
            p = sh(cmd, env={"STATICIZE_CACHE": str(cache)})
            return time.perf_counter() - t, push_report((p.stdout + p.stderr).decode(errors="replace"))

        def p_build(tag, first):
            shutil.rmtree(ctx / "app", ignore_errors=True)
            shutil.copytree(app, ctx / "app")
            local = f"localhost/{p_repo}:{tag}"
            t = time.perf_counter()
            sh(["podman", "build", "-q", *(["--no-cache"] if first else []), "-t", local, str(ctx)])
            sh(["podman", "push", "-q", "--tls-verify=false", local, f"docker://{REGISTRY}/{p_repo}:{tag}"])
            return time.perf_counter() - t

        (app / "server.js").write_text(server)
        # The first builds: no blob cache, no podman layer cache, nothing in the registry's repository.
        for b in (lambda: times["s-first"].append(s_build("v1")[0]),
                  lambda: times["p-first"].append(p_build("v1", True)))[:: 1 if i % 2 == 0 else -1]:
            b()
        (app / "server.js").write_text(server.replace("Hello", "Hello again", 1))
        assert (app / "server.js").read_text() != server, "the one-line change"
        t, report = s_build("v2")
        times["s-re"].append(t)
        times["p-re"].append(p_build("v2", False))
        sent = dict(s=sent_by_rebuild(s_repo, "v1", "v2"), p=sent_by_rebuild(p_repo, "v1", "v2"), report=report)
        sh(f"podman rmi -f localhost/{p_repo}:v1 localhost/{p_repo}:v2", ok_codes=(0, 1))
    (app / "server.js").write_text(server)
    (s_sent, s_layers), (p_sent, p_layers) = sent["s"], sent["p"]
    row(group, "hello-node: `staticize node --no-pack --push` rebuild after a one-line change vs its first build + push",
        times["s-re"], times["s-first"], "≤ 0.2×", lambda r, *_: r <= 0.2,
        f"rebuild sent {fmt_b(s_sent)} (registry: new blobs + manifest; push report: {sent['report']}); "
        f"layers {', '.join(fmt_b(n) for n in s_layers)}")
    row(group, "hello-node: two-stage Containerfile, `podman build` (cache warm) + `podman push` rebuild vs its first",
        times["p-re"], times["p-first"], "reported", None,
        f"rebuild sent {fmt_b(p_sent)} (registry: new blobs + manifest); layers "
        f"{', '.join(fmt_b(n) for n in p_layers)}")
    row(group, "hello-node rebuild + push after a one-line change: staticize vs podman (two-stage Containerfile)",
        times["s-re"], times["p-re"], "bytes sent ≤ the app layer + manifest + config",
        lambda r, *_: s_sent <= s_layers[-1] + 16384,
        f"sent: staticize {fmt_b(s_sent)} (its app layer {fmt_b(s_layers[-1])} + config + manifest), podman "
        f"{fmt_b(p_sent)} (its app layer + manifest + config); staticize's node is its own layer "
        f"({fmt_b(max(s_layers))}), the same for every app, so it stays in the registry")


def caddy_module(d):
    """A module whose main is caddy's (github.com/caddyserver/caddy/v2/cmd), fetched through the
    module proxy once."""
    if not (d / "go.sum").exists():
        d.mkdir(parents=True, exist_ok=True)
        (d / "main.go").write_text(
            'package main\n\nimport (\n\tcaddycmd "github.com/caddyserver/caddy/v2/cmd"\n\n'
            '\t_ "github.com/caddyserver/caddy/v2/modules/standard"\n)\n\nfunc main() {\n\tcaddycmd.Main()\n}\n')
        (d / "go.mod").write_text("module example.com/caddy\n\ngo 1.22\n")
        sh(["go", "get", "github.com/caddyserver/caddy/v2@v2.9.1"], cwd=d)
        sh(["go", "mod", "tidy"], cwd=d)
    return d


def rows_rebuild_go(group, work):
    need_tool("go", "https://go.dev/dl or apt-get install golang")
    ko = shutil.which("ko") or str(Path.home() / "go/bin/ko")
    crane = shutil.which("crane") or str(Path.home() / "go/bin/crane")
    if not Path(ko).exists() or not Path(crane).exists():
        raise Pending("ko or crane not installed (go install github.com/google/ko@latest "
                      "github.com/google/go-containerregistry/cmd/crane@latest)")
    d = caddy_module(work / "rebuild-caddy")
    main = (d / "main.go").read_text()
    # ko's base: an image with one empty layer, in the local registry.
    base = f"{REGISTRY}/bench/empty-base:latest"
    (work / "empty.tar").write_bytes(b"\0" * 1024)
    sh([crane, "append", "-f", work / "empty.tar", "-t", base, "--oci-empty-base"])
    sh([crane, "mutate", base, "--set-platform", "linux/amd64", "-t", base])
    stamp = os.getpid()
    s_ref, k_repo = f"{REGISTRY}/bench/caddy-s-{stamp}:latest", f"{REGISTRY}/bench/caddy-ko-{stamp}"
    cache = work / "rebuild-caddy-cache"
    s_cmd = staticize("go", ".", "-o", work / "caddy-s", "--image", work / "caddy-s.tar", "--push", s_ref)
    k_cmd = [ko, "build", "--bare", "--platform=linux/amd64", "."]
    s_env = {"STATICIZE_CACHE": str(cache)}
    k_env = {"KO_DOCKER_REPO": k_repo, "KO_DEFAULTBASEIMAGE": base}
    sh(s_cmd, cwd=d, env=s_env)  # warm: go's build cache, staticize's caches, the registry's blobs
    sh(k_cmd, cwd=d, env=k_env)
    ts, tk = alternate(lambda: timed(s_cmd, cwd=d, env=s_env), lambda: timed(k_cmd, cwd=d, env=k_env), BIG_RUNS)
    _, _, s_layers = registry_image(s_ref.split("/", 1)[1].rsplit(":", 1)[0], "latest")
    _, _, k_layers = registry_image(k_repo.split("/", 1)[1], "latest")
    s_size, k_size = sum(s_layers), sum(k_layers)
    row(group, "caddy: `staticize go --push` vs `ko build` (empty base), warm, no change", ts, tk, "≤ 0.3×",
        lambda r, *_: r <= 0.3, f"image layers: staticize {fmt_b(s_size)}, ko {fmt_b(k_size)}")
    edits = iter(range(1000))

    def changed(cmd, env):
        (d / "main.go").write_text(main.replace("caddycmd.Main()", f"_ = {next(edits)}\n\tcaddycmd.Main()"))
        return timed(cmd, cwd=d, env=env)
    ts, tk = alternate(lambda: changed(s_cmd, s_env), lambda: changed(k_cmd, k_env), BIG_RUNS)
    (d / "main.go").write_text(main)
    row(group, "caddy: `staticize go --push` vs `ko build` (empty base), after a one-line change", ts, tk, "≤ 0.7×",
        lambda r, *_: r <= 0.7 and s_size <= k_size,
        f"image no larger: staticize {fmt_b(s_size)}, ko {fmt_b(k_size)} (compressed layers)")


def rows_rebuild_bundle(group, work):
    need_tool("redis-server", "redis-server")
    d = work / "rebuild-redis"
    d.mkdir(exist_ok=True)
    prog = d / "redis-server"
    repo = f"bench/redis-{os.getpid()}"
    cache = d / "cache"
    sent, layer = [], 0
    times = []
    for i in range(BIG_RUNS):
        # A program that changed: the host's redis-server with bytes appended (still the same
        # ELF to the loader; another digest).
        data = Path(real(shutil.which("redis-server"))).read_bytes()
        prog.write_bytes(data + f"rebuild {i}\n".encode())
        prog.chmod(0o755)
        t = time.perf_counter()
        sh(staticize("bundle", prog, "-o", d / "redis.tar", "--push", f"{REGISTRY}/{repo}:v{i}"),
           env={"STATICIZE_CACHE": str(cache)})
        times.append(time.perf_counter() - t)
        if i:
            n, layers = sent_by_rebuild(repo, f"v{i - 1}", f"v{i}")
            sent.append(n)
            layer = layers[-1]
    row(group, "redis-server bundled, rebuilt + pushed after its program changed: later runs vs the first",
        times[1:], times[:1], "bytes sent ≤ the program's layer + manifest + config",
        lambda *_: max(sent) <= layer + 16384,
        f"sent {fmt_b(max(sent))} per rebuild (new blobs + manifest); the program's layer {fmt_b(layer)}")


def rows_rebuild(work):
    group = "8. Rebuilds and pushes"
    guarded(group, "hello-node rebuild + push vs a two-stage Containerfile", "≤ 0.2×",
            lambda: rows_rebuild_node(group, work))
    guarded(group, "caddy: `staticize go` vs `ko build`", "≤ 0.3× / ≤ 0.7×", lambda: rows_rebuild_go(group, work))
    guarded(group, "redis bundle rebuilt after its program changed", "bytes sent ≤ the program's layer",
            lambda: rows_rebuild_bundle(group, work))


# ---------------------------------------------------------------------------------------------
# Machine and report

DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///tmp/staticize-services/docker.sock")


def redis_answers(engine, image, port):
    """Runs `image` (redis-server entrypoint) with host networking; True when it answers PING."""
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)
    name = f"staticize-bench-{port}"
    r = sh(f"{engine} run -d --rm --name {name} --network host {image} --port {port} --protected-mode no",
           env=env, ok_codes=(0, 1, 125, 126, 127))
    if r.returncode != 0:
        return False
    try:
        for _ in range(50):
            if b"PONG" in sh(f"redis-cli -p {port} ping", ok_codes=(0, 1)).stdout:
                return True
            time.sleep(0.2)
        return False
    finally:
        sh(f"{engine} rm -f {name}", env=env, ok_codes=(0, 1, 125))


def squash_inputs(work):
    """The real images of tests/cli/squash.rs (debootstrap bookworm + redis-server + a deleted
    32 MiB file), built once per bench run."""
    out = work / "squash-images"
    if not (out / "redis-docker.tar").exists():
        for tool, pkg in (("debootstrap", "debootstrap"), ("podman", "podman"), ("docker", "docker.io"),
                          ("redis-cli", "redis-tools"), ("node", "nodejs")):
            need_tool(tool, pkg)
        cache = Path(os.environ.get("STATICIZE_TEST_CACHE", "/var/tmp/staticize-test-cache")) / "squash"
        sh([str(REPO / "tests/fixtures/squash/build-images.sh"), str(cache), str(out)],
           env=dict(os.environ, DOCKER_HOST=DOCKER_HOST))
    return out


def rows_squash(work):
    group = "6. Existing images"
    env = dict(os.environ, DOCKER_HOST=DOCKER_HOST)

    def run():
        need_command("squash", "squash")
        need_tool("docker-squash", "pip install docker-squash")
        imgs = squash_inputs(work)
        saved = imgs / "redis-docker.tar"
        loaded = sh(f"docker load -i {shlex.quote(str(saved))}", env=env).stdout.decode()
        image = loaded.strip().split()[-1]
        ours, theirs = work / "staticize-squashed.tar", work / "docker-squashed.tar"
        s_cmd = staticize("squash", saved, "-t", "bench/squash:staticize", "-o", ours)
        p_cmd = (f"docker-squash -t bench/squash:docker-squash --output-path {shlex.quote(str(theirs))} "
                 f"--load-image false {image} >/dev/null 2>&1")
        # Each side removes only its own output before it runs (a shared cleanup would delete
        # the other side's result, which is loaded and run below).
        ts, tp = alternate(lambda: (ours.unlink(missing_ok=True), timed(s_cmd))[1],
                           lambda: (theirs.unlink(missing_ok=True), timed(p_cmd, env=env))[1], BIG_RUNS)
        runs = []
        for tar, tag in ((ours, "bench/squash:staticize"), (theirs, "bench/squash:docker-squash")):
            sh(f"docker load -i {shlex.quote(str(tar))}", env=env)
            runs.append(redis_answers("docker", tag, 16400 + len(runs)))
            sh(f"docker rmi -f {tag}", env=env, ok_codes=(0, 1))
        sizes = (ours.stat().st_size, theirs.stat().st_size, saved.stat().st_size)
        row(group, "`staticize squash` (saved tar → tar) vs `docker-squash --output-path` (dockerd → tar), redis on debian",
            ts, tp, "result runs, ratio reported", lambda *_: all(runs),
            f"archives: staticize {fmt_b(sizes[0])} (gzip layer), docker-squash {fmt_b(sizes[1])} (plain layer), "
            f"input {fmt_b(sizes[2])}; PING → PONG: staticize {'yes' if runs[0] else 'NO'}, "
            f"docker-squash {'yes' if runs[1] else 'NO'}", words=("both run", "DOES NOT RUN"))
        slim_section(work, imgs, sizes)

    guarded(group, "`staticize squash` vs `docker-squash`", "result runs", run)


def slim_section(work, imgs, squash_sizes):
    """Sizes: the original redis image, squashed, slim, bundle of the host's redis-server, and the
    tutorials' figures."""
    original = imgs / "redis-podman-docker.tar"
    slim = work / "redis-slim.tar"
    res = first_json(sh(staticize("--json", "slim", original, "-o", slim)).stdout.decode())
    bundle = work / "redis-bundle.tar"
    host = shutil.which("redis-server")
    bundle_size = "—"
    if host:
        sh(staticize("bundle", host, "-o", bundle))
        bundle_size = fmt_b(bundle.stat().st_size)
    runs = redis_answers_loaded(slim, res["image"]["reference"])
    body = "\n".join([
        "The redis image of `tests/cli/squash.rs` (debootstrap `--variant=minbase` bookworm, "
        "`apt-get install redis-server`, a 32 MiB file copied in one layer and deleted in the next), "
        "saved by podman. Archive sizes (bytes on disk; the tutorials quote `docker images` sizes).",
        "",
        "| image | size | runs redis |",
        "| --- | --- | --- |",
        f"| original (`podman save`, 4 layers) | {fmt_b(original.stat().st_size)} | yes |",
        f"| `staticize squash` (1 gzip layer) | {fmt_b(squash_sizes[0])} | yes (see timings) |",
        f"| `docker-squash` output (1 plain layer) | {fmt_b(squash_sizes[1])} | yes (see timings) |",
        f"| `staticize slim` (scratch + closure from the image) | {fmt_b(slim.stat().st_size)} | "
        f"{'yes' if runs else 'NO'} |",
        f"| `staticize bundle /usr/bin/redis-server` (closure from the host) | {bundle_size} | — |",
        "| tutorials: redis on ubuntu / debian / chained RUN / docker-squash / scratch + .so | "
        "347 MB / 305 MB / 151 MB / 151 MB / 7.73 MB | — |",
    ])
    SECTIONS.append(("Existing images: squash and slim", body))


def redis_answers_loaded(tar, tag):
    sh(f"podman load -i {shlex.quote(str(tar))}")
    try:
        return redis_answers("podman", tag, 16410)
    finally:
        sh(f"podman rmi -f {tag}", ok_codes=(0, 1))


# ---------------------------------------------------------------------------------------------
# Node single executables (issue 28): staticize node beside bun build --compile and a Node SEA.

BUN = "bun@1.4.5"


def node_app(work, name, fixture, files):
    """A project copied from tests/fixtures (or examples/) and installed from its lockfile."""
    proj = work / f"node-{name}"
    if not proj.exists():
        proj.mkdir(parents=True)
        for f in files:
            (proj / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / fixture / f, proj / f)
        sh(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=proj)
    return proj


def bun_binary(work):
    """bun from npm (its package fetches the binary of this platform)."""
    d = work / "bun"
    if not (d / "node_modules/.bin/bun").exists():
        d.mkdir(exist_ok=True)
        sh(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix", d, BUN])
    return d / "node_modules/.bin/bun"


def node_sea(proj, entry, out):
    """Node's documented recipe: esbuild bundle, sea-config.json, the blob, a copy of node,
    postject (the versions toolchains/node.toml pins)."""
    d = out.parent / (out.name + ".sea")
    d.mkdir(exist_ok=True)
    sh(["npx", "--yes", "esbuild@0.28.2", entry, "--bundle", "--platform=node", "--format=cjs",
        f"--outfile={d / 'main.cjs'}", "--log-level=error"], cwd=proj)
    (d / "sea-config.json").write_text(json.dumps({"main": "main.cjs", "output": "prep.blob",
                                                    "disableExperimentalSEAWarning": True}))
    sh(["node", "--experimental-sea-config", "sea-config.json"], cwd=d)
    shutil.copyfile(real(shutil.which("node")), out)
    os.chmod(out, 0o755)
    sh(["npx", "--yes", "postject@1.0.0-alpha.6", out, "NODE_SEA_BLOB", d / "prep.blob",
        "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"])


def linkage_of(path):
    p = subprocess.run(staticize("check", "--json", path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        return first_json(p.stdout.decode())[0]["kind"]
    except Exception:  # noqa: BLE001
        return "?"


def node_alone_cases(work):
    hello = node_app(work, "hello", "examples/hello-node", ["package.json", "package-lock.json", "server.js"])
    figlet = node_app(work, "figlet", "tests/fixtures/node-figlet", ["package.json", "package-lock.json"])
    port = 19000 + os.getpid() % 1000
    env = dict(os.environ, PORT=str(port))
    args = ["-f", "Ghost", "hi"]
    want = sh(["node", figlet / "node_modules/figlet/bin/index.js", *args]).stdout
    return [
        ("hello-node (first HTTP answer)", hello, "server.js",
         lambda exe: first_answer([exe], port, env), lambda exe: first_answer([exe], port, env) > 0),
        ("figlet -f Ghost hi (a CLI reading its fonts by __dirname)", figlet, "node_modules/figlet/bin/index.js",
         lambda exe: timed([exe, *args]),
         lambda exe: subprocess.run([str(exe), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout == want),
    ]


def node_alone_build(tool, proj, entry, out, work):
    t = time.perf_counter()
    if tool == "staticize node":
        sh(staticize("node", entry, "-o", out, "--no-image", "--no-probe"), cwd=proj)
    elif tool == "bun build --compile":
        sh([bun_binary(work), "build", "--compile", entry, "--outfile", out], cwd=proj)
    else:
        node_sea(proj, entry, out)
    return time.perf_counter() - t


def carries_tree(path):
    p = subprocess.run(staticize("check", "--json", path), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        return "node_tree" in first_json(p.stdout.decode())[0]
    except Exception:  # noqa: BLE001
        return False


NODE_TOOLS = ("staticize node", "bun build --compile", "Node SEA (esbuild + postject)")


def node_alone_built(label, proj, entry, works, work):
    """Each tool's executable for one app: size, linkage, whether it answers right, build time."""
    built = {}
    for tool in NODE_TOOLS:
        slug = re.sub(r"[^a-z0-9]+", "-", (label.split(" ")[0] + "-" + tool).lower())
        out = work / "node-alone" / slug
        out.parent.mkdir(exist_ok=True)
        try:
            t = node_alone_build(tool, proj, entry, out, work)
        except Exception as e:  # noqa: BLE001
            built[tool] = dict(error=str(e)[:160])
            continue
        built[tool] = dict(out=out, size=out.stat().st_size, kind=linkage_of(out), ok=works(out), built=t,
                           tree=carries_tree(out), first="")
    return built


def node_alone_times(built, start):
    """Start-up of every working executable, interleaved (rotated rounds); staticize's first run
    after its unpacked tree is removed, when it carries one."""
    ours = built.get("staticize node", {})
    if ours.get("ok") and ours.get("tree"):
        shutil.rmtree(f"/dev/shm/staticize-node-{os.getuid()}", ignore_errors=True)
        ours["first"] = f"; first run (unpacks its tree) {fmt_s(start(ours['out']))}"
    fns = {tool: (lambda o=r["out"]: start(o)) for tool, r in built.items() if r.get("ok")}
    times = rotate(fns, max(RUNS, 5)) if fns else {}
    for tool, r in built.items():
        r["times"] = times.get(tool, [])


def rows_node_alone(work):
    group = "10. Node single executables: staticize node, bun build --compile, Node SEA"
    try:
        need_tool("npm", "nodejs npm")
        cases = node_alone_cases(work)
    except Exception as e:  # noqa: BLE001
        pending(group, "node single executables", str(e))
        return
    lines = ["| app | tool | size | linkage (`staticize check`) | prints the right answer | start-up (median of runs) | build time |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for label, proj, entry, start, works in cases:
        results = node_alone_built(label, proj, entry, works, work)
        node_alone_times(results, start)
        for tool, r in results.items():
            if "error" in r:
                lines.append(f"| {label} | {tool} | failed to build: {r['error']} | | | | |")
                continue
            su = f"{spread(r['times'])}{r['first']}" if r["times"] else "— (it does not work)"
            lines.append(f"| {label} | {tool} | {r['size']:,} B ({fmt_b(r['size'])}) | {r['kind']} | "
                         f"{'yes' if r['ok'] else 'no'} | {su} | {fmt_s(r['built'])} |")
        ours = results.get("staticize node")
        for peer in NODE_TOOLS[1:]:
            theirs = results.get(peer)
            if not ours or not theirs or "error" in ours or "error" in theirs:
                continue
            note = f"size {ours['size'] / theirs['size']:.2f}× ({fmt_b(ours['size'])} / {fmt_b(theirs['size'])}); " \
                   f"staticize: {ours['kind']}, {peer}: {theirs['kind']}"
            if ours["times"] and theirs["times"]:
                row(group, f"{label}: start-up vs {peer}", ours["times"], theirs["times"], "reported", note=note)
            elif ours["times"]:
                peer_failed(group, f"{label}: start-up vs {peer}", ours["times"],
                            "builds, but its executable does not print the right answer", note=note)
    SECTIONS.append(("10. Node single executables", "\n".join(lines) + "\n\n"
                     f"One run of `benches/run.sh node-alone`. bun is `{BUN}` from npm; the Node SEA is Node's "
                     "documented recipe (esbuild bundle, `--experimental-sea-config`, postject) with the same "
                     "node staticize uses. staticize's file is the packed static executable (node, its loader and "
                     "libraries, and for figlet its package tree, in one file); its first run unpacks the tree into "
                     "/dev/shm, later runs reuse it. Start-up: hello-node until its first HTTP answer, figlet until "
                     "it has printed its banner and exited; the three tools' executables run in rotated rounds."))


def machine():
    def out(cmd):
        try:
            p = subprocess.run(cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
            return p.stdout.decode(errors="replace").strip().splitlines()[0] if p.stdout else "?"
        except Exception:  # noqa: BLE001
            return "not installed"

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = next((int(l.split()[1]) * 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    tools = {
        "staticize": f"{out(shlex.quote(str(STATICIZE)) + ' --version').removeprefix('staticize ')} "
                     f"(commit {out(f'git -C {REPO} describe --always --dirty')})",
        "rustc": out("rustc --version"),
        "podman": out("podman --version"),
        "scanelf (pax-utils)": out("dpkg-query -W -f '${Version}' pax-utils 2>/dev/null || echo '?'"),
        "ldd (glibc)": out("ldd --version"),
        "gzip": out("gzip --version"),
        "tar": out("tar --version"),
        "sha256sum": out("sha256sum --version"),
        "gcc": out("gcc --version"),
        "musl-gcc": out("dpkg-query -W -f 'musl-tools ${Version}' musl-tools 2>/dev/null || echo '?'"),
        "go": out("go version"),
        "node": out("node --version"),
        "python": platform.python_version(),
    }
    return cpu, mem, tools


def write_report(out, started, load_before, elapsed):
    cpu, mem, tools = machine()
    load_after = os.getloadavg()
    lines = [
        "# Benchmarks: staticize beside its peers",
        "",
        f"Generated by `benches/run.sh` on {started:%Y-%m-%d %H:%M} UTC in {elapsed / 60:.1f} min. "
        "Each row alternates staticize and the peer on the same inputs (ABBA order for a pair; the "
        "100 MB image commands run in rotated rounds, all six in each round); "
        f"{RUNS} timed pairs per row ({BIG_RUNS} for the 100 MB image rows), after an untimed warm-up "
        f"where a cache matters. Times are wall clock: median (min–max). "
        "Ratio = staticize ÷ peer (below 1: staticize is faster). Tests never assert timings; these "
        "targets are checked only here.",
        "",
        "## Machine",
        "",
        f"- {os.cpu_count()} CPUs (`nproc`), {cpu}, {mem / 2**30:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}",
        f"- Load average {load_before[0]:.1f} when the run started, {load_after[0]:.1f} when it ended. "
        + ("**The machine was busy with other work during this run**, so absolute times are inflated "
           "and noisy; both sides of a ratio ran interleaved under the same load, so the ratios still "
           "compare fairly." if max(load_before[0], load_after[0]) > 0.5 * (os.cpu_count() or 1) else
           "The machine was otherwise idle."),
        "- Versions: " + "; ".join(f"{k} {v}" for k, v in tools.items()),
        "",
        "## Timings",
        "",
        "| comparison | staticize | peer | ratio | target | result | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    group = None
    for t in TIMINGS:
        if t["group"] != group:
            group = t["group"]
            lines.append(f"| **{group}** | | | | | | |")
        cells = [t[k].replace("|", "\\|") for k in ("what", "s", "p", "ratio", "target", "verdict", "note")]
        lines.append("| " + " | ".join(cells) + " |")
    for title, body in SECTIONS:
        lines += ["", f"## {title}", "", body]
    history = REPO / "benches" / "history.md"
    if history.exists():
        lines += ["", history.read_text().rstrip()]
    out.write_text("\n".join(lines) + "\n")
    log(f"wrote {out}")


def main():
    if not STATICIZE.exists():
        sys.exit(f"{STATICIZE} not found: build it with cargo build --release (benches/run.sh does)")
    steps = [("image", rows_image), ("check", rows_check), ("closure", rows_closure),
             ("build", rows_build), ("sizes", sizes), ("squash", rows_squash), ("pack", rows_pack),
             ("deps", deps_sizes), ("rebuild", rows_rebuild), ("deps-registry", deps_registry),
             ("blobs-registry", blobs_registry), ("cross", rows_cross),
             ("node-alone", rows_node_alone)]
    only = set(sys.argv[1:])  # e.g. `run.sh check sizes` runs only those
    unknown = sorted(only - {name for name, _ in steps})
    if unknown:
        print(f"benches/run.sh: unknown group {', '.join(unknown)}; "
              f"choose from: {' '.join(name for name, _ in steps)}", file=sys.stderr)
        sys.exit(2)
    out = Path(OUT_ENV) if OUT_ENV else REPO / ("target/BENCHMARKS-partial.md" if only else "BENCHMARKS.md")
    started = datetime.now(timezone.utc)
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    work_env = os.environ.get("BENCH_WORK")
    with tempfile.TemporaryDirectory(prefix="staticize-bench-") as tmp:
        work = Path(work_env) if work_env else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for name, fn in steps:
            if only and name not in only:
                continue
            log(f"== {name}")
            fn(work)
    write_report(out, started, load_before, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
