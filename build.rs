//! Builds the tiny no_std programs staticize embeds (launcher/: the launcher of packed
//! executables and a minimal init) for this target's architecture — always — and for the
//! other supported architecture when Rust's standard library for it is installed
//! (`rustup target add aarch64-unknown-linux-musl` or `x86_64-unknown-linux-musl`), and runs
//! again when that library is added or removed later.
//! They are linked by rust-lld, which every rustup toolchain ships, so nothing else is needed.
//! The launcher decodes with zstd's C decoder where a C compiler for the target is at hand
//! (this architecture's: staticize compiles zstd itself, so it has one; the other's when
//! `CC_<triple>` names one), else with the pure-Rust ruzstd.

use std::path::{Path, PathBuf};
use std::process::Command;

const PROGRAMS: [&str; 2] = ["launcher", "init"];

fn main() {
    for p in ["launcher/src", "launcher/Cargo.toml", "launcher/Cargo.lock"] {
        println!("cargo:rerun-if-changed={p}");
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let target = std::env::var("TARGET").expect("TARGET");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").expect("CARGO_CFG_TARGET_ARCH");
    let rustlib = sysroot().map(|s| s.join("lib/rustlib"));
    // `rustup target add` (or remove) of the other architecture creates (or deletes) a
    // directory in rustlib/, which changes rustlib's own mtime: cargo, watching a directory,
    // sees that (verified, even when the unpacked files keep old mtimes) and runs this again,
    // so a launcher left empty before the target was installed is built once it is. A path
    // that does not exist yet cannot be watched: cargo would rerun this on every build.
    if let Some(dir) = rustlib.as_ref().filter(|d| d.is_dir()) {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
    for a in ["x86_64", "aarch64"] {
        let triple = if a == arch { Some(target.clone()) } else { installed_target(rustlib.as_deref(), a) };
        let built = match triple {
            Some(t) => build(&t, &out, decoder(&t, a == arch)),
            None => Err(format!("no Rust standard library for {a} (rustup target add {a}-unknown-linux-musl)")),
        };
        for p in PROGRAMS {
            let dest = out.join(format!("{p}-{a}"));
            match &built {
                Ok(dir) => std::fs::copy(dir.join(p), &dest).map(|_| ()).expect("copy a launcher program"),
                Err(e) if a == arch => panic!("building the {a} launcher failed: {e}"),
                // An empty file means "not built": staticize says what to install.
                Err(_) => std::fs::write(&dest, b"").expect("write an empty launcher"),
            }
        }
        if let Err(e) = &built {
            if a != arch {
                println!("cargo:warning=the {a} pack launcher was not built: {e}");
            }
        }
    }
}

/// The sysroot of the rustc building this crate.
fn sysroot() -> Option<PathBuf> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc).args(["--print", "sysroot"]).output().ok()?;
    out.status.success().then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A Linux target of `arch` whose standard library is installed in `rustlib`, musl first.
fn installed_target(rustlib: Option<&Path>, arch: &str) -> Option<String> {
    let rustlib = rustlib?;
    [format!("{arch}-unknown-linux-musl"), format!("{arch}-unknown-linux-gnu")]
        .into_iter()
        .find(|t| rustlib.join(t).join("lib").is_dir())
}

/// The launcher's decoder feature for `triple` (see launcher/Cargo.toml).
fn decoder(triple: &str, native: bool) -> &'static str {
    let cc_var = format!("CC_{}", triple.replace('-', "_"));
    println!("cargo:rerun-if-env-changed={cc_var}");
    if native || std::env::var_os(&cc_var).is_some() { "c-zstd" } else { "rust-zstd" }
}

/// Builds launcher/ for `triple` (release: size matters) with the decoder `feature`, in its own
/// target directory.
fn build(triple: &str, out: &Path, feature: &str) -> Result<PathBuf, String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target_dir = out.join("launcher-target");
    // Static, not position-independent, linked by the toolchain's own lld: no C toolchain.
    let flags = [
        "-Crelocation-model=static",
        "-Ctarget-feature=+crt-static",
        "-Clinker=rust-lld",
        "-Clinker-flavor=ld.lld",
        // musl targets otherwise add their crt1.o, whose _start is ours.
        "-Clink-self-contained=no",
        "-Clink-arg=--build-id=none",
        "-Clink-arg=-znorelro",
    ];
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("launcher/Cargo.toml");
    // zstd's C decoder without C library: no stack protector (its __stack_chk_fail is libc's).
    // Its BMI2 code paths stay (chosen at run time; a quarter less decoding time where the CPU
    // has BMI2), and the size they cost is won back by keeping one Huffman decoder (X1) and one
    // sequence decoder: the "long" one, which prefetches matches far back in the window, which
    // is what a pack's libraries are full of (measured on redis-server's closure: 83 KiB and
    // as fast as all four at 129 KiB).
    let cflags = "-fno-stack-protector -DHUF_FORCE_DECOMPRESS_X1 -DZSTD_FORCE_DECOMPRESS_SEQUENCES_LONG";
    let mut cmd = Command::new(cargo);
    // The outer build's target cfgs (CARGO_CFG_SANITIZE under cargo fuzz, …) would reach the
    // launcher's C build through the cc crate, which reads them: the launcher has its own.
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("CARGO_CFG_") {
            cmd.env_remove(key);
        }
    }
    let status = cmd
        .args(["build", "--release", "--locked", "--bins", "--features", feature, "--target", triple])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"))
        .env(format!("CFLAGS_{}", triple.replace('-', "_")), cflags)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("cargo build of launcher/ for {triple} failed ({status})"));
    }
    Ok(target_dir.join(triple).join("release"))
}
