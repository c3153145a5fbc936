//! The command line, as clap derive structs: one struct per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::toolchain::Profile;

/// Exit codes, shown under --help.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  a verdict failed (not static, over budget, unresolved libraries)
  2  usage error (unknown flag, bad value)
  3  a toolchain is missing or a build failed
  4  input/output problem (missing or unreadable file, unwritable output)";

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
    /// Judge files from their ELF headers: static, static-pie or dynamic.
    #[command(after_help = EXIT_CODES_HELP)]
    Check(CheckArgs),
    /// List the toolchains found, their versions, and how to install the missing ones.
    Doctor(DoctorArgs),
    /// Check size budgets from staticize.toml (for CI and pre-commit); exit 1 when one fails.
    #[command(after_help = GATE_HELP)]
    Gate(GateArgs),
    /// Print a shell completion script: bash, zsh, fish, elvish or powershell.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
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

/// `staticize c` and `staticize cxx`.
#[derive(Debug, Clone, Args)]
pub struct CArgs {
    /// Source files; the first one names the output.
    #[arg(required = true, value_name = "SRC")]
    pub sources: Vec<PathBuf>,
    /// The executable to write (default: ./NAME).
    #[arg(short = 'o', long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// The C library to link (default: the first compiler found decides; musl first).
    #[arg(long, value_enum)]
    pub libc: Option<Libc>,
    /// The compiler to use: musl-gcc, zig or gcc (C); g++ or zig (C++).
    #[arg(long, value_name = "NAME")]
    pub compiler: Option<String>,
    /// Optimise for size (default) or speed.
    #[arg(long, value_enum, default_value_t = Profile::Size)]
    pub profile: Profile,
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
    /// Image options.
    #[command(flatten)]
    pub image: ImageArgs,
    /// Extra compiler and linker arguments, after `--`.
    #[arg(last = true, value_name = "ARGS")]
    pub extra: Vec<String>,
}

/// `staticize image`.
#[derive(Debug, Clone, Args)]
pub struct ImageCmdArgs {
    /// The static executable to package.
    #[arg(value_name = "BINARY")]
    pub binary: PathBuf,
    /// Where to write the image archive (default: ./NAME.tar).
    #[arg(short = 'o', long, value_name = "IMAGE.tar")]
    pub output: Option<PathBuf>,
    /// Image contents and configuration.
    #[command(flatten)]
    pub options: ImageOptions,
}

/// `staticize check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Files to judge.
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
}

/// `staticize doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {}

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
