//! Plain words for "header or library not found" under musl: the system's `-dev` packages
//! install headers and static libraries for glibc, in directories musl-gcc and zig do not search
//! (they must not: glibc's headers and archives do not link with musl). When a musl build fails
//! on something the system has for glibc, the error says so and lists the ways out.

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::process::Command;

/// What the compiler could not find.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Missing {
    /// A header, as written in `#include <…>` ("zlib.h").
    Header(String),
    /// A library, as in `-lNAME` ("z").
    Library(String),
    /// A pkg-config module ("libevent").
    PkgConfig(String),
    /// A `*-config` script a build runs for flags ("curl-config").
    ConfigScript(String),
    /// A library a configure script names in its error ("libevent not found").
    Named(String),
    /// A function the link found no definition of ("crypt": musl's libc.a lacks it).
    Symbol(String),
}

impl Missing {
    /// The `--dep` recipe that provides what is missing, if one does.
    pub(crate) fn recipe(&self) -> Option<crate::deps::recipe::Recipe> {
        match self {
            Missing::Header(h) => crate::deps::recipe::providing_header(h),
            Missing::Library(l) => crate::deps::recipe::providing_lib(l),
            Missing::PkgConfig(m) => crate::deps::recipe::providing_pkgconfig(m),
            Missing::ConfigScript(c) => crate::deps::recipe::providing_config_script(c),
            Missing::Named(n) => crate::deps::recipe::named_in_error(n),
            Missing::Symbol(f) => crate::deps::recipe::providing_symbol(f),
        }
    }

    /// What is missing, in words ("header zlib.h", "pkg-config module libevent").
    pub(crate) fn describe(&self) -> String {
        match self {
            Missing::Header(h) => format!("header {h}"),
            Missing::Library(l) => format!("library -l{l}"),
            Missing::PkgConfig(m) => format!("pkg-config module {m}"),
            Missing::ConfigScript(c) => format!("{c} (the script that prints its flags)"),
            Missing::Named(n) => format!("library {n}"),
            Missing::Symbol(f) => format!("function {f}()"),
        }
    }
}

/// Everything missing that a build's output names, in the order it names them, each once:
/// what [`missing_in`] finds on each line, and what build systems say — pkg-config ("No package
/// 'x' found", "Package 'x', required by …, not found"), a shell that ran no `x-config`
/// ("x-config: not found", "command not found"), configure's own "error: x not found".
pub(crate) fn all_missing(output: &str) -> Vec<Missing> {
    let mut found: Vec<Missing> = Vec::new();
    for line in output.lines() {
        let hit = missing_in(line).or_else(|| build_system_missing(line));
        if let Some(m) = hit.filter(|m| !found.contains(m)) {
            found.push(m);
        }
    }
    found
}

fn build_system_missing(line: &str) -> Option<Missing> {
    if let Some(rest) = after(line, "undefined reference to ") {
        let f = rest.trim_start_matches(['`', '\'']).split(['\'', '`']).next().unwrap_or("");
        return crate::deps::recipe::providing_symbol(f).map(|_| Missing::Symbol(f.to_string()));
    }
    let quoted = |rest: &str| rest.trim_start_matches(['\'', '`', '"']).split(['\'', '"']).next().map(str::to_string);
    if let Some(rest) = after(line, "No package '").or_else(|| after(line, "Package '")) {
        if line.contains("found") {
            return quoted(rest).filter(|m| !m.is_empty()).map(Missing::PkgConfig);
        }
    }
    if let Some(i) = line.find("-config") {
        let (head, tail) = line.split_at(i);
        let tail = &tail["-config".len()..];
        let missing = ["not found", "No such file", "command not found"].iter().any(|m| tail.contains(m));
        let name = head.rsplit([' ', ':', '/', '\'', '`', '"', '(']).next().unwrap_or("");
        if missing && !name.is_empty() && !tail.starts_with(['.', '_']) {
            return Some(Missing::ConfigScript(format!("{name}-config")));
        }
    }
    let lower = line.to_ascii_lowercase();
    // "error: libevent not found", and an #error saying what it requires (dropbear's
    // "DROPBEAR_SVR_PASSWORD_AUTH requires `crypt()'").
    let says_missing = ["not found", "cannot find", "requires"].iter().any(|m| lower.contains(m));
    if lower.contains("error") && says_missing {
        let words = line.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '+'));
        return words
            .filter(|w| w.len() > 1)
            .find(|w| crate::deps::recipe::named_in_error(w).is_some())
            .map(|w| Missing::Named(w.to_string()));
    }
    None
}

/// The first missing header or library named in a compiler's stderr: gcc/musl-gcc
/// ("fatal error: zlib.h: No such file or directory", "cannot find -lz"), clang/zig
/// ("'zlib.h' file not found", `unable to find static system library "z"`).
pub(crate) fn missing_in(stderr: &str) -> Option<Missing> {
    for line in stderr.lines() {
        if let Some(rest) = after(line, "fatal error: ") {
            if let Some(h) = rest.strip_suffix(": No such file or directory") {
                return Some(Missing::Header(h.trim_matches('\'').to_string()));
            }
            if let Some(h) = rest.strip_suffix(" file not found") {
                return Some(Missing::Header(h.trim_matches('\'').to_string()));
            }
        }
        if let Some(rest) = after(line, "cannot find -l") {
            let name = rest.split([':', ' ']).next().unwrap_or("");
            if !name.is_empty() {
                return Some(Missing::Library(name.to_string()));
            }
        }
        if let Some(rest) = after(line, "system library ") {
            let name = rest.trim_start_matches(['"', '\'']).split(['"', '\'']).next().unwrap_or("");
            if !name.is_empty() {
                return Some(Missing::Library(name.to_string()));
            }
        }
    }
    None
}

fn after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    line.find(marker).map(|i| line[i + marker.len()..].trim())
}

/// Where the system keeps `missing` for glibc, if it does.
pub(crate) fn glibc_copy(missing: &Missing) -> Option<PathBuf> {
    let multiarch = format!("{}-linux-gnu", std::env::consts::ARCH);
    let candidates: Vec<PathBuf> = match missing {
        Missing::Header(h) => {
            vec![Path::new("/usr/include").join(h), Path::new("/usr/include").join(&multiarch).join(h)]
        }
        Missing::Library(l) => ["/usr/lib", "/lib", "/usr/local/lib"]
            .iter()
            .flat_map(|d| {
                [Path::new(d).join(&multiarch).join(format!("lib{l}.a")), Path::new(d).join(format!("lib{l}.a"))]
            })
            .collect(),
        // A compile or link names only headers and libraries; the rest come from build systems.
        Missing::PkgConfig(_) | Missing::ConfigScript(_) | Missing::Named(_) | Missing::Symbol(_) => Vec::new(),
    };
    candidates.into_iter().find(|p| p.is_file())
}

/// The Debian package that installed `path` ("zlib1g-dev"), when dpkg knows it.
fn owning_package(path: &Path) -> Option<String> {
    let out = Command::new("dpkg").arg("-S").arg(path).probe()?;
    let first = out.stdout.lines().next()?;
    let pkg = first.split(':').next()?.trim();
    (!pkg.is_empty()).then(|| pkg.to_string())
}

/// The ways out for a musl build that lacks `missing`, best first. A recipe that builds the
/// library for musl (`--dep NAME`) goes first when one exists for it.
pub(crate) fn ways_out(missing: &Missing, glibc: &Path) -> Vec<String> {
    let mut ways = Vec::new();
    if let Some(recipe) = musl_recipe(missing) {
        ways.push(recipe);
    }
    let package = owning_package(glibc).map(|p| format!(" (from {p})")).unwrap_or_default();
    ways.push(format!(
        "link against glibc instead: add --libc glibc, which uses the system's copy{package} and its static library"
    ));
    ways.push(
        "build the library for musl from its source (e.g. CC=musl-gcc ./configure --static --prefix=$PWD/musl && make install), then pass -I musl/include -L musl/lib"
            .to_string(),
    );
    ways
}

/// A musl build of `missing` that staticize can make itself: the recipe that provides it
/// (`--dep zlib` for zlib.h / -lz).
pub(crate) fn musl_recipe(missing: &Missing) -> Option<String> {
    let r = missing.recipe()?;
    Some(format!(
        "add --dep {}: staticize builds {} for musl from its source once, caches it and links it (or pass --auto-deps)",
        r.name, r.name
    ))
}

/// Turns a failed musl compile or link that lacks a header or library into an error that says
/// so and gives the ways out (a recipe's `--dep` first); any other error is returned as is.
pub(crate) fn explain(e: Error, compiler: &str, libc: &str) -> Error {
    let Error::CommandFailed { step, stderr, .. } = &e else { return e };
    if libc != "musl" {
        return e;
    }
    let Some(missing) = missing_in(stderr) else { return e };
    let tail = crate::process::tail(stderr, 6);
    let numbered = |ways: Vec<String>| {
        ways.iter().enumerate().map(|(i, w)| format!("{}) {w}", i + 1)).collect::<Vec<_>>().join("; or ")
    };
    let Some(glibc) = glibc_copy(&missing) else {
        let (message, help) = match musl_recipe(&missing) {
            Some(recipe) => (format!("{compiler} links with musl and found no {}\n{tail}", missing.describe()), recipe),
            None => (
                format!("{compiler} links with musl and found no {}, and no staticize recipe provides it (staticize deps list)\n{tail}", missing.describe()),
                "link against glibc instead: add --libc glibc and install the library's -dev package (it ships the static library), or build it for musl yourself and pass -I/-L".to_string(),
            ),
        };
        return Error::Build { step: step.clone(), message, help: Some(help) };
    };
    let ways = ways_out(&missing, &glibc);
    let no_recipe =
        if musl_recipe(&missing).is_none() { "; no staticize recipe provides it (staticize deps list)" } else { "" };
    Error::Build {
        step: step.clone(),
        message: format!(
            "{compiler} links with musl and found no {}: the system has it only for glibc ({}), \
             and glibc's headers and libraries cannot be used with musl{no_recipe}\n{tail}",
            missing.describe(),
            glibc.display(),
        ),
        help: Some(numbered(ways)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_headers_and_libraries_are_found_in_each_compilers_words() {
        let h = |s: &str| Some(Missing::Header(s.to_string()));
        let l = |s: &str| Some(Missing::Library(s.to_string()));
        assert_eq!(
            missing_in("z.c:3:10: fatal error: zlib.h: No such file or directory\n    3 | #include"),
            h("zlib.h")
        );
        assert_eq!(missing_in("z.c:3:10: fatal error: 'openssl/ssl.h' file not found"), h("openssl/ssl.h"));
        assert_eq!(missing_in("/usr/bin/ld: cannot find -lz: No such file or directory"), l("z"));
        assert_eq!(missing_in("ld: cannot find -lcrypto"), l("crypto"));
        assert_eq!(
            missing_in(
                "error: unable to find static system library \"z\" using strategy no_fallback. searched paths: none"
            ),
            l("z")
        );
        assert_eq!(missing_in("error: expected ';' before '}' token"), None);
    }

    #[test]
    fn build_systems_name_modules_scripts_and_libraries_a_recipe_provides() {
        let text = "checking for LIBEVENT... no\nNo package 'libevent' found\n\
                    ./configure: line 9: curl-config: command not found\n\
                    configure: error: \"libevent not found\"\n\
                    Package 'libpcre2-8', required by 'virtual:world', not found\n\
                    make: pcre2-config: No such file or directory\n";
        let found = all_missing(text);
        assert_eq!(
            found,
            [
                Missing::PkgConfig("libevent".into()),
                Missing::ConfigScript("curl-config".into()),
                Missing::Named("libevent".into()),
                Missing::PkgConfig("libpcre2-8".into()),
                Missing::ConfigScript("pcre2-config".into()),
            ]
        );
        let names: Vec<String> = found.iter().filter_map(|m| m.recipe()).map(|r| r.name).collect();
        assert_eq!(names, ["libevent", "curl", "libevent", "pcre2", "pcre2"]);
        assert!(
            all_missing("checking for gcc... gcc\nconfigure: error: C compiler cannot create executables").is_empty()
        );
        // Debian's musl lacks crypt: each way a build says so names libxcrypt.
        for text in [
            "htpasswd.c:(.text+0x1d): undefined reference to `crypt'",
            "/usr/bin/ld: cannot find -lcrypt: No such file or directory",
            "x.c:2:10: fatal error: crypt.h: No such file or directory",
            "sysoptions.h:281:3: error: #error \"DROPBEAR_SVR_PASSWORD_AUTH requires `crypt()'.\"",
        ] {
            let found = all_missing(text);
            assert_eq!(found.first().and_then(|m| m.recipe()).map(|r| r.name), Some("libxcrypt".into()), "{text}");
        }
        assert!(all_missing("a.c:(.text+0x1): undefined reference to `my_own_function'").is_empty());
    }
}
