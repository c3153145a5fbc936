//! Libraries real programs link, built static for musl (issue 15): recipes as data
//! (`toolchains/deps/*.toml`, [`recipe`]), their sources ([`source`]), builds ([`build`]) into a
//! cache shared by every project ([`cache`]), and the flags that let a compiler, a configure
//! script or pkg-config find them (`--dep NAME`, `STATICIZE_DEPS`, `[deps]` in staticize.toml).

pub(crate) mod build;
pub(crate) mod cache;
mod pull;
pub(crate) mod recipe;
pub mod source;
pub(crate) mod toolset;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{CONFIG_FILE, ConfigFile};
use crate::error::{Error, Result};
use crate::remote_cache::{self, Key, Session};
use crate::report::Reporter;
use cache::Manifest;
use recipe::Recipe;
pub(crate) use toolset::{ENV_DEPS, ENV_RESOLVED, Entry, Toolset};

/// `names` and their needs, each built for `t` unless the cache (local, else the cache
/// registry of `remote`) has it; needs first. What this run builds is pushed to the registry.
pub(crate) fn ensure(
    names: &[String],
    t: &Toolset,
    remote: &remote_cache::Settings,
    rep: &Reporter,
) -> Result<Vec<Entry>> {
    ensure_with(names, t, remote, OnMiss::Build, rep)
}

/// `names` and their needs for `t` from the local cache, else pulled from the cache registry
/// of `remote` — never built (`staticize cache pull`): one the registry lacks is an error.
pub(crate) fn pull_only(
    names: &[String],
    t: &Toolset,
    remote: &remote_cache::Settings,
    rep: &Reporter,
) -> Result<Vec<Entry>> {
    ensure_with(names, t, remote, OnMiss::Fail, rep)
}

/// Pushes the cached entries of `names` (every entry when empty) to the cache registry of
/// `remote` (`staticize cache push`); returns each one's name and layer bytes.
pub(crate) fn push_cached(
    names: &[String],
    remote: &remote_cache::Settings,
    rep: &Reporter,
) -> Result<Vec<(String, u64)>> {
    let mut session = Session::new(remote, rep);
    let mut pushed = Vec::new();
    for c in cache::entries(None).into_iter().filter(|c| names.is_empty() || names.contains(&c.manifest.name)) {
        if c.manifest.key.is_empty() {
            rep.warn(format!("{} was cached before entries had keys; not pushed (rebuild it)", c.dir.display()));
            continue;
        }
        let key = Key { kind: "deps".into(), name: c.manifest.name.clone(), text: c.manifest.key.clone() };
        let bytes = session.send(&key, &c.dir, &c.dir.display().to_string())?;
        pushed.push((c.manifest.name, bytes));
    }
    Ok(pushed)
}

/// What a miss in both caches means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnMiss {
    /// Build the library.
    Build,
    /// Fail: the caller only pulls.
    Fail,
}

fn ensure_with(
    names: &[String],
    t: &Toolset,
    remote: &remote_cache::Settings,
    on_miss: OnMiss,
    rep: &Reporter,
) -> Result<Vec<Entry>> {
    let mut session = Session::new(remote, rep);
    let mut done: Vec<Entry> = Vec::new();
    for r in recipe::closure(names)? {
        let needs: Vec<Entry> = done.iter().filter(|e| r.needs.contains(&e.recipe.name)).cloned().collect();
        let entry = ensure_one(&r, t, &needs, (&mut session, on_miss), rep)?;
        done.push(entry);
    }
    Ok(done)
}

fn ensure_one(
    r: &Recipe,
    t: &Toolset,
    needs: &[Entry],
    (session, on_miss): (&mut Session, OnMiss),
    rep: &Reporter,
) -> Result<Entry> {
    let fetched = source::fetch(r, rep)?;
    let key = key(r, &fetched, t, needs)?;
    let prefix = entry_dir(r, &fetched.version, t, &key);
    let cached = |prefix: &Path| cache::read_manifest(prefix).filter(|m| m.key == key.text);
    let found = |manifest: Manifest| {
        rep.step("dep", format!("{} {} cached in {}", r.name, manifest.version, prefix.display()));
        Entry { recipe: r.clone(), prefix: prefix.clone(), manifest, built: false, key: key.digest() }
    };
    if let Some(manifest) = cached(&prefix) {
        return Ok(found(manifest));
    }
    let lock_name =
        format!("{}.lock", prefix.strip_prefix(cache::root()).unwrap_or(&prefix).display()).replace('/', "_");
    let _lock = cache::lock(&cache::root().join(".locks").join(lock_name))?;
    // Another run may have built it while this one waited for the lock.
    if let Some(manifest) = cached(&prefix) {
        return Ok(found(manifest));
    }
    if pull::pull(&key, &prefix, session)? {
        if let Some(manifest) = cached(&prefix) {
            return Ok(found(manifest));
        }
    }
    if on_miss == OnMiss::Fail {
        let message = format!(
            "has no {} {} for {} with {} (key {})",
            r.name,
            fetched.version,
            t.arch.platform(),
            t.cc.name,
            key.digest()
        );
        let help = format!("build and push it: staticize deps build {} --cache-registry HOST/REPO", r.name);
        return Err(Error::input(remote_name(session), message, Some(help)));
    }
    rep.step(
        "dep",
        format!(
            "building {} {} for {} with {} (once; cached in {})",
            r.name,
            fetched.version,
            t.arch.platform(),
            t.cc.name,
            prefix.display()
        ),
    );
    let manifest = build::build(r, &fetched, t, needs, &prefix, &key.text, rep)?;
    rep.step("dep", format!("built {} in {} s", r.name, manifest.seconds));
    session.store(&key, &prefix, &prefix.display().to_string());
    Ok(Entry { recipe: r.clone(), prefix, manifest, built: true, key: key.digest() })
}

fn remote_name(s: &Session) -> String {
    s.registry().unwrap_or("(none)").to_string()
}

/// The key of `r` built from `f` for `t` against `needs`: every input, as text that is the
/// same on every machine with the same recipe, source, compiler and target — no local paths
/// (a need is named by its own key, not its directory).
fn key(r: &Recipe, f: &source::Fetched, t: &Toolset, needs: &[Entry]) -> Result<Key> {
    let mut lines = vec![
        format!("recipe={}", r.name),
        format!("recipe-sha256={}", crate::digest::sha256_hex(r.text.as_bytes())),
        format!("source-version={}", f.version),
        format!("source-sha256={}", crate::digest::sha256_file(&f.tarball)?),
        format!("compiler={}", t.cc.name),
        format!("compiler-version={}", t.cc.version),
        format!("compiler-command={}", t.cc.argv.join(" ")),
        format!("flags={}", [t.cc.link_flags.as_slice(), &t.cc.profile_flags].concat().join(" ")),
        format!("libc={}", t.cc.libc),
        format!("arch={}", t.arch.uname()),
        format!("profile={}", t.profile.name()),
    ];
    // By name, not in the order the names were given: `--dep zlib,openssl,curl` and
    // `deps path curl` build the same curl into the same entry.
    let mut need_keys: Vec<String> = needs.iter().map(|n| format!("need={} {}", n.recipe.name, n.key)).collect();
    need_keys.sort();
    lines.extend(need_keys);
    Ok(Key { kind: "deps".into(), name: r.name.clone(), text: lines.join("\n") + "\n" })
}

/// The cache directory of `r` built from `version` for `t` with `key`:
/// `<cache>/NAME/VERSION-ARCH-LIBC-COMPILER-PROFILE-HASH`.
fn entry_dir(r: &Recipe, version: &str, t: &Toolset, key: &Key) -> PathBuf {
    let hash = key.digest();
    let safe = |s: &str| s.replace([':', '/', ' ', '~', '+'], "_");
    let name = format!(
        "{}-{}-{}-{}-{}-{}",
        safe(version),
        t.arch.uname(),
        t.cc.libc,
        safe(&t.cc.name),
        t.profile.name(),
        &hash[..10]
    );
    cache::root().join(&r.name).join(name)
}

/// The flags a compiler needs to use some cached libraries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Flags {
    /// `-I` for every library's include directory (compiles and preprocessing).
    pub compile: Vec<String>,
    /// `-L` for every library's lib directory (links).
    pub libdirs: Vec<String>,
    /// `-l` for every library, dependents before what they use (links).
    pub libs: Vec<String>,
    /// The `PKG_CONFIG_LIBDIR` that finds exactly these libraries' .pc files.
    pub pkg_config_libdir: String,
    /// For each library's `-l` flag, the `-l` flags a static link of it also needs (`-lcurl`:
    /// `-lssl -lcrypto -lz`), as `pkg-config --static` would add them: `staticize build` links
    /// get these after a library they name, so a configure's `AC_CHECK_LIB(curl, …)` and a
    /// Makefile's `curl-config --libs` link statically.
    #[serde(default)]
    pub needs: BTreeMap<String, Vec<String>>,
}

impl Flags {
    /// The flags of `entries` (in the order [`ensure`] returns them: needs first).
    pub(crate) fn of(entries: &[Entry]) -> Flags {
        let mut f = Flags::default();
        for e in entries {
            f.compile.push(format!("-I{}", e.prefix.join("include").display()));
            f.libdirs.push(format!("-L{}", e.prefix.join("lib").display()));
        }
        // After musl's own headers, so that its <linux/…> (if any) stays first; a directory
        // that cannot be made leaves the compile's own error to say what is missing.
        // The manifest names the compiler with its version: "musl-gcc (x86_64-linux-gnu-gcc …)".
        let kernel = entries.iter().find(|e| e.recipe.provides.kernel_headers);
        let compiler = |e: &Entry| e.manifest.compiler.split(' ').next().unwrap_or_default().to_string();
        if let Some(dir) = kernel.and_then(|e| build::kernel_headers_for(&compiler(e), &e.manifest.arch).ok()) {
            // One word (GCC and clang take it joined), as every other compile flag here.
            f.compile.push(format!("-idirafter{}", dir.display()));
        }
        for e in entries.iter().rev() {
            f.libs.extend(e.manifest.libs.iter().map(|l| format!("-l{l}")));
        }
        f.needs = needed_libs(entries);
        f.pkg_config_libdir =
            entries.iter().map(|e| e.prefix.join("lib/pkgconfig").display().to_string()).collect::<Vec<_>>().join(":");
        f
    }

    /// Every flag of a one-step compile and link: -I, -L, then -l.
    pub(crate) fn all(&self) -> Vec<String> {
        self.compile.iter().chain(&self.libdirs).chain(&self.libs).cloned().collect()
    }
}

/// What [`Flags::needs`] holds for `entries` (needs first): each library's later siblings in
/// its recipe (`-lssl` needs `-lcrypto`), then the libraries of every recipe it needs, directly
/// or not, dependents first.
fn needed_libs(entries: &[Entry]) -> BTreeMap<String, Vec<String>> {
    let by_name: BTreeMap<&str, &Entry> = entries.iter().map(|e| (e.recipe.name.as_str(), e)).collect();
    let mut map = BTreeMap::new();
    for e in entries {
        let mut closure = BTreeSet::new();
        let mut todo: Vec<&str> = e.manifest.needs.iter().map(String::as_str).collect();
        while let Some(n) = todo.pop() {
            if closure.insert(n) {
                todo.extend(by_name.get(n).into_iter().flat_map(|x| x.manifest.needs.iter().map(String::as_str)));
            }
        }
        let below: Vec<String> = entries
            .iter()
            .rev()
            .filter(|x| closure.contains(x.recipe.name.as_str()))
            .flat_map(|x| x.manifest.libs.iter().map(|l| format!("-l{l}")))
            .collect();
        for (i, lib) in e.manifest.libs.iter().enumerate() {
            let siblings = e.manifest.libs[i + 1..].iter().map(|l| format!("-l{l}"));
            map.insert(format!("-l{lib}"), siblings.chain(below.iter().cloned()).collect());
        }
    }
    map
}

/// The environment `staticize build` gives a project built with `entries`: the wrapper's
/// flags, CPPFLAGS and LDFLAGS for configure checks, and pkg-config finding only these libraries.
pub(crate) fn build_env(entries: &[Entry]) -> Vec<(String, String)> {
    let mut flags = Flags::of(entries);
    let pkg = flags.pkg_config_libdir.clone();
    let append = |k: &str, v: &[String]| {
        let old = std::env::var(k).unwrap_or_default();
        format!("{old} {}", v.join(" ")).trim().to_string()
    };
    let env = vec![
        ("CPPFLAGS".to_string(), append("CPPFLAGS", &flags.compile)),
        ("LDFLAGS".to_string(), append("LDFLAGS", &flags.libdirs)),
        ("PKG_CONFIG_LIBDIR".to_string(), pkg),
        ("PKG_CONFIG_PATH".to_string(), String::new()),
        // CMake's find_package / find_library search these prefixes before the system's.
        (
            "CMAKE_PREFIX_PATH".to_string(),
            entries.iter().map(|e| e.prefix.display().to_string()).collect::<Vec<_>>().join(":"),
        ),
    ];
    flags.libs.clear();
    let mut env = env;
    env.push((ENV_RESOLVED.to_string(), serde_json::to_string(&flags).unwrap_or_default()));
    env.push((ENV_DEPS.to_string(), String::new()));
    env
}

/// The `[deps] use = [...]` list of `dir/staticize.toml` (empty when there is no file or list).
pub(crate) fn from_config(dir: &Path) -> Result<Vec<String>> {
    /// The `[deps]` section; `crate::config` reads the file and refuses unknown sections.
    #[derive(Deserialize)]
    struct Section {
        deps: Option<Deps>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Deps {
        /// Recipe names, in order.
        #[serde(rename = "use")]
        names: Vec<String>,
    }
    let Some(file) = ConfigFile::read(&dir.join(CONFIG_FILE))? else { return Ok(Vec::new()) };
    let section: Section =
        file.sections("write [deps] then use = [\"zlib\", \"openssl\"] (recipe names as strings)")?;
    Ok(section.deps.map(|d| d.names).unwrap_or_default())
}

/// The deps a command uses: `--dep` values, else `[deps]` of the staticize.toml in `dir`.
pub(crate) fn requested(flags: &[String], dir: &Path) -> Result<Vec<String>> {
    let from_flags = recipe::split_names(flags);
    let names = if from_flags.is_empty() { from_config(dir)? } else { from_flags };
    for n in &names {
        recipe::find(n)?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toolchain::Profile;
    use crate::toolchain::cc::Chosen;

    fn entry(name: &str, prefix: &str) -> Entry {
        let manifest = Manifest {
            name: name.into(),
            version: "1".into(),
            debian_source: None,
            license: None,
            purl: String::new(),
            libs: Vec::new(),
            pkgconfig: Vec::new(),
            needs: Vec::new(),
            compiler: String::new(),
            libc: "musl".into(),
            arch: "x86_64".into(),
            profile: "size".into(),
            seconds: 0,
            key: String::new(),
        };
        let key = crate::digest::sha256_hex(prefix.as_bytes());
        Entry { recipe: recipe::find(name).unwrap(), prefix: prefix.into(), manifest, built: false, key }
    }

    #[test]
    fn the_cache_key_is_its_inputs_without_local_paths_in_any_order() {
        let chosen = Chosen {
            name: "musl-gcc".into(),
            libc: "musl".into(),
            argv: vec!["musl-gcc".into()],
            link_flags: Vec::new(),
            profile_flags: Vec::new(),
            version: "12".into(),
        };
        let t = Toolset::for_chosen(chosen, crate::platform::Arch::Amd64, Profile::Size);
        let curl = recipe::find("curl").unwrap();
        let d = tempfile::tempdir().unwrap();
        let tarball = d.path().join("curl.tar.gz");
        std::fs::write(&tarball, b"source").unwrap();
        let f = source::Fetched { version: "7.88.1".into(), debian: None, tarball, license: None };
        let (z, o) = (entry("zlib", "/c/zlib/a"), entry("openssl", "/c/openssl/b"));
        let one = key(&curl, &f, &t, &[z.clone(), o.clone()]).unwrap();
        assert_eq!(one, key(&curl, &f, &t, &[o, z.clone()]).unwrap());
        assert_ne!(one, key(&curl, &f, &t, &[z]).unwrap(), "other needs are another entry");
        // Nothing local: not the needs' directories, not where the source was downloaded.
        assert!(!one.text.contains("/c/") && !one.text.contains(&d.path().display().to_string()), "{}", one.text);
        let mut other = t.clone();
        other.cc.version = "13".into();
        assert_ne!(key(&curl, &f, &other, &[]).unwrap(), key(&curl, &f, &t, &[]).unwrap());
    }

    #[test]
    fn config_lists_deps() {
        let d = tempfile::tempdir().unwrap();
        assert!(from_config(d.path()).unwrap().is_empty());
        std::fs::write(d.path().join("staticize.toml"), "[deps]\nuse = [\"zlib\"]\n").unwrap();
        assert_eq!(from_config(d.path()).unwrap(), ["zlib"]);
        assert_eq!(requested(&["openssl".into()], d.path()).unwrap(), ["openssl"]);
        std::fs::write(d.path().join("staticize.toml"), "[deps]\nuse = [1]\n").unwrap();
        assert!(from_config(d.path()).is_err());
        assert_eq!(requested(&["nope".into()], d.path()).unwrap_err().exit_code(), crate::error::EXIT_USAGE);
    }
}
