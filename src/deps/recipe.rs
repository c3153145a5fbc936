//! Library recipes as data: the embedded `toolchains/deps/*.toml` files say where each
//! library's source comes from, how to build it static, what it provides and what it needs.
//! The format is documented in README.md ("Libraries for musl: --dep").

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The embedded recipes, by name (the file name without `.toml`).
pub(crate) const EMBEDDED: &[(&str, &str)] = &[
    ("zlib", include_str!("../../toolchains/deps/zlib.toml")),
    ("openssl", include_str!("../../toolchains/deps/openssl.toml")),
    ("oniguruma", include_str!("../../toolchains/deps/oniguruma.toml")),
    ("curl", include_str!("../../toolchains/deps/curl.toml")),
    ("zstd", include_str!("../../toolchains/deps/zstd.toml")),
    ("xz", include_str!("../../toolchains/deps/xz.toml")),
    ("bzip2", include_str!("../../toolchains/deps/bzip2.toml")),
    ("pcre2", include_str!("../../toolchains/deps/pcre2.toml")),
    ("sqlite3", include_str!("../../toolchains/deps/sqlite3.toml")),
    ("libyaml", include_str!("../../toolchains/deps/libyaml.toml")),
    ("ncurses", include_str!("../../toolchains/deps/ncurses.toml")),
    ("readline", include_str!("../../toolchains/deps/readline.toml")),
    ("libffi", include_str!("../../toolchains/deps/libffi.toml")),
    ("libevent", include_str!("../../toolchains/deps/libevent.toml")),
    ("libxcrypt", include_str!("../../toolchains/deps/libxcrypt.toml")),
    ("expat", include_str!("../../toolchains/deps/expat.toml")),
    ("lz4", include_str!("../../toolchains/deps/lz4.toml")),
    ("brotli", include_str!("../../toolchains/deps/brotli.toml")),
    ("jansson", include_str!("../../toolchains/deps/jansson.toml")),
    ("nghttp2", include_str!("../../toolchains/deps/nghttp2.toml")),
    ("libsodium", include_str!("../../toolchains/deps/libsodium.toml")),
    ("libseccomp", include_str!("../../toolchains/deps/libseccomp.toml")),
    ("libcap", include_str!("../../toolchains/deps/libcap.toml")),
    ("libpcap", include_str!("../../toolchains/deps/libpcap.toml")),
];

/// One library recipe.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Recipe {
    /// Its name (set from the file name, not written in the file).
    #[serde(skip)]
    pub name: String,
    /// The recipe's text, part of the cache key: a changed recipe builds again.
    #[serde(skip)]
    pub text: String,
    /// One line for `staticize deps list`.
    pub summary: String,
    /// Other recipes built first.
    #[serde(default)]
    pub needs: Vec<String>,
    /// Where the source comes from.
    pub source: SourceSpec,
    /// How it is built.
    pub build: BuildSpec,
    /// What it installs.
    pub provides: Provides,
}

/// Where a recipe's source comes from: a Debian source package, else an upstream tarball.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SourceSpec {
    /// The Debian source package (`apt-get source --download-only NAME`).
    pub debian: Option<String>,
    /// The upstream tarball used when apt has no source for it.
    pub url: Option<String>,
    /// The tarball's sha256 (hex).
    pub sha256: Option<String>,
    /// The upstream version the tarball holds.
    pub version: Option<String>,
    /// The SPDX licence, when debian/copyright gives none.
    pub license: Option<String>,
    /// The directory inside the unpacked tree where the build starts.
    pub subdir: Option<String>,
}

/// The build systems a recipe can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// An autoconf configure script (autoreconf first when only configure.ac exists).
    Configure,
    /// CMake, out of tree.
    Cmake,
    /// Meson, out of tree.
    Meson,
    /// A plain Makefile.
    Make,
    /// The recipe's own commands.
    Steps,
}

/// How a recipe is built.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BuildSpec {
    /// The build system.
    pub kind: Kind,
    /// Extra arguments of the configure / cmake / meson setup / make step.
    #[serde(default)]
    pub args: Vec<String>,
    /// make / ninja targets of the build step.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Install targets (configure and make kinds).
    #[serde(default)]
    pub install: Vec<String>,
    /// The commands of kind `steps`.
    #[serde(default)]
    pub steps: Vec<Vec<String>>,
    /// Extra environment of every step.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Whether the recipe can be built for another architecture.
    #[serde(default = "yes")]
    pub cross: bool,
}

fn yes() -> bool {
    true
}

/// What a recipe installs.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Provides {
    /// `-l` names, in link order.
    #[serde(default)]
    pub libs: Vec<String>,
    /// pkg-config names.
    #[serde(default)]
    pub pkgconfig: Vec<String>,
    /// Headers as written in `#include <…>`.
    #[serde(default)]
    pub headers: Vec<String>,
    /// Functions it defines that a C library may lack (musl's `crypt`): an "undefined
    /// reference" to one names this recipe.
    #[serde(default)]
    pub symbols: Vec<String>,
    /// Whether its installed headers include the kernel's (`<asm/unistd.h>`, `<linux/…>`):
    /// programs using it then get the kernel headers too, which musl-gcc lacks.
    #[serde(default)]
    pub kernel_headers: bool,
}

/// Parses one recipe's text; `name` is its file name without `.toml`.
pub(crate) fn parse(name: &str, text: &str) -> Result<Recipe> {
    let bad = |m: String| {
        Error::input(
            format!("toolchains/deps/{name}.toml"),
            m,
            Some("fix the recipe (its format is in README.md, section --dep)".into()),
        )
    };
    let mut r: Recipe = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    r.name = name.to_string();
    r.text = text.to_string();
    let s = &r.source;
    if s.debian.is_none() && s.url.is_none() {
        return Err(bad("[source] names neither a Debian package (debian) nor an upstream url".into()));
    }
    if s.url.is_some() && (s.sha256.is_none() || s.version.is_none()) {
        return Err(bad("[source] url needs sha256 and version too".into()));
    }
    if (r.build.kind == Kind::Steps) == r.build.steps.is_empty() {
        return Err(bad("[build] steps are given exactly when kind = \"steps\"".into()));
    }
    Ok(r)
}

/// Every embedded recipe, sorted by name.
pub(crate) fn all() -> Vec<Recipe> {
    let mut v: Vec<Recipe> = EMBEDDED
        .iter()
        .map(|(n, t)| parse(n, t).unwrap_or_else(|e| panic!("embedded recipe {n} is invalid: {e}")))
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    v
}

/// The recipe called `name`, or a usage error listing the known ones.
pub(crate) fn find(name: &str) -> Result<Recipe> {
    all().into_iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<String> = all().into_iter().map(|r| r.name).collect();
        Error::usage(
            format!("no library recipe named '{name}'"),
            format!("use one of: {} (staticize deps list)", names.join(", ")),
        )
    })
}

/// The recipe that provides the header `h` (as in `#include <h>`), if one does.
pub(crate) fn providing_header(h: &str) -> Option<Recipe> {
    let recipes = all();
    if let Some(r) = recipes.iter().find(|r| r.provides.headers.iter().any(|x| x == h)) {
        return Some(r.clone());
    }
    // A library's own header directory is all its own (`pcap/compiler-tests.h` is libpcap's,
    // as `pcap/pcap.h` is), unlike the C library's and the kernel's shared ones.
    let dir = h.rsplit_once('/').map(|(d, _)| d).filter(|d| !SHARED_HEADER_DIRS.contains(d))?;
    recipes.into_iter().find(|r| r.provides.headers.iter().any(|x| x.rsplit_once('/').is_some_and(|(d, _)| d == dir)))
}

/// Header directories many packages install into (the C library's, the kernel's): a header
/// in one names no recipe by its directory alone.
const SHARED_HEADER_DIRS: &[&str] = &["sys", "linux", "asm", "asm-generic", "bits", "net", "netinet", "arpa"];

/// The recipe that provides the library `-l{l}`, if one does.
pub(crate) fn providing_lib(l: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.provides.libs.iter().any(|x| x == l))
}

/// The recipe that defines the function `f` a link lacked (`crypt`), if one does.
pub(crate) fn providing_symbol(f: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.provides.symbols.iter().any(|x| x == f))
}

/// The recipe that installs the pkg-config module `m` (`libevent`, `libpcre2-8`), if one does.
pub(crate) fn providing_pkgconfig(m: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.provides.pkgconfig.iter().any(|x| x == m))
}

/// The recipe that installs the `*-config` script `script`: the one named like it
/// (`curl-config`, `pcre2-config`; `ncursesw6-config` is ncurses').
pub(crate) fn providing_config_script(script: &str) -> Option<Recipe> {
    let stem = script.strip_suffix("-config")?;
    named_in_error(stem).or_else(|| named_in_error(stem.trim_end_matches(|c: char| c.is_ascii_digit())))
}

/// The recipe a build's error means by `word`: a recipe's name, or a library it provides
/// with or without `lib` (`libevent`, `event`, `libcurl`).
pub(crate) fn named_in_error(word: &str) -> Option<Recipe> {
    let bare = word.strip_prefix("lib").filter(|b| !b.is_empty()).unwrap_or(word);
    all().into_iter().find(|r| {
        r.name == word || r.name == bare || r.provides.libs.iter().any(|l| l == bare || format!("lib{l}") == word)
    })
}

/// `names` and everything they need, each once, needs before the recipes that need them.
pub(crate) fn closure(names: &[String]) -> Result<Vec<Recipe>> {
    let mut out: Vec<Recipe> = Vec::new();
    fn visit(name: &str, out: &mut Vec<Recipe>, path: &mut Vec<String>) -> Result<()> {
        if out.iter().any(|r| r.name == name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            return Err(Error::usage(
                format!("library recipes need each other in a cycle: {} → {name}", path.join(" → ")),
                "fix the needs of those recipes",
            ));
        }
        let r = find(name)?;
        path.push(name.to_string());
        for n in &r.needs {
            visit(n, out, path)?;
        }
        path.pop();
        out.push(r);
        Ok(())
    }
    for n in names {
        visit(n, &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

/// Splits `--dep a,b --dep c` and `STATICIZE_DEPS=a,b` values into names (empty ones dropped).
pub(crate) fn split_names<S: AsRef<str>>(values: &[S]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for n in values.iter().flat_map(|s| s.as_ref().split([',', ' '])).map(str::trim).filter(|s| !s.is_empty()) {
        if !v.iter().any(|x| x == n) {
            v.push(n.to_string());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_file_is_embedded_and_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("toolchains/deps");
        for entry in std::fs::read_dir(dir).unwrap() {
            let p = entry.unwrap().path();
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            assert!(EMBEDDED.iter().any(|(n, _)| *n == name), "{name}.toml is not in recipe::EMBEDDED");
        }
        for r in all() {
            for n in &r.needs {
                find(n).unwrap_or_else(|e| panic!("{} needs {n}: {e}", r.name));
            }
            assert!(!r.provides.libs.is_empty() || !r.provides.headers.is_empty(), "{} provides nothing", r.name);
        }
    }

    #[test]
    fn needs_come_first_and_once() {
        let names: Vec<String> =
            closure(&["curl".into(), "zlib".into()]).unwrap().into_iter().map(|r| r.name).collect();
        let pos = |n: &str| names.iter().position(|x| x == n).unwrap();
        assert!(pos("zlib") < pos("curl") && pos("openssl") < pos("curl"), "{names:?}");
        assert_eq!(names.iter().filter(|n| *n == "zlib").count(), 1);
        assert_eq!(find("nope").unwrap_err().exit_code(), crate::error::EXIT_USAGE);
    }

    #[test]
    fn headers_and_libraries_map_to_recipes() {
        assert_eq!(providing_header("zlib.h").unwrap().name, "zlib");
        assert_eq!(providing_lib("crypto").unwrap().name, "openssl");
        assert!(providing_lib("nosuchlib").is_none());
        // The recipes issue 26 added answer by header, pkg-config module and *-config script.
        assert_eq!(providing_header("sys/capability.h").unwrap().name, "libcap");
        assert_eq!(providing_header("pcap/compiler-tests.h").unwrap().name, "libpcap");
        assert!(providing_header("sys/epoll.h").is_none(), "sys/ is the C library's, not libcap's");
        assert_eq!(providing_header("sodium.h").unwrap().name, "libsodium");
        assert_eq!(providing_pkgconfig("libbrotlidec").unwrap().name, "brotli");
        assert_eq!(providing_config_script("pcap-config").unwrap().name, "libpcap");
        assert_eq!(providing_lib("seccomp").unwrap().name, "libseccomp");
        assert_eq!(split_names(&["zlib,openssl", " zlib ", ""]), ["zlib", "openssl"]);
    }
}
