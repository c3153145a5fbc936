//! Which build system a project uses, and the commands that configure and build it static.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::process::Command;
use crate::toolchain::Profile;
use crate::toolchain::cross::autoconf_script;

/// A build system staticize knows how to drive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum System {
    /// CMakeLists.txt: cmake, out of tree.
    CMake,
    /// meson.build: meson + ninja, out of tree.
    Meson,
    /// An autoconf `configure` script.
    Configure,
    /// configure.ac without configure: autoreconf first.
    Autoreconf,
    /// A Makefile: make in the tree.
    Make,
    /// The user's own command (after `--`).
    Command,
}

impl System {
    /// The name shown in step lines.
    pub(crate) fn label(self) -> &'static str {
        match self {
            System::CMake => "CMake",
            System::Meson => "Meson",
            System::Configure => "configure",
            System::Autoreconf => "autotools (autoreconf)",
            System::Make => "make",
            System::Command => "your command",
        }
    }
}

/// Recognises the build system of `dir` (in the order of the issue: CMake, Meson, configure,
/// configure.ac, Makefile); `None` when there is none.
pub(crate) fn detect(dir: &Path) -> Option<System> {
    let has = |f: &str| dir.join(f).is_file();
    if has("CMakeLists.txt") {
        Some(System::CMake)
    } else if has("meson.build") {
        Some(System::Meson)
    } else if has("configure") {
        Some(System::Configure)
    } else if has("configure.ac") || has("configure.in") {
        Some(System::Autoreconf)
    } else if has("Makefile") || has("makefile") || has("GNUmakefile") {
        Some(System::Make)
    } else {
        None
    }
}

/// Whether `system` must build inside its source tree, judged from the project itself: a
/// plain Makefile (its rules name paths relative to it), or a configure autoconf did not write.
pub(crate) fn needs_source_tree(system: System, dir: &Path) -> bool {
    match system {
        System::Make => true,
        System::Configure => !autoconf_script(dir),
        _ => false,
    }
}

/// Whether a failed out-of-tree step's output shows a build that only works in its source
/// tree: make found no Makefile where configure ran, or a script could not open a file that
/// exists relative to the source directory `src` (`cannot open auto/options`).
pub(crate) fn failed_outside_its_tree(output: &str, src: &Path) -> bool {
    if output.contains("No targets specified and no makefile found") {
        return true;
    }
    output.lines().filter(|l| l.contains("cannot open") || l.contains("can't open") || l.contains("No such file")).any(
        |l| {
            l.split(|c: char| c.is_whitespace() || c == ':' || c == '\'' || c == '`')
                .filter(|w| !w.is_empty() && !w.starts_with('/') && !w.starts_with('-') && *w != "." && *w != "..")
                .any(|w| w.contains('/') && src.join(w).exists())
        },
    )
}

/// Whether a configure that ran in the out-of-tree directory `build` left no Makefile there:
/// git's autoconf script writes only `config.mak.autogen`, for the Makefile of its source
/// tree, so make finds no rule for anything (`No rule to make target 'git-remote-http'`).
pub(crate) fn configured_without_makefile(build: &Path) -> bool {
    build.join("config.status").is_file()
        && !["Makefile", "makefile", "GNUmakefile"].iter().any(|m| build.join(m).is_file())
}

/// Everything a plan needs to know about the build.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// The project's source directory.
    pub src: PathBuf,
    /// Where an out-of-tree build goes (DIR/.staticize-build/build).
    pub build: PathBuf,
    /// Jobs to run at once.
    pub jobs: usize,
    /// Optimise for size or speed.
    pub profile: Profile,
    /// Extra configure-step arguments.
    pub configure_args: Vec<String>,
    /// Targets to build instead of the default.
    pub targets: Vec<String>,
    /// The C and C++ compilers (the staticize-cc / staticize-c++ links).
    pub cc: PathBuf,
    /// The C++ compiler link, when a C++ compiler was found.
    pub cxx: Option<PathBuf>,
    /// Whether `configure` is autoconf's (it then gets `--disable-shared --enable-static`).
    pub autoconf: bool,
    /// For another architecture than this machine's: what each build system is told.
    pub cross: Option<CrossPlan>,
}

/// What a cross build tells each build system (the files are written before the steps run).
#[derive(Debug, Clone)]
pub(crate) struct CrossPlan {
    /// autoconf's `--host=… --build=…`.
    pub configure_args: Vec<String>,
    /// The CMake toolchain file.
    pub cmake_toolchain: PathBuf,
    /// The Meson cross file.
    pub meson_cross: PathBuf,
}

/// One command of a plan.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// The step's verb: "configure" or "build".
    pub verb: &'static str,
    /// What runs.
    pub command: Command,
    /// Whether it only sets the build up (skipped when the build directory is set up already).
    pub setup: bool,
}

/// The steps for `system`; `in_tree` says whether configure runs in the source tree (a tree
/// configured in place refuses out-of-tree builds).
pub(crate) fn plan(system: System, l: &Layout, in_tree: bool) -> Vec<Step> {
    let setup = |c: Command| Step { verb: "configure", command: c, setup: true };
    let build = |c: Command| Step { verb: "build", command: c, setup: false };
    let jobs = format!("-j{}", l.jobs);
    match system {
        System::CMake => vec![setup(cmake_configure(l)), build(cmake_build(l, &jobs))],
        System::Meson => vec![
            setup(
                Command::new("meson")
                    .arg("setup")
                    .arg(&l.build)
                    .arg(&l.src)
                    .args(meson_cross(l))
                    .args(meson_options(l)),
            ),
            build(Command::new("ninja").arg("-C").arg(&l.build).arg(&jobs).args(&l.targets)),
        ],
        System::Configure | System::Autoreconf => {
            let work = if in_tree { &l.src } else { &l.build };
            let mut steps = Vec::new();
            if system == System::Autoreconf {
                steps.push(setup(Command::new("autoreconf").args(["-fi"]).dir(&l.src)));
            }
            let static_only: &[&str] = if l.autoconf { &["--disable-shared", "--enable-static"] } else { &[] };
            // A hand-written configure is not told the target: CC (zig for it) carries it.
            let target = l.cross.as_ref().filter(|_| l.autoconf).map(|c| c.configure_args.clone()).unwrap_or_default();
            let configure =
                Command::new(l.src.join("configure")).args(static_only).args(target).args(&l.configure_args).dir(work);
            steps.push(setup(configure));
            steps.push(build(Command::new("make").arg(&jobs).args(&l.targets).dir(work)));
            steps
        }
        System::Make => vec![build(Command::new("make").arg(&jobs).args(&l.targets).dir(&l.src))],
        System::Command => Vec::new(),
    }
}

fn cmake_configure(l: &Layout) -> Command {
    let build_type = match l.profile {
        Profile::Size => "MinSizeRel",
        Profile::Speed => "Release",
    };
    let mut c = Command::new("cmake")
        .arg("-S")
        .arg(&l.src)
        .arg("-B")
        .arg(&l.build)
        .arg(format!("-DCMAKE_BUILD_TYPE={build_type}"))
        .arg("-DBUILD_SHARED_LIBS=OFF")
        // find_library then only finds archives, never a .so a static link cannot use.
        .arg("-DCMAKE_FIND_LIBRARY_SUFFIXES=.a");
    if let Some(cross) = &l.cross {
        // The toolchain file names the compilers, the target and where libraries may come from.
        c = c.arg(format!("-DCMAKE_TOOLCHAIN_FILE={}", cross.cmake_toolchain.display()));
    } else {
        c = c.arg(format!("-DCMAKE_C_COMPILER={}", l.cc.display()));
        if let Some(cxx) = &l.cxx {
            c = c.arg(format!("-DCMAKE_CXX_COMPILER={}", cxx.display()));
        }
    }
    if which::which("ninja").is_ok() {
        c = c.args(["-G", "Ninja"]);
    }
    c.args(&l.configure_args)
}

fn cmake_build(l: &Layout, jobs: &str) -> Command {
    let mut c = Command::new("cmake").arg("--build").arg(&l.build).arg("--parallel").arg(&jobs[2..]);
    for t in &l.targets {
        c = c.arg("--target").arg(t);
    }
    c
}

fn meson_cross(l: &Layout) -> Vec<String> {
    l.cross.iter().flat_map(|c| ["--cross-file".to_string(), c.meson_cross.display().to_string()]).collect()
}

fn meson_options(l: &Layout) -> Vec<String> {
    let build_type = match l.profile {
        Profile::Size => "minsize",
        Profile::Speed => "release",
    };
    let mut v = vec![
        format!("--buildtype={build_type}"),
        "-Ddefault_library=static".to_string(),
        "-Dprefer_static=true".to_string(),
    ];
    v.extend(l.configure_args.iter().cloned());
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout {
        Layout {
            src: "/p".into(),
            build: "/p/.staticize-build/build".into(),
            jobs: 2,
            profile: Profile::Size,
            configure_args: vec!["--without-x".into()],
            targets: vec!["prog".into()],
            cc: "/p/.staticize-build/bin/staticize-cc".into(),
            cxx: None,
            autoconf: true,
            cross: None,
        }
    }

    fn cross() -> Layout {
        let mut l = layout();
        l.cross = Some(CrossPlan {
            configure_args: vec!["--host=aarch64-linux-musl".into(), "--build=x86_64-linux-gnu".into()],
            cmake_toolchain: "/p/.staticize-build/linux-arm64/toolchain.cmake".into(),
            meson_cross: "/p/.staticize-build/linux-arm64/cross.ini".into(),
        });
        l
    }

    #[test]
    fn a_cross_build_tells_each_build_system_its_target() {
        let l = cross();
        let configure = plan(System::Configure, &l, false)[0].command.summary();
        assert!(
            configure.contains("--enable-static --host=aarch64-linux-musl --build=x86_64-linux-gnu"),
            "{configure}"
        );
        let cmake = plan(System::CMake, &l, false)[0].command.summary();
        assert!(cmake.contains("-DCMAKE_TOOLCHAIN_FILE=/p/.staticize-build/linux-arm64/toolchain.cmake"), "{cmake}");
        assert!(!cmake.contains("-DCMAKE_C_COMPILER"), "{cmake}");
        let meson = plan(System::Meson, &l, false)[0].command.summary();
        assert!(meson.contains("--cross-file /p/.staticize-build/linux-arm64/cross.ini"), "{meson}");
        // A hand-written configure takes no --host: CC carries the target.
        let mut hand = cross();
        hand.autoconf = false;
        assert!(!plan(System::Configure, &hand, true)[0].command.summary().contains("--host"));
    }

    #[test]
    fn detection_order() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect(d.path()), None);
        std::fs::write(d.path().join("Makefile"), "").unwrap();
        assert_eq!(detect(d.path()), Some(System::Make));
        std::fs::write(d.path().join("configure.ac"), "").unwrap();
        assert_eq!(detect(d.path()), Some(System::Autoreconf));
        std::fs::write(d.path().join("configure"), "").unwrap();
        assert_eq!(detect(d.path()), Some(System::Configure));
        std::fs::write(d.path().join("CMakeLists.txt"), "").unwrap();
        assert_eq!(detect(d.path()), Some(System::CMake));
    }

    #[test]
    fn configure_is_static_and_out_of_tree() {
        let steps = plan(System::Configure, &layout(), false);
        let s: Vec<String> = steps.iter().map(|s| s.command.summary()).collect();
        assert_eq!(s[0], "/p/configure --disable-shared --enable-static --without-x");
        assert_eq!(s[1], "make -j2 prog");
        let steps = plan(System::Autoreconf, &layout(), true);
        assert_eq!(steps[0].command.summary(), "autoreconf -fi");
        assert_eq!(steps.len(), 3);
    }

    #[test]
    fn builds_that_need_their_source_tree_are_recognised() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("auto")).unwrap();
        std::fs::write(d.path().join("auto/options"), "").unwrap();
        std::fs::write(d.path().join("configure"), "#!/bin/sh\n. auto/options\n").unwrap();
        assert!(needs_source_tree(System::Configure, d.path()));
        assert!(needs_source_tree(System::Make, d.path()));
        std::fs::write(d.path().join("configure"), "#! /bin/sh\n# Generated by GNU Autoconf 2.71 for x.\n").unwrap();
        assert!(!needs_source_tree(System::Configure, d.path()));
        let dash = "./configure: 10: .: cannot open auto/options: No such file";
        assert!(failed_outside_its_tree(dash, d.path()));
        assert!(failed_outside_its_tree("make: *** No targets specified and no makefile found.  Stop.", d.path()));
        // A configure that made no Makefile where it ran (git's) is a build for its own tree.
        let build = d.path().join("build");
        std::fs::create_dir(&build).unwrap();
        assert!(!configured_without_makefile(&build), "nothing configured yet");
        std::fs::write(build.join("config.status"), "").unwrap();
        assert!(configured_without_makefile(&build));
        std::fs::write(build.join("Makefile"), "").unwrap();
        assert!(!configured_without_makefile(&build));
        assert!(!failed_outside_its_tree("x.c:1:10: fatal error: zlib.h: No such file or directory", d.path()));
        let mut l = layout();
        l.autoconf = false;
        assert_eq!(plan(System::Configure, &l, true)[0].command.summary(), "/p/configure --without-x");
    }

    #[test]
    fn meson_prefers_static() {
        let steps = plan(System::Meson, &layout(), false);
        let s = steps[0].command.summary();
        assert!(s.contains("-Ddefault_library=static -Dprefer_static=true --without-x"), "{s}");
        assert_eq!(steps[1].command.summary(), "ninja -C /p/.staticize-build/build -j2 prog");
    }
}
