//! Building one recipe into a cache entry: the source unpacked in a temporary directory in the
//! cache, the recipe's build system run with staticize's compiler links (the machinery of
//! `staticize build`: the same staticize-cc wrapper and environment), installed DESTDIR-style
//! and renamed into place only when every step succeeded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::deps::cache::{self, Manifest};
use crate::deps::recipe::{Kind, Recipe};
use crate::deps::source::{self, Fetched};
use crate::deps::toolset::{Entry, Toolset};
use crate::error::{Error, Result};
use crate::process::Command;
use crate::report::Reporter;
use crate::toolchain::toolbox::Toolbox;

/// Where one build happens and what its placeholders stand for.
struct Ctx {
    vars: BTreeMap<String, String>,
    src: PathBuf,
    build: PathBuf,
    /// Built for another architecture than this machine's.
    cross: bool,
    /// The target.
    arch: crate::platform::Arch,
    /// The C library the compiler links.
    libc: String,
    /// Whether `src/configure` was written by autoconf (it then takes --host and --build).
    autoconf: bool,
}

impl Ctx {
    /// `s` with `{name}` placeholders replaced; unknown ones are left as written.
    fn expand(&self, s: &str) -> String {
        expand(s, &self.vars)
    }

    fn var(&self, k: &str) -> &str {
        self.vars.get(k).map(String::as_str).unwrap_or("")
    }
}

/// `s` with each `{key}` of `vars` replaced; `{{` and `}}` stand for braces.
pub(crate) fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        let key = if tail.starts_with('{') { tail.find('}').map(|j| (&tail[1..j], j)) } else { None };
        match key.filter(|(k, _)| vars.contains_key(*k)) {
            Some((k, j)) => {
                out.push_str(&vars[k]);
                rest = &tail[j + 1..];
            }
            None => {
                out.push_str(&tail[..1]);
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Builds `r` for `t` into `prefix` (which must not exist yet), its manifest recording `key`;
/// `needs` are its needs' entries.
pub(crate) fn build(
    r: &Recipe,
    f: &Fetched,
    t: &Toolset,
    needs: &[Entry],
    prefix: &Path,
    key: &str,
    rep: &Reporter,
) -> Result<Manifest> {
    let started = Instant::now();
    let root = cache::root();
    let tmp = crate::output::temp_dir_in(&root, "build")?;
    let unpacked = tmp.path().join("src");
    std::fs::create_dir_all(&unpacked).map_err(|e| Error::io("create", &unpacked, e))?;
    let mut src = source::unpack(f, &unpacked)?;
    if let Some(sub) = &r.source.subdir {
        src = src.join(sub);
    }
    let state = tmp.path().join("state");
    let toolbox = Toolbox::create(&state, &t.cc, t.cxx.as_ref(), t.profile)?;
    let ctx = context(r, t, needs, prefix, &src, tmp.path(), &toolbox)?;
    let env = environment(r, t, needs, &ctx);
    for step in plan(r, &ctx)? {
        rep.step("build", format!("{}: {}", r.name, step.summary()));
        let mut cmd = toolbox.apply(step);
        for (k, v) in &env {
            cmd = cmd.env(k, v);
        }
        cmd.run_merged(&format!("build the library {}", r.name)).map_err(|e| failed(e, r))?;
    }
    let staged = PathBuf::from(format!("{}{}", ctx.var("destdir"), prefix.display()));
    finish_tree(r, &staged)?;
    let manifest = Manifest {
        name: r.name.clone(),
        version: f.version.clone(),
        debian_source: f.debian.clone(),
        license: f.license.clone(),
        purl: f.purl(&r.name),
        libs: r.provides.libs.clone(),
        pkgconfig: r.provides.pkgconfig.clone(),
        needs: r.needs.clone(),
        compiler: format!("{} ({})", t.cc.name, t.cc.version),
        libc: t.cc.libc.clone(),
        arch: t.arch.uname().to_string(),
        profile: t.profile.name().to_string(),
        seconds: started.elapsed().as_secs(),
        key: key.to_string(),
    };
    let json = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    std::fs::write(staged.join("manifest.json"), json)
        .map_err(|e| Error::io("write", staged.join("manifest.json"), e))?;
    let parent = crate::output::parent_dir(prefix);
    std::fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    // The one step that makes the entry exist: a killed build never gets here.
    std::fs::rename(&staged, prefix).map_err(|e| Error::io("move the built library into", prefix, e))?;
    Ok(manifest)
}

fn failed(e: Error, r: &Recipe) -> Error {
    match e {
        Error::CommandFailed { step, command, status, stderr } => Error::Build {
            step,
            message: format!("`{command}` {status}\n{stderr}"),
            help: Some(format!(
                "the recipe toolchains/deps/{}.toml did not build with this compiler; nothing was cached, so fix the recipe (or the compiler) and run again",
                r.name
            )),
        },
        other => other,
    }
}

/// The placeholders of one build.
fn context(
    r: &Recipe,
    t: &Toolset,
    needs: &[Entry],
    prefix: &Path,
    src: &Path,
    tmp: &Path,
    tb: &Toolbox,
) -> Result<Ctx> {
    let build = tmp.join("build");
    let destdir = tmp.join("dest");
    for d in [&build, &destdir] {
        std::fs::create_dir_all(d).map_err(|e| Error::io("create", d, e))?;
    }
    let (ar, ranlib) = crate::toolchain::cross::archivers(&t.cc, &tb.bin)?;
    let jobs = std::env::var("STATICIZE_DEPS_JOBS")
        .ok()
        .and_then(|j| j.parse::<usize>().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let mut vars: BTreeMap<String, String> = [
        ("prefix", prefix.display().to_string()),
        ("destdir", destdir.display().to_string()),
        ("src", src.display().to_string()),
        ("build", build.display().to_string()),
        ("jobs", jobs.to_string()),
        ("cc", tb.bin.join("staticize-cc").display().to_string()),
        ("cxx", tb.bin.join("staticize-c++").display().to_string()),
        ("ar", ar),
        ("ranlib", ranlib),
        ("host", t.arch.gnu_triple(&t.cc.libc)),
        ("arch", t.arch.uname().to_string()),
        ("libc", t.cc.libc.clone()),
        ("cflags", t.profile.opt_flag().to_string()),
        ("kernel_headers", kernel_headers(t)?.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for n in needs {
        vars.insert(format!("dep:{}", n.recipe.name), n.prefix.display().to_string());
    }
    let _ = r;
    Ok(Ctx {
        vars,
        src: src.to_path_buf(),
        build,
        cross: t.arch != crate::platform::Arch::host(),
        arch: t.arch,
        libc: t.cc.libc.clone(),
        autoconf: crate::toolchain::cross::autoconf_script(src),
    })
}

/// A directory holding only the kernel's headers (linux/, asm/, asm-generic/) for musl-gcc,
/// which ships none (libraries such as openssl include <linux/…>); zig has its own, so it gets
/// an empty one. Kernel headers describe the kernel's interface, not glibc's, so musl can use them.
fn kernel_headers(t: &Toolset) -> Result<PathBuf> {
    kernel_headers_for(&t.cc.name, t.arch.uname())
}

/// [`kernel_headers`] for the compiler named `compiler` building for `uname` (`x86_64`).
pub(crate) fn kernel_headers_for(compiler: &str, uname: &str) -> Result<PathBuf> {
    let dir = cache::root().join(".kernel-headers").join(compiler).join(uname);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    if compiler != "musl-gcc" {
        return Ok(dir);
    }
    let multiarch = format!("/usr/include/{uname}-linux-gnu/asm");
    for (name, target) in
        [("linux", "/usr/include/linux"), ("asm-generic", "/usr/include/asm-generic"), ("asm", multiarch.as_str())]
    {
        let link = dir.join(name);
        if Path::new(target).is_dir() && std::fs::symlink_metadata(&link).is_err() {
            let _ = std::os::unix::fs::symlink(target, &link);
        }
    }
    Ok(dir)
}

/// The environment every step of `r` gets on top of the toolbox's.
fn environment(r: &Recipe, t: &Toolset, needs: &[Entry], ctx: &Ctx) -> Vec<(String, String)> {
    let join = |f: &dyn Fn(&Entry) -> String, sep: &str| needs.iter().map(f).collect::<Vec<_>>().join(sep);
    let mut env = vec![
        ("AR".to_string(), ctx.var("ar").to_string()),
        ("RANLIB".into(), ctx.var("ranlib").to_string()),
        ("CFLAGS".into(), ctx.var("cflags").to_string()),
        ("CXXFLAGS".into(), ctx.var("cflags").to_string()),
        ("CPPFLAGS".into(), join(&|e| format!("-I{}/include", e.prefix.display()), " ")),
        ("LDFLAGS".into(), join(&|e| format!("-L{}/lib", e.prefix.display()), " ")),
        ("PKG_CONFIG".into(), "pkg-config --static".into()),
        ("PKG_CONFIG_LIBDIR".into(), join(&|e| format!("{}/lib/pkgconfig", e.prefix.display()), ":")),
        ("PKG_CONFIG_PATH".into(), String::new()),
        ("DESTDIR".into(), ctx.var("destdir").to_string()),
        // A library's own compiles must not pull in the deps of the program that asked for it.
        (crate::deps::toolset::ENV_DEPS.into(), String::new()),
        (crate::deps::toolset::ENV_RESOLVED.into(), String::new()),
    ];
    if ctx.cross {
        // Generators a library compiles and runs while it builds (ncurses' make_hash, sqlite's
        // lemon) are built by this machine's compiler.
        env.extend(crate::toolchain::cross::build_machine_env(t.arch));
    }
    for (k, v) in &r.build.env {
        env.push((k.clone(), ctx.expand(v)));
    }
    env
}

/// One of a `steps` recipe's commands (placeholders expanded), run in the source tree.
fn step(expanded: &[String], ctx: &Ctx) -> Command {
    let src = &ctx.src;
    let mut argv = expanded.to_vec();
    // `./configure` names a file in the source tree, whatever directory staticize runs in.
    if argv[0].starts_with("./") {
        argv[0] = src.join(&argv[0][2..]).display().to_string();
    }
    // An autoconf configure among the steps (ncurses', sqlite's) is told the target as the
    // configure kind's is; zlib's own script takes no --host (CC carries the target).
    if ctx.cross && ctx.autoconf && argv[0] == src.join("configure").display().to_string() {
        argv.extend(crate::toolchain::cross::configure_args(ctx.arch, &ctx.libc));
    }
    Command::from_argv(&argv).dir(src)
}

/// The commands that build and install `r`.
fn plan(r: &Recipe, ctx: &Ctx) -> Result<Vec<Command>> {
    let b = &r.build;
    let x = |v: &[String]| v.iter().map(|a| ctx.expand(a)).collect::<Vec<String>>();
    let (src, build) = (&ctx.src, &ctx.build);
    let jobs = format!("-j{}", ctx.var("jobs"));
    let install = if b.install.is_empty() { vec!["install".to_string()] } else { x(&b.install) };
    let destdir = format!("DESTDIR={}", ctx.var("destdir"));
    let prefix = ctx.var("prefix");
    if ctx.cross && !b.cross {
        return Err(Error::usage(
            format!("the recipe {} cannot be built for another architecture", r.name),
            "build it for the host, or extend its recipe",
        ));
    }
    Ok(match b.kind {
        Kind::Steps => b.steps.iter().filter(|s| !s.is_empty()).map(|s| step(&x(s), ctx)).collect(),
        Kind::Configure => {
            let mut v = Vec::new();
            if !src.join("configure").is_file() {
                v.push(Command::new("autoreconf").arg("-fi").dir(src));
            }
            let mut c = Command::new(src.join("configure"))
                .arg(format!("--prefix={prefix}"))
                .arg(format!("--libdir={prefix}/lib"))
                .args(["--disable-shared", "--enable-static"]);
            if ctx.cross {
                c = c.args(crate::toolchain::cross::configure_args(ctx.arch, &ctx.libc));
            }
            v.push(c.args(x(&b.args)).dir(src));
            v.push(Command::new("make").arg(&jobs).args(x(&b.targets)).dir(src));
            v.push(Command::new("make").args(install).arg(destdir).dir(src));
            v
        }
        Kind::Cmake => cmake(r, ctx, &x(&b.args), &x(&b.targets), &jobs),
        Kind::Meson => {
            if ctx.cross {
                return Err(Error::usage(
                    format!("the recipe {} uses Meson, which staticize builds for the host only", r.name),
                    "build it for the host",
                ));
            }
            vec![
                Command::new("meson")
                    .arg("setup")
                    .arg(build)
                    .arg(src)
                    .arg(format!("--prefix={prefix}"))
                    .args([
                        "--libdir=lib",
                        "-Ddefault_library=static",
                        if ctx.var("cflags") == "-Os" { "--buildtype=minsize" } else { "--buildtype=release" },
                    ])
                    .args(x(&b.args)),
                Command::new("ninja").arg("-C").arg(build).arg(&jobs).args(x(&b.targets)),
                Command::new("meson").args(["install", "-C"]).arg(build).arg("--destdir").arg(ctx.var("destdir")),
            ]
        }
        Kind::Make => vec![
            Command::new("make").arg(&jobs).args(x(&b.args)).args(x(&b.targets)).dir(src),
            Command::new("make")
                .args(install)
                .arg(format!("PREFIX={prefix}"))
                .arg(format!("prefix={prefix}"))
                .arg(destdir)
                .dir(src),
        ],
    })
}

fn cmake(_r: &Recipe, ctx: &Ctx, args: &[String], targets: &[String], jobs: &str) -> Vec<Command> {
    let build_type = if ctx.var("cflags") == "-Os" { "MinSizeRel" } else { "Release" };
    let mut c = Command::new("cmake")
        .arg("-S")
        .arg(&ctx.src)
        .arg("-B")
        .arg(&ctx.build)
        .arg(format!("-DCMAKE_INSTALL_PREFIX={}", ctx.var("prefix")))
        .args(["-DCMAKE_INSTALL_LIBDIR=lib", "-DBUILD_SHARED_LIBS=OFF", "-DCMAKE_POSITION_INDEPENDENT_CODE=ON"])
        .arg(format!("-DCMAKE_BUILD_TYPE={build_type}"))
        .arg(format!("-DCMAKE_C_COMPILER={}", ctx.var("cc")));
    if ctx.cross {
        // zig's archiver (an absolute path; CMake would resolve a bare `ar` against the build dir).
        c = c
            .args(["-DCMAKE_SYSTEM_NAME=Linux"])
            .arg(format!("-DCMAKE_SYSTEM_PROCESSOR={}", ctx.var("arch")))
            .arg(format!("-DCMAKE_AR={}", ctx.var("ar")))
            .arg(format!("-DCMAKE_RANLIB={}", ctx.var("ranlib")));
    }
    if which::which("ninja").is_ok() {
        c = c.args(["-G", "Ninja"]);
    }
    let mut b = Command::new("cmake").arg("--build").arg(&ctx.build).arg("--parallel").arg(&jobs[2..]);
    for t in targets {
        b = b.arg("--target").arg(t);
    }
    vec![c.args(args), b, Command::new("cmake").arg("--install").arg(&ctx.build)]
}

/// Checks the installed tree has what the recipe provides, and drops shared libraries and
/// libtool archives (a static link must never pick them up).
fn finish_tree(r: &Recipe, staged: &Path) -> Result<()> {
    let lib = staged.join("lib");
    if let Ok(d) = std::fs::read_dir(&lib) {
        for e in d.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.ends_with(".la") || n.contains(".so") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let missing: Vec<String> = r
        .provides
        .libs
        .iter()
        .map(|l| format!("lib/lib{l}.a"))
        .chain(r.provides.headers.iter().map(|h| format!("include/{h}")))
        .chain(r.provides.pkgconfig.iter().map(|p| format!("lib/pkgconfig/{p}.pc")))
        .filter(|p| !staged.join(p).exists())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Build {
        step: format!("install the library {}", r.name),
        message: format!("the build installed no {} under {}", missing.join(", "), staged.display()),
        help: Some(format!(
            "the recipe toolchains/deps/{}.toml must install into {{destdir}}{{prefix}} (DESTDIR=…); fix its steps or its [provides]",
            r.name
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_expand_and_unknown_ones_stay() {
        let vars: BTreeMap<String, String> =
            [("prefix", "/c/z"), ("dep:zlib", "/c/zlib")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(expand("--prefix={prefix}", &vars), "--prefix=/c/z");
        assert_eq!(expand("-I{dep:zlib}/include ${pcfiledir} {{x}}", &vars), "-I/c/zlib/include ${pcfiledir} {x}");
        assert_eq!(expand("{nope}", &vars), "{nope}");
    }
}
