//! Libraries real programs link, built static for musl (issue 15): recipes as data
//! (`toolchains/deps/*.toml`, [`recipe`]), their sources ([`source`]), builds ([`build`]) into a
//! cache shared by every project ([`cache`]), and the flags that let a compiler, a configure
//! script or pkg-config find them (`--dep NAME`, `STATICIZE_DEPS`, `[deps]` in staticize.toml).

pub(crate) mod build;
pub(crate) mod cache;
pub(crate) mod recipe;
pub mod source;
pub(crate) mod toolset;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{CONFIG_FILE, ConfigFile};
use crate::error::Result;
use crate::report::Reporter;
use recipe::Recipe;
pub(crate) use toolset::{ENV_DEPS, ENV_RESOLVED, Entry, Toolset};

/// `names` and their needs, each built for `t` unless the cache has it; needs first.
pub(crate) fn ensure(names: &[String], t: &Toolset, rep: &Reporter) -> Result<Vec<Entry>> {
    let mut done: Vec<Entry> = Vec::new();
    for r in recipe::closure(names)? {
        let needs: Vec<Entry> = done.iter().filter(|e| r.needs.contains(&e.recipe.name)).cloned().collect();
        let entry = ensure_one(&r, t, &needs, rep)?;
        done.push(entry);
    }
    Ok(done)
}

fn ensure_one(r: &Recipe, t: &Toolset, needs: &[Entry], rep: &Reporter) -> Result<Entry> {
    let fetched = source::fetch(r, rep)?;
    let prefix = entry_dir(r, &fetched.version, t, needs);
    let cached = |prefix: &Path| cache::read_manifest(prefix);
    if let Some(manifest) = cached(&prefix) {
        rep.step("dep", format!("{} {} cached in {}", r.name, manifest.version, prefix.display()));
        return Ok(Entry { recipe: r.clone(), prefix, manifest, built: false });
    }
    let lock_name =
        format!("{}.lock", prefix.strip_prefix(cache::root()).unwrap_or(&prefix).display()).replace('/', "_");
    let _lock = cache::lock(&cache::root().join(".locks").join(lock_name))?;
    // Another run may have built it while this one waited for the lock.
    if let Some(manifest) = cached(&prefix) {
        rep.step("dep", format!("{} {} cached in {}", r.name, manifest.version, prefix.display()));
        return Ok(Entry { recipe: r.clone(), prefix, manifest, built: false });
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
    let manifest = build::build(r, &fetched, t, needs, &prefix, rep)?;
    rep.step("dep", format!("built {} in {} s", r.name, manifest.seconds));
    Ok(Entry { recipe: r.clone(), prefix, manifest, built: true })
}

/// The cache directory of `r` built from `version` for `t` against `needs`:
/// `<cache>/NAME/VERSION-ARCH-LIBC-COMPILER-PROFILE-HASH`.
fn entry_dir(r: &Recipe, version: &str, t: &Toolset, needs: &[Entry]) -> PathBuf {
    let mut h = Sha256::new();
    for part in [
        r.text.as_str(),
        version,
        &t.cc.name,
        &t.cc.version,
        &t.cc.argv.join(" "),
        &t.cc.libc,
        t.arch.uname(),
        t.profile.name(),
    ] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    // By name, not in the order the names were given: `--dep zlib,openssl,curl` and
    // `deps path curl` build the same curl into the same entry.
    let mut need_dirs: Vec<(&str, String)> =
        needs.iter().map(|n| (n.recipe.name.as_str(), n.prefix.display().to_string())).collect();
    need_dirs.sort();
    for (_, dir) in need_dirs {
        h.update(dir.as_bytes());
        h.update([0]);
    }
    let hash = hex::encode(h.finalize());
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
}

impl Flags {
    /// The flags of `entries` (in the order [`ensure`] returns them: needs first).
    pub(crate) fn of(entries: &[Entry]) -> Flags {
        let mut f = Flags::default();
        for e in entries {
            f.compile.push(format!("-I{}", e.prefix.join("include").display()));
            f.libdirs.push(format!("-L{}", e.prefix.join("lib").display()));
        }
        for e in entries.iter().rev() {
            f.libs.extend(e.manifest.libs.iter().map(|l| format!("-l{l}")));
        }
        f.pkg_config_libdir =
            entries.iter().map(|e| e.prefix.join("lib/pkgconfig").display().to_string()).collect::<Vec<_>>().join(":");
        f
    }

    /// Every flag of a one-step compile and link: -I, -L, then -l.
    pub(crate) fn all(&self) -> Vec<String> {
        self.compile.iter().chain(&self.libdirs).chain(&self.libs).cloned().collect()
    }
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
    use crate::deps::cache::Manifest;
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
        };
        Entry { recipe: recipe::find(name).unwrap(), prefix: prefix.into(), manifest, built: false }
    }

    #[test]
    fn the_cache_key_does_not_depend_on_the_order_of_the_needs() {
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
        let (z, o) = (entry("zlib", "/c/zlib/a"), entry("openssl", "/c/openssl/b"));
        let one = entry_dir(&curl, "7.88.1", &t, &[z.clone(), o.clone()]);
        assert_eq!(one, entry_dir(&curl, "7.88.1", &t, &[o, z.clone()]));
        assert_ne!(one, entry_dir(&curl, "7.88.1", &t, &[z]), "other needs are another entry");
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
