//! The road with a fake driver and a fake destination: no compiler, no engine, no registry —
//! only files the driver "builds" by writing them, and archives the destination records.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::*;
use crate::driver::{Artifact, Driver};
use crate::driver::{BuildRequest, Tool};
use crate::error::Error;
use crate::image::Written;
use crate::image::options::ImageSettings;
use crate::platform::Arch;
use crate::progress::Steps;
use crate::toolchain::Profile;

/// A destination that records the archives delivered to it, or refuses at the check.
#[derive(Debug, Default)]
pub struct FakeDestination {
    /// Its name in the plan.
    pub name: String,
    /// Refuse at the check (an engine that does not answer).
    pub unreachable: bool,
    /// The archives delivered, in order.
    pub delivered: Mutex<Vec<PathBuf>>,
}

impl FakeDestination {
    /// Refuses when unreachable, as an engine that does not answer.
    pub(crate) fn check(&self) -> Result<()> {
        if self.unreachable {
            return Err(Error::usage(format!("{} does not answer", self.name), "start it"));
        }
        Ok(())
    }

    /// Records the delivered archive.
    pub(crate) fn deliver(&self, written: &Written) {
        self.delivered.lock().unwrap().push(written.path.clone());
    }
}

/// A driver that writes a fixed ELF into the staging directory and counts its builds.
struct FakeDriver {
    elf: Vec<u8>,
    built: Cell<usize>,
}

impl Driver for FakeDriver {
    fn tool(&self) -> Tool {
        Tool { driver: "fake".into(), compiler: Some("fake 1.0".into()) }
    }

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
            on_runtime: None,
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
        delivery: Delivery::default(),
        // The fake ELF is never run.
        probe: crate::prove::ask::Probe::off(),
        binaries: Binaries::PerPlatform(dir.join("app")),
        destinations,
        dynamic,
        created_by: "staticize test".into(),
        plan_only: false,
    }
}

fn ran(job: Job, rep: &Reporter) -> Result<Outcome> {
    run(job, rep).map(|o| o.expect("not a --plan job"))
}

fn quiet() -> Reporter {
    Reporter::new(true)
}

#[test]
fn a_static_artifact_gives_a_one_layer_image() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let tar = d.path().join("app.tar");
    let out = ran(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
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
    let out = ran(job(&driver, d.path(), carry, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
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
    let out = ran(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar.clone())]), &quiet()).unwrap();
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
    let e = ran(job(&driver, d.path(), Dynamic::Refuse, vec![Destination::Archive(tar)]), &quiet()).unwrap_err();
    assert_eq!(driver.built.get(), 0);
    assert!(!d.path().join("app").exists());
    assert_eq!(e.exit_code(), crate::error::EXIT_IO, "{e}");
}

#[test]
fn the_fake_destination_gets_the_archive_after_it_is_written() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let tar = d.path().join("app.tar");
    let fake = Arc::new(FakeDestination { name: "engine".into(), ..Default::default() });
    let dests = vec![Destination::Archive(tar.clone()), Destination::Fake(fake.clone())];
    let out = ran(job(&driver, d.path(), Dynamic::Refuse, dests), &quiet()).unwrap();
    assert!(out.image.is_some());
    assert_eq!(*fake.delivered.lock().unwrap(), vec![tar]);
}

#[test]
fn an_unreachable_destination_is_refused_before_the_build() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let fake = Arc::new(FakeDestination { name: "engine".into(), unreachable: true, ..Default::default() });
    let dests = vec![Destination::Archive(d.path().join("app.tar")), Destination::Fake(fake.clone())];
    let e = ran(job(&driver, d.path(), Dynamic::Refuse, dests), &quiet()).unwrap_err();
    assert_eq!(e.exit_code(), crate::error::EXIT_USAGE, "{e}");
    assert_eq!(driver.built.get(), 0);
    assert!(fake.delivered.lock().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn a_plan_only_job_builds_nothing_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let fake = Arc::new(FakeDestination { name: "engine".into(), ..Default::default() });
    let dests = vec![Destination::Archive(d.path().join("app.tar")), Destination::Fake(fake.clone())];
    let mut j = job(&driver, d.path(), Dynamic::Refuse, dests);
    j.plan_only = true;
    assert!(run(j, &quiet()).unwrap().is_none());
    assert_eq!(driver.built.get(), 0);
    assert!(fake.delivered.lock().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0, "nothing written");
}

#[test]
fn the_plan_says_what_is_built_where_and_what_is_checked() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let fake = Arc::new(FakeDestination { name: "engine".into(), ..Default::default() });
    let dests = vec![Destination::Archive(d.path().join("app.tar")), Destination::Fake(fake)];
    let mut j = job(&driver, d.path(), Dynamic::Refuse, dests);
    j.binaries = Binaries::PerPlatform(d.path().join("server"));
    let p = plan::plan(&j).unwrap();
    // `-o server` names the program, in the image and in the tag.
    assert_eq!(p.name, "server");
    assert_eq!(p.programs.len(), 1);
    assert_eq!(p.programs[0].path_in_image.as_deref(), Some("/server"));
    assert_eq!(p.programs[0].binary.as_deref(), Some(d.path().join("server").as_path()));
    let plan::Making::Build { tool, .. } = &p.programs[0].make else { panic!("a build: {:?}", p.programs[0]) };
    assert_eq!(tool.driver, "fake");
    let image = p.image.as_ref().expect("an image");
    assert_eq!(image.reference, "server:latest");
    assert_eq!(image.config.entrypoint.as_deref(), Some(&["/server".to_string()][..]));
    let kinds: Vec<&str> = image.destinations.iter().map(|d| d.kind.as_str()).collect();
    assert_eq!(kinds, ["archive", "fake"]);
    assert!(matches!(p.checks.first(), Some(plan::Check::ElfVerdict { .. })));
    assert_eq!(driver.built.get(), 0, "planning builds nothing");
}

#[test]
fn several_platforms_plan_one_binary_each() {
    let d = tempfile::tempdir().unwrap();
    let driver = FakeDriver { elf: static_elf(), built: Cell::new(0) };
    let mut j = job(&driver, d.path(), Dynamic::Refuse, Vec::new());
    j.programs = Programs::Build {
        builds: vec![(Arch::Amd64, &driver as &dyn Driver), (Arch::Arm64, &driver as &dyn Driver)],
        inputs: vec![PathBuf::from("app.src")],
        profile: Profile::Size,
        extra_args: Vec::new(),
    };
    let p = plan::plan(&j).unwrap();
    let binaries: Vec<PathBuf> = p.programs.iter().filter_map(|p| p.binary.clone()).collect();
    assert_eq!(binaries, [d.path().join("app-amd64"), d.path().join("app-arm64")]);
    assert!(p.image.is_none(), "no archive, no image");
}

#[test]
fn build_platforms_default_to_the_host() {
    assert_eq!(Delivery::default().build_platforms(), vec![Arch::host()]);
    let two = Delivery { platforms: vec![Arch::Arm64, Arch::Amd64], ..Default::default() };
    assert_eq!(two.build_platforms(), vec![Arch::Arm64, Arch::Amd64]);
}
