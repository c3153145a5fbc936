//! Debian 12 source packages for tests: one `apt-get source --download-only` per package and
//! run, kept in target/debsrc across runs, each unpacked into a test's own temporary directory.
//! Shared by the build-system tests and the library (--dep) tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use crate::support::*;

/// A Debian source package pinned by the upstream version its orig tarball carries.
pub(crate) struct Source {
    /// The source package (`apt-get source NAME`).
    pub package: &'static str,
    /// The orig tarball's file name, which names the version under test.
    pub tarball: &'static str,
}

/// lua5.4 5.4.4 (its own Makefile: lua and luac).
pub(crate) const LUA: Source = Source { package: "lua5.4", tarball: "lua5.4_5.4.4.orig.tar.gz" };
/// zstd 1.5.4 (source package libzstd; Makefile).
pub(crate) const ZSTD: Source = Source { package: "libzstd", tarball: "libzstd_1.5.4+dfsg2.orig.tar.xz" };
/// sqlite3 3.40.1 (autoconf configure).
pub(crate) const SQLITE: Source = Source { package: "sqlite3", tarball: "sqlite3_3.40.1.orig.tar.xz" };
/// jq 1.6 (configure.ac + automake + libtool; the tag's tree, so autoreconf runs first).
pub(crate) const JQ: Source = Source { package: "jq", tarball: "jq_1.6.orig.tar.gz" };
/// cmark 0.30.2 (CMake; a CommonMark converter in C, 250 KB of source).
pub(crate) const CMARK: Source = Source { package: "cmark", tarball: "cmark_0.30.2.orig.tar.gz" };
/// fribidi 1.0.8 (Meson; the bidi algorithm and a small CLI).
pub(crate) const FRIBIDI: Source = Source { package: "fribidi", tarball: "fribidi_1.0.8.orig.tar.bz2" };

/// lz4 1.9.4 (a plain Makefile, no configure; it copies programs/lz4 to ./lz4).
pub(crate) const LZ4: Source = Source { package: "lz4", tarball: "lz4_1.9.4.orig.tar.gz" };
/// nginx 1.22.1 (a hand-written ./configure that reads auto/… from the current directory).
pub(crate) const NGINX: Source = Source { package: "nginx", tarball: "nginx_1.22.1.orig.tar.gz" };
/// git 2.39.5 (a plain Makefile, no configure run; asks curl-config for libcurl's flags).
pub(crate) const GIT: Source = Source { package: "git", tarball: "git_2.39.5.orig.tar.xz" };

/// libsvm 3.24 (a plain Makefile with `CXX ?= g++`; svm-train, svm-predict, svm-scale; heart_scale).
pub(crate) const LIBSVM: Source = Source { package: "libsvm", tarball: "libsvm_3.24+ds.orig.tar.xz" };

/// The download cache shared by every test of the run (and by later runs).
pub(crate) fn cache() -> PathBuf {
    let dir = std::env::var_os("STATICIZE_TEST_DEBSRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target").join("debsrc"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The orig tarball of `src`, downloaded once (apt takes a lock, so one download at a time).
pub(crate) fn tarball(src: &Source) -> PathBuf {
    static LOCK: OnceLock<Mutex<()>> = OnceLock::new();
    let _guard = LOCK.get_or_init(|| Mutex::new(())).lock().unwrap_or_else(|e| e.into_inner());
    let path = cache().join(src.tarball);
    if !path.is_file() {
        assert!(have("apt-get"), "apt-get is needed to fetch Debian source packages");
        // Only the orig tarball is used: a failure to fetch the Debian diff alone does not matter.
        let o = run(Command::new("apt-get").args(["source", "--download-only", src.package]).current_dir(cache()));
        assert!(
            path.is_file(),
            "apt-get source {} did not give {} (the version under test); deb-src configured? see scripts/test.sh\n{}",
            src.package,
            src.tarball,
            text(&o)
        );
    }
    path
}

/// `src` unpacked into a fresh temporary directory; returns it and the project's top directory.
pub(crate) fn unpack(src: &Source) -> (tempfile::TempDir, PathBuf) {
    let tar = tarball(src);
    let dir = tempdir();
    ok(Command::new("tar").arg("xf").arg(&tar).current_dir(dir.path()));
    let top = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the tarball holds one directory");
    (dir, top)
}

/// zlib 1.2.13 (its own configure; test/minigzip.c is zlib's own test program).
pub(crate) const ZLIB: Source = Source { package: "zlib", tarball: "zlib_1.2.13.dfsg.orig.tar.bz2" };
/// curl 7.88.1 (autoconf configure; the curl tool and libcurl).
pub(crate) const CURL: Source = Source { package: "curl", tarball: "curl_7.88.1.orig.tar.gz" };
