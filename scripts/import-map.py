#!/usr/bin/env python3
# The import map of src/: every `crate::`, `super::` and `self::` path (in `use` and inline, outside
# #[cfg(test)] modules) resolved to the file it names. Prints the folder cycles and the file cycles
# (strongly connected components); --edges lists each arrow between folders with one example.
#   python3 scripts/import-map.py [--edges] [--into DIR/FILE] [SRC]   (SRC defaults to src; --into
#   lists the arrows into one module)
import re, sys, pathlib, itertools
argv = [a for i,a in enumerate(sys.argv) if i == 0 or sys.argv[i-1] != "--into"]
args = [a for a in argv[1:] if not a.startswith("--")]
root = pathlib.Path(args[0] if args else "src")
mods = {}
for p in root.rglob("*.rs"):
    rel = p.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod": parts = parts[:-1]
    if parts in (["lib"], ["main"]): parts = ["<" + parts[0] + ">"]
    mods[tuple(parts)] = p
def strip_tests(text):
    # An inline test module ends the file's shipped code; a single #[cfg(test)] line (a variant,
    # a field, `mod tests;`) is left out with its attribute.
    out=[]; lines=text.splitlines(); skip=False
    for i,l in enumerate(lines):
        if skip: skip=False; continue
        if l.strip()=="#[cfg(test)]" and i+1<len(lines):
            if re.match(r'^\s*(pub(\(\w+\))?\s+)?mod\s+\w+\s*\{',lines[i+1]): break
            skip=True; continue
        out.append(l)
    return "\n".join(out)
def test_only(parent_text, name):
    return re.search(r'#\[cfg\(test\)\]\s*(pub(\(\w+\))?\s+)?mod\s+'+name+r'\s*;', parent_text) is not None
def expand(s):
    # expand a use-tree string like a::{b, c::{d}} into paths
    s=s.strip()
    if not s: return []
    depth=0
    for i,ch in enumerate(s):
        if ch=='{':
            if '}' not in s: return [s[:i]]
            prefix=s[:i]; body=s[i+1:s.rindex('}')]
            items=[];d=0;cur=''
            for c in body:
                if c=='{': d+=1
                if c=='}': d-=1
                if c==',' and d==0: items.append(cur);cur=''
                else: cur+=c
            items.append(cur)
            return [prefix+x for it in items for x in expand(it) if it.strip()]
    return [s]
def resolve(base, path):
    segs=[x for x in path.split("::") if x and x!='self']
    best=None
    for n in range(len(segs),0,-1):
        if tuple(base+segs[:n]) in mods: return tuple(base+segs[:n])
    return None
# Modules whose file is named by #[path = "…"] (pack's format, shared with the launcher).
for m,p in list(mods.items()):
    for pm in re.finditer(r'#\[path\s*=\s*"([^"]+)"\]\s*(?:pub(?:\(\w+\))?\s+)?mod\s+(\w+)\s*;', p.read_text()):
        target=(p.parent / pm.group(1)).resolve()
        if target.exists(): mods[tuple(list(m)+[pm.group(2)])]=target
# Files compiled only for tests (`#[cfg(test)] mod tests;`) are not part of the shipped map.
for m,p in list(mods.items()):
    if m and not m[0].startswith("<"):
        parent = p.parent / "mod.rs" if p.name != "mod.rs" else p.parent.parent / "mod.rs"
        if len(m) == 1: parent = root / "lib.rs"
        if parent.exists() and test_only(parent.read_text(), m[-1]): del mods[m]
edges=set()
for m,p in mods.items():
    text=p.read_text()
    text=strip_tests(text)
    text=re.sub(r'//[^\n]*','',text)
    here=list(m) if p.name=="mod.rs" else list(m[:-1])  # module dir for super/self resolution
    self_mod=list(m)
    for um in re.finditer(r'\buse\s+([^;]+);', text):
        for path in expand(re.sub(r'\s+','',re.sub(r'\s+as\s+\w+','',um.group(1)))):
            path=path.split(" as ")[0]
            if path.startswith("crate::"): t=resolve([],path[7:])
            elif path.startswith("super::"):
                base=self_mod[:-1]; rest=path[7:]
                while rest.startswith("super::"): base=base[:-1]; rest=rest[7:]
                t=resolve(base,rest) or tuple(base)
            elif path.startswith("self::"): t=resolve(self_mod,path[6:])
            else:
                t=resolve(self_mod,path) if p.name=="mod.rs" or m[0].startswith("<") else None
                if t and len(t)<=len(self_mod): t=None
            if t and t!=m: edges.add((m,t))
    for um in re.finditer(r'(?<![:\w])crate::((?:\w+::)*\w+)', re.sub(r'\buse\s+[^;]+;','',text)):
        t=resolve([],um.group(1))
        if t and t!=m: edges.add((m,t))
    for um in re.finditer(r'(?<![:\w])((?:super::)+)((?:\w+::)*\w+)', re.sub(r'\buse\s+[^;]+;','',text)):
        base=self_mod[:-um.group(1).count("super::")]
        t=resolve(base,um.group(2)) or tuple(base)
        if t and t!=m: edges.add((m,t))
    if p.name=="mod.rs" or m[0].startswith("<"):
        for um in re.finditer(r'(?<![:\w])(\w+)::', re.sub(r'\buse\s+[^;]+;','',text)):
            t=tuple(list(self_mod if not m[0].startswith("<") else [])+[um.group(1)])
            if t in mods and t!=m: edges.add((m,t))
def folder(m): return m[0]
fe={}
for a,b in edges:
    fa,fb=folder(a),folder(b)
    if fa!=fb: fe.setdefault((fa,fb),[]).append(("/".join(a),"/".join(b)))
def sccs(nodes, adj):
    idx={};low={};st=[];on=set();res=[];c=[0]
    sys.setrecursionlimit(10000)
    def sc(v):
        idx[v]=low[v]=c[0];c[0]+=1;st.append(v);on.add(v)
        for w in adj.get(v,()):
            if w not in idx: sc(w);low[v]=min(low[v],low[w])
            elif w in on: low[v]=min(low[v],idx[w])
        if low[v]==idx[v]:
            comp=[]
            while True:
                w=st.pop();on.discard(w);comp.append(w)
                if w==v:break
            if len(comp)>1: res.append(sorted(comp))
    for v in nodes:
        if v not in idx: sc(v)
    return res
if "--into" in sys.argv:
    want=tuple(sys.argv[sys.argv.index("--into")+1].split("/"))
    for a,b in sorted(edges):
        if b==want: print("/".join(a), "->", "/".join(b))
if "--edges" in sys.argv:
    for (a,b),l in sorted(fe.items()): print(f"{a} -> {b}: {len(l)}  e.g. {l[0][0]} -> {l[0][1]}")
fadj={}
for a,b in fe: fadj.setdefault(a,set()).add(b)
print("folder cycles:", sccs(sorted({x for e in fe for x in e}), fadj))
adj={}
for a,b in edges: adj.setdefault(a,set()).add(b)
fc=sccs(sorted(mods), adj)
print("file cycles:", len(fc))
for c in fc: print("  ", ["/".join(x) for x in c])
