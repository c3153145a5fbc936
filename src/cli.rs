//! The command line, as clap derive structs: one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Exit codes, shown under --help.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  a verdict failed (not static, over budget, unresolved libraries)
  2  usage error (unknown flag, bad value)
  3  a toolchain is missing or a build failed
  4  input/output problem (missing or unreadable file, unwritable output, a registry that is
     down or refuses)";

/// staticize: the smallest thing that runs — a checked static executable and a single-file
/// FROM-scratch image that `docker load` and `podman load` accept.
#[derive(Debug, Parser)]
#[command(name = "staticize", version, about, after_help = EXIT_CODES_HELP, propagate_version = true)]
pub struct Cli {
    /// Print results as JSON on stdout (steps are not printed).
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build C sources into a static executable and a scratch image.
    #[command(after_help = EXIT_CODES_HELP)]
    C(CArgs),
    /// Build C++ sources into a static executable and a scratch image.
    #[command(after_help = EXIT_CODES_HELP)]
    Cxx(CArgs),
    /// Put an executable you already have into a scratch image (it must be static).
    #[command(after_help = EXIT_CODES_HELP)]
    Image(ImageCmdArgs),
    /// Judge files from their ELF headers (static, static-pie or dynamic), or check that every
    /// executable in an image archive or root directory has its libraries inside it.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(CheckArgs),
    /// List the toolchains found, their versions, and how to install the missing ones.
    Doctor(DoctorArgs),
    /// Put a dynamic program into a scratch image with the libraries it loads (its closure).
    #[command(after_help = EXIT_CODES_HELP)]
    Bundle(BundleArgs),
    /// Check size budgets from staticize.toml (for CI and pre-commit); exit 1 when one fails.
    #[command(after_help = GATE_HELP)]
    Gate(GateArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
    /// Show an image archive: names, platforms, digests, config, history, layers, files and
    /// the bytes wasted by files later layers overwrite or delete.
    #[command(after_help = INSPECT_HELP)]
    Inspect(InspectArgs),
    /// Push an image archive already on disk to a registry (OCI distribution API).
    #[command(after_help = PUSH_HELP)]
    Push(PushArgs),
    /// Sign an image in a registry with a private key, as cosign reads it (the
    /// sha256-DIGEST.sig tag), and attest its provenance (sha256-DIGEST.att) with --provenance;
    /// or sign an archive's provenance into NAME.intoto.jsonl beside it.
    #[command(after_help = SIGN_HELP)]
    Sign(SignArgs),
    /// Verify an image in a registry or an archive: its signature and its signed provenance,
    /// with a public key; with --rebuild, build it again from the provenance and compare.
    #[command(after_help = VERIFY_HELP)]
    Verify(VerifyArgs),
    /// Build a Go main package into a static executable and a scratch image.
    #[command(after_help = EXIT_CODES_HELP)]
    Go(GoArgs),
    /// Build a Cargo bin target into a static executable and a scratch image.
    #[command(after_help = EXIT_CODES_HELP)]
    Rust(RustArgs),
    /// Turn a Node.js program into a single executable (node + its script) and an image that
    /// carries it with its library closure.
    #[command(after_help = EXIT_CODES_HELP)]
    Node(NodeArgs),
    /// Build a project with its own build system (make, configure, CMake, Meson) statically,
    /// then check and image the executables it produced.
    #[command(after_help = BUILD_HELP)]
    Build(BuildArgs),
    /// A drop-in C compiler for build systems (CC="staticize cc", or the staticize-cc symlink):
    /// links of executables come out static; every other call passes through.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Cc(CcArgs),
    /// A drop-in C++ compiler for build systems (CXX="staticize c++", or staticize-c++).
    #[command(name = "c++", disable_help_flag = true, disable_version_flag = true)]
    CPlusPlus(CcArgs),
    /// Merge the layers of an existing image (all, or from one on) into one: overwritten and
    /// deleted files dropped, owners, modes, links and file capabilities kept.
    #[command(after_help = EXIT_CODES_HELP)]
    Squash(SquashArgs),
    /// Make a scratch image from an existing image without running it: its entrypoint program
    /// and --program ones with their library closures (resolved inside the image), plus --keep
    /// paths; the run config carries over.
    #[command(after_help = EXIT_CODES_HELP)]
    Slim(SlimArgs),
    /// Pack a dynamic program, its loader and libraries into one static executable that runs
    /// from memory (no /tmp, read-only roots), and a scratch image holding only that file.
    #[command(after_help = PACK_HELP)]
    Pack(PackArgs),
    /// Libraries built static for musl from their Debian sources (what --dep uses): list the
    /// recipes and the cache, build ahead, print a library's prefix, clean the cache.
    #[command(after_help = DEPS_HELP)]
    Deps(DepsArgs),
    /// What staticize keeps between runs (compressed layers, objects, built libraries, crates,
    /// downloads): list each cache with its size, or empty them.
    Cache(CacheArgs),
}

/// Which C library to link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Libc {
    /// musl: small, and resolves users and hosts without dlopen.
    Musl,
    /// glibc: always present, larger, NSS needs shared libraries at run time.
    Glibc,
}

impl Libc {
    /// The name used in toolchain files.
    pub fn name(self) -> &'static str {
        match self {
            Libc::Musl => "musl",
            Libc::Glibc => "glibc",
        }
    }
}

/// The compiler choice of every command that runs a C or C++ compiler (c, cxx, build, deps).
#[derive(Debug, Clone, Args)]
pub struct ToolchainArgs {
    /// The C library to link (default: the first compiler found decides; musl first for C).
    #[arg(long, value_enum)]
    pub libc: Option<Libc>,
    /// The compiler to use: musl-gcc, zig or gcc (C); g++ or zig (C++).
    #[arg(long, value_name = "NAME")]
    pub compiler: Option<String>,
    /// Optimise for size (default) or speed.
    #[arg(long, value_enum, default_value_t = ProfileArg::Size)]
    pub profile: ProfileArg,
}

impl ToolchainArgs {
    /// The domain's compiler preference.
    pub(crate) fn preference(&self) -> crate::toolchain::Preference {
        crate::toolchain::Preference {
            compiler: self.compiler.clone(),
            libc: self.libc.map(|l| l.name().to_string()),
            profile: self.profile.into(),
        }
    }
}

/// What goes into an image besides the program: its name, paths and run configuration.
/// Every command that writes an image takes these.
#[derive(Debug, Clone, Args, Default)]
pub struct ImageOptions {
    /// The image name, NAME[:TAG] (default: the program's name, tag latest).
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tag: Option<String>,
    /// Where the program goes inside the image (default: /NAME).
    #[arg(long, value_name = "/DEST/NAME")]
    pub path: Option<String>,
    // Run configuration, contents and destinations (issue 3); parsed in commands::options.
    /// Entrypoint, exec form: repeat the flag once per word, or give one JSON array
    /// (--entrypoint '["/app","-v"]'); '[]' clears it (default: the program).
    #[arg(long, value_name = "WORD|JSON", allow_hyphen_values = true, help_heading = "Image config")]
    pub entrypoint: Vec<String>,
    /// Default arguments, exec form: repeat the flag once per word (--cmd -p --cmd 80) or give
    /// one JSON array (--cmd '["-p","80"]').
    #[arg(long, value_name = "WORD|JSON", allow_hyphen_values = true, help_heading = "Image config")]
    pub cmd: Vec<String>,
    /// An environment variable (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Image config")]
    pub env: Vec<String>,
    /// The working directory (created in the image).
    #[arg(long, value_name = "/DIR", help_heading = "Image config")]
    pub workdir: Option<String>,
    /// The user to run as: NAME (needs --with passwd, e.g. nonroot) or UID[:GID].
    #[arg(long, value_name = "NAME|UID[:GID]", help_heading = "Image config")]
    pub user: Option<String>,
    /// A port the program listens on (repeatable).
    #[arg(long, value_name = "PORT[/tcp|/udp]", help_heading = "Image config")]
    pub expose: Vec<String>,
    /// A label (repeatable).
    #[arg(long, value_name = "KEY=VALUE", help_heading = "Image config")]
    pub label: Vec<String>,
    /// The signal that stops the container: SIGTERM, TERM, 15, SIGRTMIN+3.
    #[arg(long, value_name = "SIGNAL", help_heading = "Image config")]
    pub stop_signal: Option<String>,
    /// Put a file or directory into the image (repeatable). Parents are created; symlinks inside
    /// a directory stay symlinks and are never followed. MODE (octal) applies to files.
    #[arg(long, value_name = "SRC:DEST[:MODE]", help_heading = "Image contents")]
    pub add: Vec<String>,
    /// Add what scratch lacks (repeatable): certs[=BUNDLE], tzdata[=Zone,Zone], passwd, tmp,
    /// busybox.
    #[arg(long = "with", value_name = "EXTRA", help_heading = "Image contents")]
    pub with: Vec<String>,
    /// Platforms to build for, comma-separated (default: the program's own).
    #[arg(long, value_name = "OS/ARCH,…", value_delimiter = ',', help_heading = "Image output")]
    pub platform: Vec<String>,
    /// Compression, SBOM and where else the image goes.
    #[command(flatten)]
    pub image_output: ImageOutput,
}

/// How an image is written and where else it goes: every command that writes an image (the
/// build commands, image, bundle, slim, pack, squash) takes these.
#[derive(Debug, Clone, Args, Default)]
pub struct ImageOutput {
    /// Layer compression: gzip (parallel, every core), zstd (multi-threaded) or none.
    #[arg(long, value_enum, default_value_t = CompressArg::Gzip, help_heading = "Image output")]
    pub compress: CompressArg,
    /// How the image is cut into layers: auto (libraries by package, then the --with extras,
    /// then the program and its files on top, so unchanged layers are not pushed again) or
    /// single (everything in one layer).
    #[arg(long, value_enum, default_value_t = LayersArg::Auto, help_heading = "Image output")]
    pub layers: LayersArg,
    /// Also write the image as an OCI layout directory (replaced if it is one already).
    #[arg(long, value_name = "DIR", help_heading = "Image output")]
    pub oci_dir: Option<PathBuf>,
    /// Also load the image into docker or podman (default: whichever answers, docker first).
    #[arg(long, value_name = "ENGINE", num_args = 0..=1, default_missing_value = "auto",
          value_parser = ["auto", "docker", "podman"], help_heading = "Image output")]
    pub load: Option<String>,
    /// Also push the image to a registry, e.g. 127.0.0.1:5000/team/app:v1 (plain HTTP for
    /// localhost and 127.0.0.1; credentials from REGISTRY_AUTH_FILE or ~/.docker/config.json).
    #[arg(long, value_name = "REF", help_heading = "Image output")]
    pub push: Option<String>,
    /// The SBOM written beside the image (NAME.spdx.json or NAME.cdx.json) and attached on
    /// --push: spdx (SPDX 2.3 JSON) or cyclonedx (CycloneDX 1.5 JSON).
    #[arg(long, value_enum, default_value_t = SbomFormat::Spdx, help_heading = "Image output")]
    pub sbom_format: SbomFormat,
    /// Write no SBOM (nor attach one on --push).
    #[arg(long, help_heading = "Image output")]
    pub no_sbom: bool,
    /// The cache registry compressed layers (and --dep libraries) are shared through.
    #[command(flatten)]
    pub cache: CacheRegistryArgs,
    /// Sign the provenance (NAME.intoto.jsonl beside the archive) and, with --push, the pushed
    /// image and its provenance, with this ECDSA P-256 or Ed25519 private key (PEM, PKCS#8 or SEC1,
    /// unencrypted), as `cosign verify --key` and `cosign verify-attestation` read them.
    #[arg(long, value_name = "KEY", help_heading = "Image output")]
    pub sign: Option<PathBuf>,
    /// Print the plan — what would be built, by which tool, where each file goes, the image's
    /// layers, the destinations and the checks (steps, or JSON with --json) — and do nothing
    /// else: nothing is built, written or created.
    #[arg(long)]
    pub plan: bool,
    /// The proof run's arguments: after it is written, the output runs inside its own files
    /// with these replacing the image's command; repeat once per word (--probe --version) or
    /// give one JSON array (--probe '["-c","print(1)"]'). Default: the image's own command.
    #[arg(long, value_name = "WORD|JSON", allow_hyphen_values = true, help_heading = "Proof run")]
    pub probe: Vec<String>,
    /// How long the proof run may take (default 2); still running then is a server staying up.
    #[arg(long, value_name = "SECS", help_heading = "Proof run")]
    pub probe_timeout: Option<f64>,
    /// A TCP port the program must answer on, inside its own network namespace, by the limit.
    #[arg(long, value_name = "PORT", help_heading = "Proof run")]
    pub probe_port: Option<u16>,
    /// Do not run the output (the verdict is then the closure check's alone).
    #[arg(long, conflicts_with_all = ["probe", "probe_timeout", "probe_port"], help_heading = "Proof run")]
    pub no_probe: bool,
}

/// `--sbom-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum SbomFormat {
    /// SPDX 2.3 JSON.
    #[default]
    Spdx,
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
}

impl ImageOutput {
    /// The SBOM format asked for, None for `--no-sbom`.
    pub fn sbom(&self) -> Option<crate::sbom::Format> {
        match (self.no_sbom, self.sbom_format) {
            (true, _) => None,
            (false, SbomFormat::Spdx) => Some(crate::sbom::Format::Spdx),
            (false, SbomFormat::Cyclonedx) => Some(crate::sbom::Format::CycloneDx),
        }
    }
}

/// Where a build command writes its image.
#[derive(Debug, Clone, Args, Default)]
pub struct ImageArgs {
    /// Where to write the image archive (default: the binary's path + ".tar").
    #[arg(long, value_name = "PATH", conflicts_with = "no_image")]
    pub image: Option<PathBuf>,
    /// Build the binary only; write no image.
    #[arg(long)]
    pub no_image: bool,
    /// Image contents and configuration.
    #[command(flatten)]
    pub options: ImageOptions,
}

/// The registry repository compressed layers and `--dep` libraries are shared through (every
/// command that writes an image or takes --dep).
#[derive(Debug, Clone, Default, Args)]
pub struct CacheRegistryArgs {
    /// Share --dep libraries and compressed image layers through this registry repository
    /// (HOST/REPO): looked up and pulled before building or compressing, pushed after; a
    /// failing registry only means a local build.
    /// Default: [cache] registry in staticize.toml. Credentials as for push.
    #[arg(long, value_name = "HOST/REPO", env = "STATICIZE_CACHE_REGISTRY")]
    pub cache_registry: Option<String>,
    /// Pull from the cache registry but never push to it (for untrusted jobs).
    #[arg(long, env = "STATICIZE_CACHE_REGISTRY_READONLY")]
    pub cache_registry_readonly: bool,
}

/// `staticize c` and `staticize cxx`.
#[derive(Debug, Clone, Args)]
pub struct CArgs {
    /// Source files; the first one names the output.
    #[arg(required = true, value_name = "SRC")]
    pub sources: Vec<PathBuf>,
    /// The executable to write (default: ./NAME).
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The C or C++ compiler, its C library and profile.
    #[command(flatten)]
    pub toolchain: ToolchainArgs,
    /// Add an include directory (passed to the compiler as -IDIR).
    #[arg(short = 'I', value_name = "DIR")]
    pub include: Vec<String>,
    /// Define a macro (passed as -DNAME[=VALUE]).
    #[arg(short = 'D', value_name = "NAME[=VALUE]")]
    pub define: Vec<String>,
    /// Add a library search directory (passed as -LDIR).
    #[arg(short = 'L', value_name = "DIR")]
    pub libdir: Vec<String>,
    /// Link a library (passed as -lNAME).
    #[arg(short = 'l', value_name = "NAME")]
    pub lib: Vec<String>,
    /// Libraries to build static for the compiler (once, cached) and link: a recipe name, or
    /// several separated by commas (`staticize deps list`). Default: [deps] in ./staticize.toml.
    #[arg(long = "dep", value_name = "NAME[,NAME…]", env = "STATICIZE_DEPS")]
    pub deps: Vec<String>,
    /// When the compile or link fails on a header or library a recipe provides, add that
    /// recipe as a --dep and try again.
    #[arg(long)]
    pub auto_deps: bool,
    /// Image options (the cache registry of --dep libraries among them).
    #[command(flatten)]
    pub image: ImageArgs,
    /// Extra compiler and linker arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub extra: Vec<String>,
}

/// `staticize image`.
#[derive(Debug, Clone, Args)]
pub struct ImageCmdArgs {
    /// The static executable to package (its ELF header gives the platform).
    #[arg(value_name = "BINARY", required_unless_present = "binaries")]
    pub binary: Option<PathBuf>,
    /// One executable per platform for a multi-platform image (repeatable).
    #[arg(long = "binary", id = "binaries", value_name = "OS/ARCH=PATH")]
    pub binaries: Vec<String>,
    /// Where to write the image archive (default: ./NAME.tar).
    #[arg(short = 'o', long, value_name = "IMAGE.tar")]
    pub output: Option<PathBuf>,
    /// Image contents and configuration.
    #[command(flatten)]
    pub options: ImageOptions,
    /// Put the executable in as it is, symbols and all (by default a stripped copy goes in;
    /// the file on disk is never changed).
    #[arg(long)]
    pub no_strip: bool,
    /// Make a packed node single executable PID 1 itself (by default it starts under
    /// staticize's minimal init, as in `staticize node`'s image: node ignores SIGTERM as PID 1).
    #[arg(long)]
    pub no_init: bool,
}

/// `staticize check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// ELF files to judge, image archives (.tar) or unpacked root directories to look inside.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Do not fail on dynamic executables (still fail on non-executables).
    #[arg(long, conflicts_with = "require_static")]
    pub allow_dynamic: bool,
    /// Require static executables (the default; spelled out for hook configs).
    #[arg(long = "static")]
    pub require_static: bool,
    /// Fail files larger than SIZE: "64 KiB", "1.5 MB", "94kB" or bytes (kB = 1000, KiB = 1024).
    #[arg(long, value_name = "SIZE")]
    pub max_size: Option<crate::gate::size::Size>,
    /// Walk directories and judge every ELF file below them; other files are skipped silently.
    #[arg(short = 'r', long)]
    pub recursive: bool,
    /// Images: stop unpacking when the ELF objects written exceed SIZE (default 4 GiB; only
    /// ELF objects, links and directories are written, other files as empty names).
    #[arg(long, value_name = "SIZE")]
    pub max_unpacked: Option<crate::gate::size::Size>,
    /// Images and root directories: also run the program inside their own files (read-only,
    /// no network, a time limit) and report how it ended and what it looked for and lacked.
    #[arg(long)]
    pub run: bool,
    /// With --run: how long the program may run (default 5); still running then is a server
    /// staying up.
    #[arg(long, value_name = "SECS", requires = "run")]
    pub timeout: Option<f64>,
    /// With --run: a TCP port the program must answer on (inside its namespace) by the limit.
    #[arg(long, value_name = "PORT", requires = "run")]
    pub port: Option<u16>,
    /// With --run: the command to run instead of the image's own (after its entrypoint, as
    /// `docker run IMAGE ARGS`); for a root directory, the whole command.
    #[arg(last = true, value_name = "ARGS", requires = "run")]
    pub args: Vec<String>,
}

/// `staticize doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {}

/// `staticize bundle`.
#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// The dynamic executable to carry into the image with its libraries.
    #[arg(value_name = "BINARY")]
    pub binary: PathBuf,
    /// Where to write the image archive (default: ./NAME.tar).
    #[arg(short = 'o', long, value_name = "IMAGE.tar")]
    pub output: Option<PathBuf>,
    /// A library the program dlopen()s that no .note.dlopen names: a soname (searched as the
    /// program would) or a path (repeatable).
    #[arg(long = "lib", value_name = "NAME|PATH")]
    pub lib: Vec<String>,
    /// Write the image even when some libraries cannot be found (they are listed).
    #[arg(long)]
    pub allow_missing: bool,
    /// Do not carry an interpreter's standard library (python3, perl, ruby, lua carry theirs
    /// by default, with the libraries of its extension modules).
    #[arg(long)]
    pub no_stdlib: bool,
    /// Do not carry the plugin directories the carried libraries name in their strings
    /// (ImageMagick's coders, GStreamer's elements, gconv for iconv_open callers, SASL, PAM);
    /// they are carried by default, each module with its closure.
    #[arg(long)]
    pub no_plugins: bool,
    /// Also carry the files of the package that owns the program (dpkg): configuration, data,
    /// helper programs and modules, each ELF with its closure.
    #[arg(long)]
    pub package_files: bool,
    /// Also carry the files of this installed package, with every ELF's closure (repeatable).
    #[arg(long = "package", value_name = "NAME")]
    pub packages: Vec<String>,
    /// Run the program once, with the arguments after --, under strace in a throwaway working
    /// directory, and also carry every file it opened or executed (never done without this
    /// flag). The arguments become the image's default command unless --cmd is given.
    #[arg(long)]
    pub trace: bool,
    /// The arguments of the traced run (`bundle PROGRAM --trace -- ARGS…`).
    #[arg(last = true, value_name = "ARGS")]
    pub trace_args: Vec<String>,
    /// Image contents and configuration.
    #[command(flatten)]
    pub options: ImageOptions,
}

/// The budget keys, shown under `staticize gate --help`.
pub const GATE_HELP: &str = "\
staticize.toml (paths and builds are relative to its directory):
  [[budget]]
  name = \"hello\"                          # unique; the key in staticize.lock
  build = \"c examples/hello-c/hello.c\"    # optional staticize command run first
  binary = \"hello\"                        # or: image = \"hello.tar\"
  max = \"8 KiB\"                           # file size; kB/KB/MB = 1000s, KiB/MiB = 1024s
  static = true                           # binary (or every ELF in the image) is static
  max-growth = \"5%\"                       # or \"512 B\"; against staticize.lock
  max-compressed = \"6 KiB\"                # images: layer blobs as pulled
  max-uncompressed = \"20 KiB\"             # images: layers unpacked
  max-files = 3                           # images: files and symlinks in the layers

Exit codes:
  0  every budget passes
  1  a budget failed (over a limit, grew too much, not static)
  2  usage error
  3  a build command failed
  4  the config, baseline or a measured file is missing or invalid";

/// `staticize gate`.
#[derive(Debug, Clone, Args)]
pub struct GateArgs {
    /// The budgets file.
    #[arg(long, value_name = "FILE", default_value = "staticize.toml")]
    pub config: PathBuf,
    /// Record the measured sizes in staticize.lock (beside the config) when the absolute limits
    /// pass; growth is not judged.
    #[arg(long)]
    pub update_baseline: bool,
}

/// `staticize completions`.
#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to print a completion script for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `staticize man`.
#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write staticize.1 and one staticize-COMMAND.1 per command into DIR instead of printing.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Extra help for `staticize inspect`.
pub const INSPECT_HELP: &str = "\
Reads staticize's own tars, OCI layout directories, and docker save / podman save output
(docker-archive or oci-archive). Reading is safe on hostile archives: nothing is written,
memory stays bounded, absolute and '..' names and links leaving the archive are reported and
never followed.

Exit codes:
  0  the archive was read and nothing is wrong with it
  1  problems were found (unsafe names, digest mismatches); everything else is still shown
  2  usage error
  4  the file is missing or is not an image archive";

/// Extra help for `staticize push`.
pub const PUSH_HELP: &str = "\
Registries on localhost / 127.0.0.1 are spoken to over plain HTTP, all others over HTTPS.
Credentials come from REGISTRY_AUTH_FILE, ${XDG_RUNTIME_DIR}/containers/auth.json or
$DOCKER_CONFIG/config.json (~/.docker/config.json): auths.<host>.auth = base64(user:password).
Blobs the registry already has are skipped.

Exit codes:
  0  pushed
  2  usage error (bad reference)
  4  the archive is unreadable, or the registry is down, refused the credentials or failed";

/// `staticize inspect`.
#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// The image: a tar (staticize, docker save, podman save) or an OCI layout directory.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// List every path of every layer with its mode and size.
    #[arg(long)]
    pub files: bool,
    /// Print the packages the image declares (its /var/lib/dpkg/status.d records).
    #[arg(long)]
    pub sbom: bool,
}

/// `staticize push`.
#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// The image archive (or OCI layout directory) to push.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// Where to: [REGISTRY/]REPOSITORY[:TAG], e.g. 127.0.0.1:5000/team/app:v1.
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Do not attach the SBOM found beside the image (NAME.spdx.json or NAME.cdx.json).
    #[arg(long)]
    pub no_sbom: bool,
    /// Sign the pushed image, and its provenance (NAME.provenance.json beside the image),
    /// with this ECDSA P-256 or Ed25519 private key (PEM, PKCS#8 or SEC1, unencrypted).
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// `staticize sign`.
#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// The image: REGISTRY/REPOSITORY[:TAG], e.g. 127.0.0.1:5000/team/app:v1, or an archive
    /// (NAME.tar, its NAME.provenance.json beside it).
    #[arg(value_name = "REF|ARCHIVE")]
    pub reference: String,
    /// The ECDSA P-256 or Ed25519 private key (PEM: PKCS#8 PRIVATE KEY, or SEC1 EC PRIVATE KEY; unencrypted).
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Also attest this provenance statement (NAME.provenance.json); its subject must be the image.
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
}

/// Extra help for `staticize sign`.
pub const SIGN_HELP: &str = "\
No transparency log and no network beyond the registry: the key alone signs. Make a key with
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out key.pem
  openssl pkey -in key.pem -pubout -out key.pub
and check with cosign verify --key key.pub --insecure-ignore-tlog=true REF.

Exit codes:
  0  signed
  2  usage error (bad reference)
  4  the key, the provenance or the registry failed";

/// `staticize verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The image: REGISTRY/REPOSITORY[:TAG], or an archive (NAME.tar, its NAME.intoto.jsonl
    /// beside it).
    #[arg(value_name = "REF|ARCHIVE")]
    pub reference: String,
    /// The ECDSA P-256 or Ed25519 public key (PEM: PUBLIC KEY).
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
    /// Also build the image again from its signed provenance and compare the digests.
    #[arg(long)]
    pub rebuild: bool,
    /// Where the sources the provenance records are, for --rebuild (default: here).
    #[arg(long, value_name = "DIR", default_value = ".", requires = "rebuild")]
    pub source: PathBuf,
}

/// Extra help for `staticize verify`.
pub const VERIFY_HELP: &str = "\
Checks that the key verifies a signature of the image's manifest digest (sha256-DIGEST.sig)
and a signed SLSA provenance whose subject is that digest (sha256-DIGEST.att). For an archive:
that the key verifies NAME.intoto.jsonl beside it and its subject is the archive's digest.
With --rebuild, the command the provenance records runs again (in a temporary directory, its
sources read from --source and checked by digest first) and the new digest must be the same.

Exit codes:
  0  verified
  1  not verified: unsigned, a wrong key, a manifest changed after signing, no provenance,
     or the rebuild gave another digest (or its sources differ)
  2  usage error (bad reference)
  3  the rebuild failed
  4  the key is unreadable, the image is missing, or the registry failed";

/// `staticize go`.
#[derive(Debug, Clone, Args)]
pub struct GoArgs {
    /// The main package: a directory, a .go file or an import path.
    #[arg(value_name = "PKG|DIR", default_value = ".")]
    pub package: String,
    /// The executable to write (default: ./NAME, NAME from the package). With several
    /// platforms, OUT-ARCH for each.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Extra build tags (comma-separated), added to netgo,osusergo.
    #[arg(long, value_name = "T", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Embed Go's time zone database (-tags timetzdata): scratch has no /usr/share/zoneinfo.
    #[arg(long)]
    pub tzdata: bool,
    /// Image options; their `--platform linux/amd64,linux/arm64` cross-compiles (several give
    /// one binary per platform, OUT-ARCH, and one multi-platform image).
    #[command(flatten)]
    pub image: ImageArgs,
    /// Extra `go build` arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub extra: Vec<String>,
}

/// `staticize rust`.
#[derive(Debug, Clone, Args)]
pub struct RustArgs {
    /// The Cargo package or workspace: a directory or a Cargo.toml; or NAME@VERSION, a crate
    /// from crates.io built like `cargo install NAME@VERSION --locked` (in $STATICIZE_CACHE/crates;
    /// VERSION may be a requirement such as ^1.2, or latest).
    #[arg(value_name = "PATH|NAME@VERSION", default_value = ".")]
    pub project: PathBuf,
    /// The executable to write (default: ./BIN). With several platforms, OUT-ARCH for each.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The bin target to build (needed when there are several).
    #[arg(long, value_name = "NAME")]
    pub bin: Option<String>,
    /// Cargo features to enable (comma-separated).
    #[arg(short = 'F', long, value_name = "F", value_delimiter = ',')]
    pub features: Vec<String>,
    /// Enable every feature.
    #[arg(long)]
    pub all_features: bool,
    /// Do not enable the default feature.
    #[arg(long)]
    pub no_default_features: bool,
    /// The C library (default: musl when its Rust target is installed, else static glibc).
    #[arg(long, value_enum)]
    pub libc: Option<Libc>,
    /// Optimise for size (default: opt-level z, LTO, one codegen unit, panic=abort) or speed.
    #[arg(long, value_enum, default_value_t = ProfileArg::Size)]
    pub profile: ProfileArg,
    /// Image options; their `--platform linux/amd64,linux/arm64` cross-compiles (several give
    /// one binary per platform, OUT-ARCH, and one multi-platform image).
    #[command(flatten)]
    pub image: ImageArgs,
    /// Extra `cargo build` arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub extra: Vec<String>,
}

/// `staticize node`.
#[derive(Debug, Clone, Args)]
pub struct NodeArgs {
    /// The program's entry script (.js, .mjs or .cjs).
    #[arg(value_name = "ENTRY.js")]
    pub entry: PathBuf,
    /// The executable to write (default: ./NAME, NAME from the script or its package.json).
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The node to build from (default: $STATICIZE_NODE, else node on PATH); Node 20.12+.
    #[arg(long, value_name = "PATH")]
    pub node: Option<PathBuf>,
    /// Put a file into the executable, read at run time with require('node:sea').getAsset(NAME).
    #[arg(long, value_name = "NAME=PATH")]
    pub asset: Vec<crate::driver::node::Asset>,
    /// One bundled script in the executable, or the package tree carried inside it (auto: the
    /// tree when a module looks for files beside itself or esbuild cannot make one script).
    #[arg(long, value_enum, default_value_t)]
    pub layout: LayoutArg,
    /// Which injector puts the blob into node.
    #[arg(long, value_enum, default_value_t)]
    pub injector: InjectorArg,
    /// Put V8's code cache into the blob: a faster start, but the bytes differ on every build.
    #[arg(long)]
    pub code_cache: bool,
    /// Write today's dynamic executable (it needs node's libraries where it runs) instead of
    /// the packed static one.
    #[arg(long)]
    pub no_pack: bool,
    /// Start node under staticize's minimal init in the image (the default: node ignores
    /// SIGTERM as PID 1, so `docker stop` would wait and kill).
    #[arg(long, overrides_with = "no_init")]
    pub init: bool,
    /// Make node itself PID 1 in the image.
    #[arg(long, overrides_with = "init")]
    pub no_init: bool,
    /// Image options.
    #[command(flatten)]
    pub image: ImageArgs,
}

/// Exit statuses of a packed executable, shown under `staticize pack --help`.
pub const PACK_HELP: &str = "\
A packed executable exits with its program's own status. When it cannot start the program:
  117  the packed file is damaged or truncated
  118  /proc is not mounted (it runs the program through /proc/self/fd)
  119  the kernel lacks memfd_create or execveat
  120  executing from memory was refused (seccomp, vm.memfd_noexec=2)
  121  another system error (out of memory)
  122  started set-user-ID or set-group-ID, which a packed program refuses

The packed program holds its whole unpacked closure in memory while it runs (the pack line
and `staticize check` say how much): give a container's memory limit room for it.
Its image is named NAME:packed unless -t names it (bundle's image of the program is NAME:latest).

staticize itself exits 0 ok, 1 libraries missing, 2 usage, 3 build failed, 4 input/output.";

/// `staticize pack`.
#[derive(Debug, Clone, Args)]
pub struct PackArgs {
    /// The program to pack (dynamic, glibc or musl; a static one is only compressed).
    #[arg(value_name = "PROGRAM")]
    pub program: PathBuf,
    /// The packed executable to write (default: ./NAME).
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// A library the program dlopen()s that no .note.dlopen names: a soname or a path
    /// (repeatable); it is loaded at start.
    #[arg(long = "lib", value_name = "NAME|PATH")]
    pub lib: Vec<String>,
    /// Pack even when some libraries cannot be found (they are listed).
    #[arg(long)]
    pub allow_missing: bool,
    /// Find the interpreter and libraries inside DIR instead of / (e.g. an arm64 root for an
    /// arm64 program).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Run the program under staticize's minimal init in the image (signals forwarded,
    /// zombies reaped): for programs that ignore SIGTERM as PID 1.
    #[arg(long, overrides_with = "no_init")]
    pub init: bool,
    /// The program is the image's PID 1 (the default for pack).
    #[arg(long, overrides_with = "init")]
    pub no_init: bool,
    /// Image options.
    #[command(flatten)]
    pub image: ImageArgs,
}

/// `staticize cc` and `staticize c++`: every argument is the compiler's.
#[derive(Debug, Clone, Args)]
pub struct CcArgs {
    /// Compiler arguments, exactly as for gcc or clang. The compiler comes from
    /// STATICIZE_COMPILER (musl-gcc, zig, gcc, g++), STATICIZE_LIBC (musl, glibc) and
    /// STATICIZE_PROFILE (size, speed); default: the order of `staticize c` / `staticize cxx`.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0.., value_name = "ARGS")]
    pub args: Vec<std::ffi::OsString>,
}

const BUILD_HELP: &str = "\
Build systems, recognised in this order (or give the command after --):
  CMakeLists.txt  cmake, MinSizeRel (speed: Release), static libraries, out of tree
  meson.build     meson, default_library=static, prefer_static=true, out of tree
  configure       --disable-shared --enable-static, out of tree when the tree is clean
  configure.ac    autoreconf -fi first, then as configure
  Makefile        make in the tree, CC and CXX given on make's command line
Out-of-tree builds and staticize's own files live in DIR/.staticize-build; a second run
reuses them, so only what changed is rebuilt.

Exit codes:
  0  success
  1  a verdict failed (an executable came out dynamic: the step that made it is named)
  2  usage error (several executables and no --bin: they are listed)
  3  a toolchain is missing or the build failed
  4  input/output problem";

/// `staticize build`.
#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// The project directory.
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The executable to keep and image, by file name or path in the tree (repeatable;
    /// needed when the build produces several).
    #[arg(long = "bin", value_name = "NAME")]
    pub bins: Vec<String>,
    /// The executable to write (default: ./NAME); only with one --bin.
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The C or C++ compiler, its C library and profile.
    #[command(flatten)]
    pub toolchain: ToolchainArgs,
    /// A make, ninja or cmake target to build instead of the default (repeatable).
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// An extra argument for the configure step: configure, cmake or meson setup (repeatable).
    #[arg(long = "configure-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub configure_args: Vec<String>,
    /// Libraries to build static for the compiler (once, cached) before the project: their
    /// -I/-L reach every compile and link, their .pc files pkg-config (nothing else does).
    /// Default: [deps] in DIR/staticize.toml.
    #[arg(long = "dep", value_name = "NAME[,NAME…]", env = "STATICIZE_DEPS")]
    pub deps: Vec<String>,
    /// When a step fails on a header, library, pkg-config module or *-config script a recipe
    /// provides, add that recipe as a --dep and run the build again.
    #[arg(long)]
    pub auto_deps: bool,
    /// Image options (the cache registry of --dep libraries among them).
    #[command(flatten)]
    pub image: ImageArgs,
    /// The build command to run instead of the recognised build system, after `--`.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `staticize squash`.
#[derive(Debug, Clone, Args)]
pub struct SquashArgs {
    /// The image: a tar (staticize, docker save, podman save) or an OCI layout directory.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// Where to write the squashed image (default: ./NAME-squashed.tar, NAME from IMAGE's file).
    #[arg(short = 'o', long, value_name = "OUT.tar")]
    pub output: Option<PathBuf>,
    /// The name of the result, NAME[:TAG] (default: the image's name with the tag "squashed").
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tag: Option<String>,
    /// Squash from this layer on, numbered from 1 as `staticize inspect` shows them; the layers
    /// below stay as they are (default: 1, every layer).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub from_layer: usize,
    /// Of a multi-platform image, squash only this platform (OS/ARCH[/VARIANT]); default:
    /// every platform, the index kept.
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// Compression of the squashed layer, SBOM, and where else the image goes.
    #[command(flatten)]
    pub image_output: ImageOutput,
}

/// `staticize slim`.
#[derive(Debug, Clone, Args)]
pub struct SlimArgs {
    /// The image: a tar (staticize, docker save, podman save) or an OCI layout directory.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// Where to write the slim image (default: ./NAME-slim.tar, NAME from IMAGE's file).
    #[arg(short = 'o', long, value_name = "OUT.tar")]
    pub output: Option<PathBuf>,
    /// Another program of the image to carry with its libraries (a path inside the image, or a
    /// name looked up in the image's PATH); repeatable.
    #[arg(long, value_name = "PATH")]
    pub program: Vec<String>,
    /// A file or tree of the image to carry as it is (a path inside the image); repeatable.
    #[arg(long, value_name = "PATH")]
    pub keep: Vec<String>,
    /// A library a program dlopen()s that no .note.dlopen names: a soname or a path inside the
    /// image (repeatable).
    #[arg(long = "lib", value_name = "NAME|PATH")]
    pub lib: Vec<String>,
    /// Write the image even when some libraries cannot be found in the image (they are listed).
    #[arg(long)]
    pub allow_missing: bool,
    /// Image contents and configuration (given flags override the image's own config).
    #[command(flatten)]
    pub options: ImageOptions,
}

// The command line's names for domain enums: clap stays here, the domain gets plain values.

/// `--compress`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum CompressArg {
    /// gzip (what every runtime reads), compressed in parallel.
    #[default]
    Gzip,
    /// zstd, multi-threaded: smaller and faster; podman and docker 23+ read it.
    Zstd,
    /// No compression.
    None,
}

impl From<CompressArg> for crate::image::Compression {
    fn from(c: CompressArg) -> Self {
        match c {
            CompressArg::Gzip => crate::image::Compression::Gzip,
            CompressArg::Zstd => crate::image::Compression::Zstd,
            CompressArg::None => crate::image::Compression::None,
        }
    }
}

/// `--layers`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LayersArg {
    /// By how often they change: libraries by package, extras, the program on top.
    #[default]
    Auto,
    /// One layer.
    Single,
}

impl From<LayersArg> for crate::image::layering::Layering {
    fn from(l: LayersArg) -> Self {
        match l {
            LayersArg::Auto => crate::image::layering::Layering::Auto,
            LayersArg::Single => crate::image::layering::Layering::Single,
        }
    }
}

/// `--profile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ProfileArg {
    /// Smallest output (default).
    #[default]
    Size,
    /// Fastest code.
    Speed,
}

impl From<ProfileArg> for crate::toolchain::Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Size => crate::toolchain::Profile::Size,
            ProfileArg::Speed => crate::toolchain::Profile::Speed,
        }
    }
}

/// `staticize node --layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LayoutArg {
    /// Bundle; carry the package tree instead when a module locates files beside itself or
    /// esbuild cannot bundle the program (a native addon, top-level await).
    #[default]
    Auto,
    /// Always one bundled script inside the executable.
    Bundle,
    /// Always the package tree, inside the executable (unpacked into a tmpfs where it runs
    /// alone) and under /app in the image.
    Tree,
}

impl From<LayoutArg> for crate::driver::node::LayoutChoice {
    fn from(l: LayoutArg) -> Self {
        match l {
            LayoutArg::Auto => crate::driver::node::LayoutChoice::Auto,
            LayoutArg::Bundle => crate::driver::node::LayoutChoice::Bundle,
            LayoutArg::Tree => crate::driver::node::LayoutChoice::Tree,
        }
    }
}

/// `staticize node --injector`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum InjectorArg {
    /// staticize's own ELF injector (src/sea.rs).
    #[default]
    Staticize,
    /// postject from npm (LIEF), at the version pinned in toolchains/node.toml.
    Postject,
}

impl From<InjectorArg> for crate::driver::node::Injector {
    fn from(i: InjectorArg) -> Self {
        match i {
            InjectorArg::Staticize => crate::driver::node::Injector::Staticize,
            InjectorArg::Postject => crate::driver::node::Injector::Postject,
        }
    }
}

const DEPS_HELP: &str = "\
The cache: $STATICIZE_DEPS_CACHE, else $STATICIZE_CACHE/deps, else ~/.cache/staticize/deps.
One entry per library, source version, compiler, C library, architecture and profile;
an entry appears only when its build finished, and concurrent runs wait for each other.

Exit codes:
  0  success
  2  usage error (unknown recipe, bad platform)
  3  a library's source could not be fetched or its build failed (nothing is cached)
  4  input/output problem (the cache directory)";

/// `staticize deps`.
#[derive(Debug, Clone, Args)]
pub struct DepsArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: DepsAction,
}

/// `staticize cache`.
#[derive(Debug, Clone, Args)]
pub struct CacheArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CacheAction,
}

/// The `staticize cache` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum CacheAction {
    /// Every cache: what it keeps, where, how many files and bytes (and, with a cache
    /// registry, how many entries of each kind it holds).
    Info {
        /// The cache registry.
        #[command(flatten)]
        cache: CacheRegistryArgs,
    },
    /// Push what the local caches hold to the cache registry: the named recipes' libraries,
    /// and the named caches (deps, blobs, downloads); none named: all three.
    Push {
        /// Recipe names or cache names (deps, blobs, downloads), commas or spaces; none: every
        /// cached library, compressed layer and download.
        #[arg(value_name = "NAME")]
        names: Vec<String>,
        /// The cache registry.
        #[command(flatten)]
        cache: CacheRegistryArgs,
    },
    /// Pull libraries (and what they need) built for this compiler from the cache registry
    /// into the local cache, never building one; a missing one is an error (exit 4).
    Pull(DepsTargetArgs),
    /// Empty the named caches (blobs, objects, deps, crates, downloads), or all of them.
    Clean {
        /// Which caches; none: every one.
        #[arg(value_name = "CACHE", value_parser = crate::caches::NAMES)]
        names: Vec<String>,
    },
}

/// The `staticize deps` actions.
#[derive(Debug, Clone, Subcommand)]
pub enum DepsAction {
    /// The recipes (what each provides) and what the cache holds, with sizes.
    List,
    /// Build libraries (and what they need) into the cache now; cached ones are reused.
    Build(DepsTargetArgs),
    /// Print the prefix (include/, lib/, lib/pkgconfig/) of each library, building it if needed.
    Path(DepsTargetArgs),
    /// Remove cached libraries: the named ones, or everything (downloads included).
    Clean(DepsCleanArgs),
}

/// Which libraries, for which compiler and platform.
#[derive(Debug, Clone, Args)]
pub struct DepsTargetArgs {
    /// Recipe names (commas or spaces).
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
    /// Build for this platform (linux/amd64, linux/arm64; another than the host's uses zig).
    #[arg(long, value_name = "OS/ARCH")]
    pub platform: Option<String>,
    /// The C or C++ compiler, its C library and profile.
    #[command(flatten)]
    pub toolchain: ToolchainArgs,
    /// The cache registry of the libraries.
    #[command(flatten)]
    pub cache: CacheRegistryArgs,
}

/// `staticize deps clean`.
#[derive(Debug, Clone, Args)]
pub struct DepsCleanArgs {
    /// Recipe names to remove (default: the whole cache).
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(argv: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("staticize").chain(argv.iter().copied())).unwrap().command
    }

    #[test]
    fn pack_help_lists_every_launcher_exit_status() {
        for (code, meaning) in crate::pack::format::EXITS {
            assert!(PACK_HELP.contains(&format!("{code}  {meaning}")), "{code} {meaning}");
        }
    }

    #[test]
    fn toolchain_flags_parse_alike_in_every_command() {
        let flags = ["--libc", "glibc", "--compiler", "gcc", "--profile", "speed"];
        let mut seen = Vec::new();
        for head in
            [&["c", "a.c"][..], &["cxx", "a.cc"], &["build"], &["deps", "build", "zlib"], &["deps", "path", "zlib"]]
        {
            let t = match parse(&[head, &flags[..]].concat()) {
                Command::C(a) | Command::Cxx(a) => a.toolchain,
                Command::Build(a) => a.toolchain,
                Command::Deps(DepsArgs { action: DepsAction::Build(a) | DepsAction::Path(a) }) => a.toolchain,
                other => panic!("{other:?}"),
            };
            let p = t.preference();
            seen.push((p.compiler, p.libc, p.profile == crate::toolchain::Profile::Speed));
        }
        assert!(seen.iter().all(|s| *s == (Some("gcc".into()), Some("glibc".into()), true)), "{seen:?}");
        let Command::Build(b) = parse(&["build"]) else { unreachable!() };
        assert_eq!((b.toolchain.libc, b.toolchain.compiler, b.toolchain.profile), (None, None, ProfileArg::Size));
    }

    #[test]
    fn image_output_flags_parse_alike_in_squash_and_image_commands() {
        let flags = ["--compress", "zstd", "--oci-dir", "lay", "--load", "--push", "r/x:1", "--no-sbom"];
        let squash = match parse(&[&["squash", "in.tar"][..], &flags[..]].concat()) {
            Command::Squash(a) => a.image_output,
            other => panic!("{other:?}"),
        };
        let image = match parse(&[&["image", "prog"][..], &flags[..]].concat()) {
            Command::Image(a) => a.options.image_output,
            other => panic!("{other:?}"),
        };
        for o in [&squash, &image] {
            assert_eq!(o.compress, CompressArg::Zstd);
            assert_eq!(o.oci_dir.as_deref(), Some(std::path::Path::new("lay")));
            assert_eq!((o.load.as_deref(), o.push.as_deref(), o.sbom()), (Some("auto"), Some("r/x:1"), None));
        }
    }
}
