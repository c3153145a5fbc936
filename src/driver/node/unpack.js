'use strict';
// Written by staticize: the program's package tree travels inside this executable (the SEA
// asset "staticize/tree"). Node resolves modules, ES module imports, worker scripts, native
// addons and child executables through real files only, so the tree is unpacked once into a
// memory file system (tmpfs), in a directory named by the tree's hash, and reused by every
// later run. Nothing is written to a disk: a directory that is not tmpfs or ramfs is never used.
// In the image staticize writes, the same tree is already under /app and runs from there.
/*staticize-tree @@MANIFEST@@*/
const fs = require('node:fs');
const path = require('node:path');
const HASH = '@@HASH@@';
const ENTRY = @@ENTRY@@;
const IMAGE_TREE = @@IMAGE_TREE@@;
// Shared libraries from the build machine the native modules need and node does not load itself,
// in the order they must be loaded (each one's own needs first).
const PRELOAD = @@PRELOAD@@;
// Native files (addons, executables): their directory must allow executing (no noexec).
const NATIVE = @@NATIVE@@;
const MARK = '.staticize-tree';
const MEMORY_FS = [0x01021994, 0x858458f6]; // tmpfs, ramfs (statfs f_type)

function fail(message) {
  process.stderr.write(path.basename(process.argv0 || 'program') + ': ' + message + '\n');
  process.exit(127);
}

function holds(dir) {
  try { return fs.readFileSync(path.join(dir, MARK), 'utf8') === HASH; } catch { return false; }
}

// The mount options of the file system holding `dir` (the longest mount point above it).
function mountOptions(dir) {
  let best = '', options = '';
  try {
    for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const f = line.split(' ');
      const at = (f[4] || '').replace(/\\040/g, ' ');
      if (at && (dir === at || dir.startsWith(at === '/' ? '/' : at + '/')) && at.length >= best.length) {
        best = at; options = f[5] || '';
      }
    }
  } catch { /* no /proc: noexec cannot be told, and exec is tried as it is */ }
  return options.split(',');
}

// Why `dir` cannot hold the tree, or '' when it can. `exec`: native files must run from it.
function unusable(dir, exec) {
  let real;
  try { real = fs.realpathSync(dir); } catch { return 'absent'; }
  let st;
  try { st = fs.statfsSync(real); } catch (e) { return e.code; }
  if (!MEMORY_FS.includes(Number(st.type))) return 'not a memory file system';
  try { fs.accessSync(real, fs.constants.W_OK); } catch { return 'not writable'; }
  if (exec && mountOptions(real).includes('noexec')) return 'mounted noexec';
  return '';
}

// A directory only this user can write, so that nobody else can plant a tree under our hash.
function privateDir(base) {
  const uid = process.getuid ? process.getuid() : 0;
  const dir = path.join(base, 'staticize-node-' + uid);
  try { fs.mkdirSync(dir, { mode: 0o700 }); } catch (e) { if (e.code !== 'EEXIST') throw e; }
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) {
    throw new Error(dir + ' belongs to someone else or is open to others');
  }
  return dir;
}

function unpackInto(base) {
  const dir = path.join(privateDir(base), HASH);
  if (holds(dir)) return dir;
  const raw = Buffer.from(require('node:sea').getRawAsset('staticize/tree'));
  const indexBytes = raw.readUInt32LE(0);
  const index = JSON.parse(raw.toString('utf8', 4, 4 + indexBytes));
  const tmp = fs.mkdtempSync(path.join(path.dirname(dir), '.' + HASH + '-'));
  try {
    for (const [rel, offset, size, executable] of index) {
      const to = path.join(tmp, rel);
      fs.mkdirSync(path.dirname(to), { recursive: true });
      const at = 4 + indexBytes + offset;
      fs.writeFileSync(to, raw.subarray(at, at + size), { mode: executable ? 0o755 : 0o644 });
    }
    fs.writeFileSync(path.join(tmp, MARK), HASH);
    // Atomic: a run that finds the directory finds it whole. Another run may have won the race.
    try { fs.renameSync(tmp, dir); } catch (e) { if (!holds(dir)) throw e; }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return dir;
}

const HELP = 'mount a tmpfs without noexec, e.g. docker run --tmpfs /run:exec, podman run --tmpfs /run:rw,exec, ' +
  'or point STATICIZE_NODE_TREE_DIR at one';

// The tree's directory: the image's, or one unpacked into the first memory file system that
// takes it — allowing exec when the tree has native files, else (they may be optional) any.
function treeDir() {
  if (holds(IMAGE_TREE)) return [IMAGE_TREE, ''];
  const bases = [process.env.STATICIZE_NODE_TREE_DIR, process.env.XDG_RUNTIME_DIR, '/dev/shm', '/run', '/tmp']
    .filter(Boolean);
  const tried = [];
  for (const exec of NATIVE.length ? [true, false] : [false]) {
    for (const base of bases) {
      const why = unusable(base, exec);
      if (why) { if (exec || why !== 'mounted noexec') tried.push(base + ' (' + why + ')'); continue; }
      try { return [unpackInto(base), NATIVE.length && !exec ? base : '']; } catch (e) {
        tried.push(base + ' (' + (e.code || e.message) + ')');
      }
    }
  }
  fail('cannot unpack its package tree (@@SUMMARY@@) into a memory file system (tmpfs): ' + tried.join(', ') +
    ': ' + HELP);
}

const [dir, noexec] = treeDir();
if (noexec) {
  // Native files cannot run from a noexec mount: say so where one is loaded, in place of
  // dlopen's "failed to map segment from shared object".
  const dlopen = process.dlopen;
  process.dlopen = function (module, filename, ...rest) {
    try { return dlopen.call(this, module, filename, ...rest); } catch (e) {
      if (String(filename).startsWith(dir)) {
        e.message += ' — the package tree was unpacked into ' + noexec + ', which is mounted noexec, ' +
          'so its native modules cannot load: ' + HELP;
      }
      throw e;
    }
  };
}
for (const lib of PRELOAD) {
  // RTLD_NOW | RTLD_GLOBAL | RTLD_NODELETE: loaded once, by soname, for the addons that need it;
  // node then says "did not self-register", which is true and harmless for a plain library.
  try { process.dlopen({ exports: {} }, path.join(dir, lib), 0x2 | 0x100 | 0x1000); } catch { /* see above */ }
}
require('node:module').runMain(path.join(dir, ENTRY));
