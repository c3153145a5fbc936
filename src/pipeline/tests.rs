//! The road with a fake driver: no compiler, only files the driver "builds" by writing them.

use std::cell::Cell;
use std::path::{Path, PathBuf};

use super::*;
use crate::driver::BuildRequest;
use crate::progress::Steps;

/// A driver that writes a fixed ELF into the staging directory and counts its builds.
struct FakeDriver {
    elf: Vec<u8>,
    built: Cell<usize>,
}

impl Driver for FakeDriver {
    fn build(&self, req: &BuildRequest, _steps: &Steps) -> Result<Artifact> {
        self.built.set(self.built.get() + 1);
        let path = req.staging.join(&req.name);
        std::fs::write(&path, &self.elf).unwrap();
        Ok(Artifact {
            path,
            lang: "fake".into(),
            target: "fake".into(),
            toolchain_used: "fake 1.0".into(),
            command: String::new(),
            warnings: Vec::new(),
            companions: None,
            package_dirs: Vec::new(),
            archives: Vec::new(),
        })
    }
}

/// The smallest static executable for this machine: an ELF header and one PT_LOAD segment
/// (no PT_INTERP, no PT_DYNAMIC), whose code never runs in these tests.
fn static_elf() -> Vec<u8> {
    let mut b = vec![0u8; 120];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // 64-bit
    b[5] = 1; // little-endian
    b[6] = 1; // version
    b[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b[18..20].copy_from_slice(&Arch::host().elf_machine().to_le_bytes());
    b[20..24].copy_from_slice(&1u32.to_le_bytes());
    b[24..32].copy_from_slice(&0x400078u64.to_le_bytes()); // entry
    b[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
    b[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
    b[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
    b[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
    b[58..60].copy_from_slice(&64u16.to_le_bytes()); // shentsize
    let ph = &mut b[64..120];
    ph[..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R+X
    ph[16..24].copy_from_slice(&0x400000u64.to_le_bytes());
    ph[24..32].copy_from_slice(&0x400000u64.to_le_bytes());
    ph[32..40].copy_from_slice(&128u64.to_le_bytes());
    ph[40..48].copy_from_slice(&128u64.to_le_bytes());
    ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
    b.extend_from_slice(&[0u8; 8]);
    b
}

/// A dynamic executable whose libraries are on this machine: the test binary itself.
fn dynamic_elf() -> Vec<u8> {
    std::fs::read(std::env::current_exe().unwrap()).unwrap()
}

fn job<'a>(driver: &'a FakeDriver, dir: &Path, dynamic: Dynamic, destinations: Vec<Destination>) -> Job<'a> {
    Job {
        name: "app".into(),
        programs: Programs::Build {
            builds: vec![(Arch::host(), driver as &dyn Driver)],
            inputs: vec![PathBuf::from("app.src")],
            profile: Profile::Size,
            extra_args: Vec::new(),
        },
        settings: ImageSettings::default(),
        // The fake ELF is never run.
        probe: None,
        binaries: Binaries::PerPlatform(dir.join("app")),
        destinations,
        dynamic,
        created_by: "staticize test".into(),
    }
}

fn quiet() -> Reporter {
    Reporter::new(true)
}

#[test]
fn a_static_artifact_gives_a_one_layer_image() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let tar = d.path().join("app.tar");
    let out = run(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
    assert!(out.failed.is_none());
    let written = out.image.expect("an image");
    assert_eq!(written.layers.len(), 1);
    assert!(tar.is_file());
    assert_eq!(std::fs::read(d.path().join("app")).unwrap(), static_elf());
    assert!(out.programs[0].closure.is_none());
    let archive = crate::image::read::Archive::open(&tar).unwrap();
    assert!(archive.problems.is_empty(), "{:?}", archive.problems);
}

#[test]
fn a_dynamic_artifact_goes_through_the_closure_stage() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: dynamic_elf(), built: Cell::new(0) };
    let tar = d.path().join("app.tar");
    let carry = Dynamic::Carry(CarryOptions::default());
    let out = run(job(&driver, d.path(), carry, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
    assert!(out.failed.is_none());
    let closure = out.programs[0].closure.as_ref().expect("a closure");
    assert!(closure.is_dynamic());
    assert!(closure.interp.is_some());
    assert!(out.image.is_some() && tar.is_file());
}

#[test]
fn a_failed_verdict_writes_the_binary_and_no_image() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: dynamic_elf(), built: Cell::new(0) };
    let tar = d.path().join("app.tar");
    let out = run(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
    assert!(out.image.is_none());
    assert!(!tar.exists());
    assert!(d.path().join("app").is_file());
    let e = out.finish().unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("is not self-contained"), "{e}");
}

#[test]
fn an_impossible_destination_is_refused_before_anything_is_built() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let tar = d.path().join("no-such-dir").join("app.tar");
    let e = run(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar)]), &quiet()).unwrap_err();
    assert_eq!(driver.built.get(), 0);
    assert!(!d.path().join("app").exists());
    assert_eq!(e.exit_code(), crate::error::EXIT_IO, "{e}");
}
