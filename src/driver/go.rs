//! The Go driver: `go build` with cgo off (static by construction), or — when the package graph
//! needs C — cgo linked externally and statically against musl (musl-gcc, or zig cc for other
//! architectures). Flags and environment come from toolchains/go.toml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Deserialize;

use crate::driver::go_cache::{self, Slot};
use crate::driver::go_remote::Remote;
use crate::driver::{Artifact, BuildRequest, Driver};
use crate::error::{Error, Result};
use crate::platform::Arch;
use crate::process::{Command, Running};
use crate::toolchain::{Compiler, Preference, spec};

/// The Go-specific tables of toolchains/go.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GoSettings {
    /// How every build runs.
    pub build: BuildSettings,
    /// What changes when cgo is needed.
    pub cgo: CgoSettings,
}

/// `[build]` of go.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct BuildSettings {
    /// Flags for `go build`.
    pub flags: Vec<String>,
    /// Words of `-ldflags`.
    pub ldflags: Vec<String>,
    /// Build tags always set.
    pub tags: Vec<String>,
    /// Environment for `go list` and `go build`.
    pub env: BTreeMap<String, String>,
    /// Flags added when the package is not inside a version-control checkout.
    pub outside_repo_flags: Vec<String>,
    /// The tag that embeds the zone database.
    pub tzdata_tag: String,
}

/// `[cgo]` of go.toml.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CgoSettings {
    /// Environment overriding `[build].env`.
    pub env: BTreeMap<String, String>,
    /// Extra words of `-ldflags`.
    pub ldflags: Vec<String>,
    /// Flags for the external linker (`-extldflags`).
    pub extldflags: Vec<String>,
    /// Extra external-linker flags when the C compiler is zig.
    pub extldflags_zig: Vec<String>,
}

/// Loads the `[build]` and `[cgo]` tables of the embedded go.toml.
pub(crate) fn settings() -> GoSettings {
    crate::toolchain::load("go")
}

/// `go list` asked for exactly the fields of [`ListedPackage`].
const LIST_FIELDS: &str = "-json=ImportPath,Name,Dir,Standard,DepOnly,GoFiles,CgoFiles";

/// The fields of `go list -json` staticize reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ListedPackage {
    import_path: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    standard: bool,
    #[serde(default)]
    dep_only: bool,
    #[serde(default)]
    go_files: Vec<String>,
    #[serde(default)]
    cgo_files: Vec<String>,
}

/// A Go main package, found with `go list` before anything is built.
#[derive(Debug, Clone)]
pub(crate) struct MainPackage {
    /// The directory `go` runs in.
    pub workdir: PathBuf,
    /// The package argument given to `go` (".", a file, or an import path).
    pub pattern: String,
    /// Its import path.
    pub import_path: String,
    /// The package's own directory.
    pub dir: PathBuf,
    /// The executable's name, as `go build` would choose it.
    pub name: String,
    /// Packages outside the standard library with cgo files.
    pub cgo_packages: Vec<String>,
}

/// The C compiler cgo links with.
#[derive(Debug, Clone)]
pub(crate) struct CgoCompiler {
    /// "musl-gcc", "zig" or "custom (STATICIZE_CC)".
    pub name: String,
    /// The command, as it goes into CC.
    pub argv: Vec<String>,
    /// Whether it is zig cc.
    pub zig: bool,
}

/// Builds one Go main package for one architecture.
#[derive(Debug)]
pub(crate) struct GoDriver {
    /// The go command found.
    pub go: Compiler,
    /// The package to build.
    pub package: MainPackage,
    /// The architecture to build for.
    pub arch: Arch,
    /// Build tags beyond go.toml's.
    pub tags: Vec<String>,
    /// The C compiler, when the package needs cgo.
    pub cgo: Option<CgoCompiler>,
    settings: GoSettings,
    /// PKG@VERSION: the throwaway module it was listed in, and the version found.
    remote: Option<(Remote, String)>,
    /// The pure-Go build started beside `go list`, while it is still wanted.
    speculation: Mutex<Option<Speculation>>,
}

/// A pure-Go `go build` started while `go list` decides whether cgo is needed. On a warm cache
/// `go list -deps` costs a fifth of the build, so it runs beside the build, not before it; when
/// cgo turns out to be needed (or anything else differs) the speculation is abandoned.
#[derive(Debug)]
struct Speculation {
    /// The command as planned, without GOTMPDIR: the build uses it only if the command
    /// planned after `go list` is exactly this.
    planned: Command,
    running: Running,
    /// Where it writes (and go compares build IDs with): the program in its cache slot, held
    /// locked until the speculation ends.
    slot: Slot,
    /// The program's identity in the slot before the build: unchanged after it means go found
    /// it up to date.
    before: Option<Identity>,
}

/// A file's inode: go renames a newly linked program into place (the new file exists beside
/// the old one until then, so its inode differs); an up-to-date one keeps its inode (go only
/// touches its modification time).
type Identity = u64;

fn identity(path: &Path) -> Option<Identity> {
    use std::os::unix::fs::MetadataExt;
    Some(std::fs::metadata(path).ok()?.ino())
}

/// Everything `go build` is given except the output and the extra arguments.
struct BuildPlan<'a> {
    go: &'a Compiler,
    settings: &'a GoSettings,
    arch: Arch,
    tags: &'a [String],
    workdir: &'a Path,
    pattern: &'a str,
    package_dir: &'a Path,
    cgo: Option<&'a CgoCompiler>,
    /// For PKG@VERSION: `go install PKG@VERSION` instead of `go build -o`.
    remote: Option<&'a (Remote, String)>,
}

impl BuildPlan<'_> {
    /// The `go build` command writing `out`.
    fn command(&self, out: &Path, extra: &[String]) -> Command {
        let s = self.settings;
        let mut env = s.build.env.clone();
        if let Some(cc) = self.cgo {
            env.extend(s.cgo.env.clone());
            env.insert("CC".into(), cc.argv.join(" "));
        }
        env.insert("GOARCH".into(), self.arch.name().into());
        let mut ldflags = s.build.ldflags.clone();
        if let Some(cc) = self.cgo {
            ldflags.extend(s.cgo.ldflags.iter().cloned());
            let mut ext = s.cgo.extldflags.clone();
            if cc.zig {
                ext.extend(s.cgo.extldflags_zig.iter().cloned());
            }
            ldflags.push("-extldflags".into());
            ldflags.push(format!("'{}'", ext.join(" ")));
        }
        let verb = if self.remote.is_some() { "install" } else { "build" };
        let mut cmd = with_env(Command::from_argv(&self.go.argv).dir(self.workdir), env)
            .arg(verb)
            .args(&s.build.flags)
            .arg("-ldflags")
            .arg(ldflags.join(" "))
            .arg("-tags")
            .arg(self.tags.join(","));
        if !in_vcs_checkout(self.package_dir) {
            cmd = cmd.args(&s.build.outside_repo_flags);
        }
        if let Some((remote, version)) = self.remote {
            return remote.install_env(cmd.args(extra).arg(format!("{}@{version}", remote.package)));
            // (go install chooses the output file itself: see go_remote::Remote::installed.)
        }
        cmd.arg("-o").arg(out).args(extra).arg(self.pattern)
    }

    /// Opens the cache slot of this build: keyed by the command with its output left out.
    fn slot(&self, extra: &[String]) -> Result<Slot> {
        Slot::open(&self.command(Path::new("OUT"), extra))
    }
}

impl GoDriver {
    /// Finds go, resolves `input` (a directory, a .go file or an import path) to its main
    /// package and decides whether cgo is needed; nothing is built yet, but with `early`
    /// a pure-Go build of a directory starts in the background while `go list` runs.
    pub(crate) fn new(
        input: &str,
        arch: Arch,
        tags: &[String],
        tzdata: bool,
        extra: &[String],
        early: bool,
    ) -> Result<GoDriver> {
        let go = spec("go").select(&Preference::default())?;
        let settings = settings();
        let mut all_tags = settings.build.tags.clone();
        all_tags
            .extend(tags.iter().flat_map(|t| t.split(',')).map(str::trim).filter(|t| !t.is_empty()).map(String::from));
        if tzdata {
            all_tags.push(settings.build.tzdata_tag.clone());
        }
        let remote = match crate::driver::go_remote::split(input) {
            Some((package, version)) => Some(crate::driver::go_remote::fetch(&go, package, version)?),
            None => None,
        };
        let (workdir, pattern) = match &remote {
            Some(r) => (r.list_dir(), r.package.clone()),
            None => locate_input(input)?,
        };
        // A directory or a file is the package's own directory, so the pure-Go build can start
        // now; an import path is placed by `go list` first.
        let speculation = (early && (pattern == "." || pattern.ends_with(".go")))
            .then(|| {
                let plan = BuildPlan {
                    go: &go,
                    settings: &settings,
                    arch,
                    tags: &all_tags,
                    workdir: &workdir,
                    pattern: &pattern,
                    package_dir: &workdir,
                    cgo: None,
                    remote: None,
                };
                speculate(&plan, extra)
            })
            .flatten();
        let package = resolve(&go, input, workdir, pattern, arch, &all_tags, &settings)?;
        let cgo = if package.cgo_packages.is_empty() { None } else { Some(cgo_compiler(arch, &package)?) };
        let speculation = Mutex::new(speculation.filter(|_| cgo.is_none()));
        let remote = match remote {
            Some(r) => {
                let version = r.resolved_version(&go)?;
                Some((r, version))
            }
            None => None,
        };
        Ok(GoDriver { go, package, arch, tags: all_tags, cgo, settings, remote, speculation })
    }

    fn plan(&self) -> BuildPlan<'_> {
        BuildPlan {
            go: &self.go,
            settings: &self.settings,
            arch: self.arch,
            tags: &self.tags,
            workdir: &self.package.workdir,
            pattern: &self.package.pattern,
            package_dir: &self.package.dir,
            cgo: self.cgo.as_ref(),
            remote: self.remote.as_ref(),
        }
    }

    /// The speculative build, when it runs exactly the command planned now; otherwise it is
    /// stopped and None.
    fn take_speculation(&self, extra: &[String]) -> Option<Speculation> {
        let spec = self.speculation.lock().unwrap_or_else(|e| e.into_inner()).take()?;
        if self.plan().command(&spec.slot.program(), extra) != spec.planned {
            spec.running.abandon();
            return None;
        }
        Some(spec)
    }

    /// Links the program in its cache slot — where go finds an unchanged one up to date and
    /// does not link it again — and copies it to `out`. Returns the command and whether it linked.
    fn build_cached(&self, out: &Path, extra: &[String], step: &str) -> Result<(Command, bool)> {
        let (cmd, slot, before) = match self.take_speculation(extra) {
            Some(spec) => {
                spec.running.wait(step)?;
                (spec.planned, spec.slot, spec.before)
            }
            None => {
                let plan = self.plan();
                let slot = plan.slot(extra)?;
                let cmd = plan.command(&slot.program(), extra);
                let before = identity(&slot.program());
                cmd.clone().env("GOTMPDIR", slot.tmp()).run(step)?;
                (cmd, slot, before)
            }
        };
        let built = slot.program();
        if !built.is_file() {
            return Err(Error::Build {
                step: step.to_string(),
                message: format!("go build reported success but wrote no {}", built.display()),
                help: Some("check the extra arguments after -- (they must not change -o)".into()),
            });
        }
        let linked = before.is_none() || identity(&built) != before;
        go_cache::deliver(&built, out)?;
        Ok((cmd, linked))
    }

    /// `go install PKG@VERSION` into the throwaway GOPATH, the program moved to `out`.
    fn install_remote(&self, remote: &(Remote, String), out: &Path, extra: &[String], step: &str) -> Result<Command> {
        let cmd = self.plan().command(out, extra);
        cmd.run(step)?;
        let installed = remote.0.installed(&self.package.name, self.arch.name()).ok_or_else(|| Error::Build {
            step: step.to_string(),
            message: format!(
                "go install reported success but wrote no {} under {}",
                self.package.name,
                remote.0.gopath().display()
            ),
            help: Some("check the extra arguments after --".into()),
        })?;
        std::fs::rename(&installed, out).map_err(|e| Error::io("move the built program to", out, e))?;
        Ok(cmd)
    }

    /// A sentence saying that, and how, cgo is used; None for pure Go.
    pub(crate) fn cgo_note(&self) -> Option<String> {
        let cc = self.cgo.as_ref()?;
        Some(format!(
            "{} needs C ({}): CGO_ENABLED=1 CC={} with -linkmode external -extldflags -static (musl)",
            self.package.import_path,
            self.package.cgo_packages.join(", "),
            cc.argv.join(" ")
        ))
    }

    fn go_version(&self) -> String {
        // "go version go1.22.1 linux/amd64" → "go1.22.1"
        self.go.version.split_whitespace().nth(2).unwrap_or(&self.go.version).to_string()
    }
}

impl Driver for GoDriver {
    fn tool(&self) -> crate::driver::Tool {
        let cgo = self.cgo.as_ref().map(|cc| format!(", cgo with {}", cc.argv.join(" "))).unwrap_or_default();
        crate::driver::Tool { driver: "go".into(), compiler: Some(format!("{}{cgo}", self.go_version())) }
    }

    fn build(&self, req: &BuildRequest, steps: &crate::progress::Steps) -> Result<Artifact> {
        let out = req.staging.join(&req.name);
        let step = format!("compile {} with go", self.package.import_path);
        let cmd = match &self.remote {
            Some(remote) => self.install_remote(remote, &out, &req.extra_args, &step)?,
            None => {
                let (cmd, linked) = self.build_cached(&out, &req.extra_args, &step)?;
                if !linked {
                    steps.step("go", format!("{}: unchanged, not linked again", self.package.import_path));
                }
                cmd
            }
        };
        let mut toolchain = format!("{} ({})", self.go_version(), self.arch.platform());
        if let Some((remote, version)) = &self.remote {
            toolchain.push_str(&format!(", go install {}@{version}", remote.package));
        }
        let mut target = format!("{}-linux", self.arch.uname());
        if let Some(cc) = &self.cgo {
            toolchain.push_str(&format!(", cgo via {} -static", cc.name));
            target.push_str("-musl");
        }
        Ok(Artifact {
            path: out,
            lang: "go".into(),
            target,
            toolchain_used: toolchain,
            command: cmd.summary(),
            warnings: Vec::new(),
            companions: None,
            on_runtime: None,
            package_dirs: Vec::new(),
            archives: Vec::new(),
        })
    }
}

/// Runs `go list -deps -json` on `input` and finds its main package and its cgo users.
fn resolve(
    go: &Compiler,
    input: &str,
    workdir: PathBuf,
    pattern: String,
    arch: Arch,
    tags: &[String],
    s: &GoSettings,
) -> Result<MainPackage> {
    let mut env = s.build.env.clone();
    // Listed with cgo on, so packages that need C show their CgoFiles instead of hiding them.
    env.insert("CGO_ENABLED".into(), "1".into());
    env.insert("GOARCH".into(), arch.name().into());
    let cmd = with_env(Command::from_argv(&go.argv).dir(&workdir), env)
        // Only the fields read below: go list then skips computing the rest (build IDs,
        // staleness, embed patterns), which is most of its time on a warm cache.
        .args(["list", "-deps", LIST_FIELDS, "-tags"])
        .arg(tags.join(","))
        .arg(&pattern);
    let step = format!("find the Go package {input}");
    let out = cmd.run(&step).map_err(|e| classify_list_error(e, input))?;
    let packages: Vec<ListedPackage> = serde_json::Deserializer::from_str(&out.stdout)
        .into_iter::<ListedPackage>()
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Build {
            step: step.clone(),
            message: format!("could not read `go list -json` output: {e}"),
            help: None,
        })?;
    let roots: Vec<&ListedPackage> = packages.iter().filter(|p| !p.dep_only).collect();
    let root = match roots.as_slice() {
        [] => return Err(not_a_package(input, "no Go package matched")),
        [one] => *one,
        many => {
            let mains: Vec<&str> = many.iter().filter(|p| p.name == "main").map(|p| p.import_path.as_str()).collect();
            return Err(Error::usage(
                format!("{input} matches {} packages", many.len()),
                format!("pass one main package{}", suggest(&mains)),
            ));
        }
    };
    if root.name != "main" {
        return Err(Error::input(
            input,
            format!("{} is package {}, not a main package — there is no program to build", root.import_path, root.name),
            Some("point at the directory that holds `package main` (often ./cmd/NAME)".into()),
        ));
    }
    let cgo_packages =
        packages.iter().filter(|p| !p.standard && !p.cgo_files.is_empty()).map(|p| p.import_path.clone()).collect();
    Ok(MainPackage {
        workdir,
        pattern,
        import_path: root.import_path.clone(),
        dir: PathBuf::from(&root.dir),
        name: exec_name(&root.import_path, &root.go_files),
        cgo_packages,
    })
}

/// Starts the pure-Go build of `plan` in its cache slot; None if it cannot start (the build
/// then runs the ordinary way, and reports the problem itself).
fn speculate(plan: &BuildPlan, extra: &[String]) -> Option<Speculation> {
    let slot = plan.slot(extra).ok()?;
    let planned = plan.command(&slot.program(), extra);
    let before = identity(&slot.program());
    // go's work files go into the slot too: the linked program is renamed into place (never
    // half-written), and a build stopped half-way leaves nothing behind in /tmp.
    let running = planned.clone().env("GOTMPDIR", slot.tmp()).start("compile with go").ok()?;
    Some(Speculation { planned, running, slot, before })
}

/// Sets each variable once (a variable set twice on one command has no clear winner).
fn with_env(mut cmd: Command, env: BTreeMap<String, String>) -> Command {
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    cmd
}

fn suggest(mains: &[&str]) -> String {
    if mains.is_empty() { String::new() } else { format!(", e.g. {}", mains.join(" or ")) }
}

/// Where `go` runs and what it is given: a directory runs there with ".", a .go file in its
/// directory, anything else is an import path resolved from the current directory.
fn locate_input(input: &str) -> Result<(PathBuf, String)> {
    let p = Path::new(input);
    if p.is_dir() {
        return Ok((p.to_path_buf(), ".".into()));
    }
    if p.is_file() {
        if p.extension().is_some_and(|e| e == "go") {
            let dir = p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            let file = p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
            return Ok((dir.to_path_buf(), file));
        }
        return Err(not_a_package(input, "is a file, not a Go package directory or .go file"));
    }
    if input.starts_with('.') || input.starts_with('/') {
        return Err(Error::input(
            p,
            "no such directory",
            Some("pass the directory of a Go main package, e.g. staticize go ./cmd/server".into()),
        ));
    }
    Ok((PathBuf::from("."), input.to_string()))
}

fn not_a_package(input: &str, why: &str) -> Error {
    Error::input(
        input,
        format!("not a Go package: {why}"),
        Some("pass a directory with a go.mod and a `package main` (go mod init NAME creates the go.mod)".into()),
    )
}

/// `go list` failures that mean "this is not a Go package" become input errors with go's words;
/// anything else (syntax errors, missing modules) stays a build failure.
fn classify_list_error(e: Error, input: &str) -> Error {
    const NOT_A_PACKAGE: &[&str] = &[
        "no Go files in",
        "go.mod file not found",
        "directory not found",
        "is not in std",
        "cannot find main module",
        "does not contain main module",
        "outside main module",
        "matched no packages",
    ];
    match &e {
        Error::CommandFailed { stderr, .. } if NOT_A_PACKAGE.iter().any(|m| stderr.contains(m)) => {
            let first = stderr.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
            not_a_package(input, &first)
        }
        _ => e,
    }
}

/// The executable name `go build` gives a main package: the last element of its import path,
/// skipping a major-version suffix (`example.com/tool/v2` → "tool"); for files, the first file.
fn exec_name(import_path: &str, go_files: &[String]) -> String {
    if import_path == "command-line-arguments" {
        if let Some(f) = go_files.first() {
            return f.trim_end_matches(".go").to_string();
        }
    }
    let elems: Vec<&str> = import_path.split('/').collect();
    let last = elems.last().copied().unwrap_or(import_path);
    let is_major = last.len() > 1 && last.starts_with('v') && last[1..].chars().all(|c| c.is_ascii_digit());
    if is_major && elems.len() > 1 { elems[elems.len() - 2].to_string() } else { last.to_string() }
}

/// True when `dir` is inside a checkout `go build` would stamp (-buildvcs).
fn in_vcs_checkout(dir: &Path) -> bool {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    dir.ancestors().any(|d| [".git", ".hg", ".svn", ".bzr", ".fossil"].iter().any(|v| d.join(v).exists()))
}

/// The C compiler for cgo: musl-gcc or zig for the host, zig for another architecture.
fn cgo_compiler(arch: Arch, pkg: &MainPackage) -> Result<CgoCompiler> {
    let cross = arch != Arch::host();
    let pref =
        Preference { compiler: cross.then(|| "zig".to_string()), libc: Some("musl".into()), ..Default::default() };
    let c = spec("c").select(&pref).map_err(|e| match e {
        Error::ToolMissing { hint, .. } => Error::ToolMissing {
            tool: format!("a static C compiler for cgo ({})", if cross { "zig" } else { "musl-gcc or zig" }),
            hint: format!(
                "{} uses C ({}), and nothing here can link it statically for linux/{}: {hint}",
                pkg.import_path,
                pkg.cgo_packages.join(", "),
                arch.name()
            ),
        },
        other => other,
    })?;
    let zig = c.name == "zig" || c.argv.iter().any(|a| a == "zig" || a == "ziglang");
    // toolchains/c.toml fills zig's -target with the host's triple; cgo needs the target's.
    let host = Arch::host().zig_target();
    let argv = c.argv.iter().map(|a| if *a == host { arch.zig_target() } else { a.clone() }).collect();
    Ok(CgoCompiler { name: c.name, argv, zig })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_names_follow_go() {
        assert_eq!(exec_name("example.com/hello", &[]), "hello");
        assert_eq!(exec_name("example.com/tool/v2", &[]), "tool");
        assert_eq!(exec_name("hello", &[]), "hello");
        assert_eq!(exec_name("v2", &[]), "v2");
        assert_eq!(exec_name("command-line-arguments", &["main.go".into()]), "main");
    }

    #[test]
    fn settings_parse() {
        let s = settings();
        assert!(s.build.ldflags.contains(&"-s".to_string()));
        assert_eq!(s.build.env.get("CGO_ENABLED").map(String::as_str), Some("0"));
        assert_eq!(s.cgo.extldflags, ["-static"]);
    }

    #[test]
    fn list_errors_become_input_errors() {
        let e = Error::CommandFailed {
            step: "find".into(),
            command: "go list".into(),
            status: "exited with status 1".into(),
            stderr: "no Go files in /tmp/x".into(),
        };
        let e = classify_list_error(e, "/tmp/x");
        assert_eq!(e.exit_code(), crate::error::EXIT_IO);
        assert!(e.to_string().contains("not a Go package: no Go files in /tmp/x"), "{e}");
    }
}
