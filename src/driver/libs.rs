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
}

impl Missing {
    /// The `--dep` recipe that provides what is missing, if one does.
    pub(crate) fn recipe(&self) -> Option<crate::deps::recipe::Recipe> {
        match self {
            Missing::Header(h) => crate::deps::recipe::providing_header(h),
            Missing::Library(l) => crate::deps::recipe::providing_lib(l),
        }
    }

    fn describe(&self) -> String {
        match self {
            Missing::Header(h) => format!("header {h}"),
            Missing::Library(l) => format!("library -l{l}"),
        }
    }
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
}
