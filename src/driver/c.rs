//! The C and C++ driver: musl-gcc, zig cc/c++ or gcc/g++ with static, size-minded flags.

use std::path::{Path, PathBuf};

use crate::driver::{Artifact, BuildRequest, Driver, linktrace, objcache};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::process::Command;
use crate::toolchain::cc::Lang;
use crate::toolchain::{Compiler, Preference, Profile, spec};

/// Builds C or C++ sources into one static executable.
#[derive(Debug, Clone)]
pub(crate) struct CDriver {
    /// C or C++.
    pub lang: Lang,
    /// The compiler and libc the user asked for.
    pub preference: Preference,
    /// Library recipes to build for the compiler and link (`--dep`).
    pub deps: Vec<String>,
    /// Add the recipe that provides a missing header or library and try again (`--auto-deps`).
    pub auto_deps: bool,
    /// The architecture it builds for (`--platform`).
    pub arch: Arch,
    /// The registry the deps are shared through.
    pub cache: crate::remote_cache::Settings,
}

impl CDriver {
    /// The compiler this driver will use, or why none can be used.
    pub(crate) fn compiler(&self) -> Result<Compiler> {
        spec(self.lang.key()).select_for(&self.preference, self.arch)
    }
}

impl Driver for CDriver {
    fn tool(&self) -> crate::driver::Tool {
        // Choosing probes the installed compilers; a missing one is the build's error to give.
        let compiler = self.compiler().ok().map(|c| format!("{} ({})", c.name, c.version));
        crate::driver::Tool { driver: self.lang.key().into(), compiler }
    }

    fn build(&self, req: &BuildRequest, steps: &crate::progress::Steps) -> Result<Artifact> {
        for src in &req.inputs {
            check_source(src)?;
        }
        let compiler = self.compiler()?;
        let explain = |e| crate::driver::libs::explain(e, &compiler.name, &compiler.libc);
        let mut deps = self.deps.clone();
        let linked = loop {
            let flags = dep_flags(&compiler, self.arch, &deps, &self.cache, req.profile, steps)?;
            let extra = [flags, req.extra_args.clone()].concat();
            match self.compile(req, &compiler, &extra, steps) {
                Ok(done) => break done,
                Err(e) => match self.auto_dep(&e, &compiler, &deps) {
                    Some(name) => {
                        steps.step(
                            "auto-deps",
                            format!("adding --dep {name} (it provides what the build lacked) and trying again"),
                        );
                        deps.push(name);
                    }
                    None => return Err(explain(e)),
                },
            }
        };
        let out = req.staging.join(&req.name);
        if !out.is_file() {
            return Err(Error::Build {
                step: linked.step,
                message: format!("{} reported success but wrote no {}", compiler.name, out.display()),
                help: Some("check the extra arguments after -- (e.g. -c or -E stop before linking)".into()),
            });
        }
        let mut warnings = Vec::new();
        if !compiler.skipped.is_empty() {
            let missing: Vec<String> = compiler.skipped.iter().map(|(n, hint)| format!("{n} ({hint})")).collect();
            warnings.push(format!(
                "used {} because better compilers are missing: {}; they give smaller binaries",
                compiler.name,
                missing.join("; ")
            ));
        }
        if compiler.warn_glibc_static {
            warnings.extend(glibc_static_warning(&linked.output.stderr));
        }
        Ok(Artifact {
            path: out,
            lang: self.lang.key().to_string(),
            target: format!("{}-linux-{}", self.arch.uname(), compiler.libc),
            toolchain_used: format!("{} ({})", compiler.name, compiler.version),
            command: linked.cmd.summary(),
            warnings,
            companions: None,
            on_runtime: None,
            package_dirs: Vec::new(),
            archives: linked.archives,
        })
    }
}

/// A link that succeeded.
struct Linked {
    /// The command, as the artifact reports it.
    cmd: Command,
    /// What it printed (stdout without the linker's trace).
    output: crate::process::Output,
    /// Its step name.
    step: String,
    /// The static archives the linker read.
    archives: Vec<PathBuf>,
}

impl CDriver {
    /// One compile and link with `extra` arguments, traced when the compiler allows it.
    fn compile(
        &self,
        req: &BuildRequest,
        compiler: &Compiler,
        extra: &[String],
        steps: &crate::progress::Steps,
    ) -> Result<Linked> {
        let out = req.staging.join(&req.name);
        // Each source through the object cache when the arguments allow it (they nearly always
        // do); the link then reads the objects.
        let (inputs, cached) = match objcache::split_args(extra).filter(|_| objcache::all_sources(&req.inputs)) {
            Some((compile_args, _)) => {
                let dir = req.staging.join("objects");
                std::fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
                let (objs, report) = objcache::objects(compiler, &req.inputs, &compile_args, &dir)?;
                steps.step("objects", report.summary());
                (objs, true)
            }
            None => (req.inputs.clone(), false),
        };
        let cmd = Command::from_argv(&compiler.argv)
            .args(&compiler.flags)
            .args(&compiler.profile_flags)
            .args(&inputs)
            .args(extra)
            .arg("-o")
            .arg(&out);
        let verb = if cached { "link" } else { "compile" };
        let step = format!("{verb} {} with {}", req.inputs[0].display(), compiler.name);
        let (output, archives) = linktrace::run(&cmd, linktrace::traceable(&compiler.argv), &step)?;
        Ok(Linked { cmd, output, step, archives })
    }

    /// With --auto-deps, the recipe that provides what a failed compile or link lacked (once).
    fn auto_dep(&self, e: &Error, compiler: &Compiler, deps: &[String]) -> Option<String> {
        if !self.auto_deps {
            return None;
        }
        let Error::CommandFailed { stderr, .. } = e else { return None };
        let missing = crate::driver::libs::missing_in(stderr)?;
        let r = missing.recipe()?;
        (!deps.contains(&r.name) && compiler.libc == "musl").then_some(r.name)
    }
}

/// The -I, -L and -l flags of `deps`, built for `compiler` and `arch` first when the cache
/// lacks them.
fn dep_flags(
    compiler: &Compiler,
    arch: Arch,
    deps: &[String],
    cache: &crate::remote_cache::Settings,
    profile: Profile,
    steps: &crate::progress::Steps,
) -> Result<Vec<String>> {
    if deps.is_empty() {
        return Ok(Vec::new());
    }
    let target = crate::deps::Toolset::for_compiler(compiler, arch, profile);
    let entries = crate::deps::ensure(deps, &target, cache, steps.reporter())?;
    Ok(crate::deps::Flags::of(&entries).all())
}

fn check_source(src: &Path) -> Result<()> {
    match std::fs::metadata(src) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(_) => {
            Err(Error::input(src, "is not a regular file", Some("pass source files, e.g. staticize c hello.c".into())))
        }
        Err(e) => Err(Error::io("read source", src, e)),
    }
}

/// Turns glibc's "Using 'X' in statically linked applications requires at runtime the shared
/// libraries from the glibc version used for linking" warnings into one plain warning.
pub(crate) fn glibc_static_warning(stderr: &str) -> Option<String> {
    let mut funcs: Vec<String> = stderr
        .lines()
        .filter(|l| l.contains("in statically linked applications requires at runtime"))
        .filter_map(|l| {
            let start = l.find("Using '")? + "Using '".len();
            let end = l[start..].find('\'')? + start;
            Some(l[start..end].to_string())
        })
        .collect();
    funcs.sort();
    funcs.dedup();
    if funcs.is_empty() {
        return None;
    }
    Some(format!(
        "static glibc: {} load NSS modules (libnss_*.so) with dlopen at run time; a scratch image \
         has none, so user, group and host lookups there will fail or only see /etc files. \
         musl resolves them without dlopen: build with --libc musl (apt-get install musl-tools, or pip install ziglang for zig cc).",
        funcs.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_warnings_become_one() {
        let stderr = "/usr/bin/ld: /tmp/x.o: in function `main':\n\
            x.c:(.text+0x1d): warning: Using 'getaddrinfo' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking\n\
            x.c:(.text+0x9): warning: Using 'getpwnam' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking\n\
            x.c:(.text+0x9): warning: Using 'getpwnam' in statically linked applications requires at runtime the shared libraries from the glibc version used for linking\n";
        let w = glibc_static_warning(stderr).unwrap();
        assert!(w.starts_with("static glibc: getaddrinfo, getpwnam load NSS"), "{w}");
        assert!(w.contains("musl"));
        assert!(glibc_static_warning("").is_none());
    }
}
