//! Library-closure parsing on arbitrary ELF bytes: the `.note.dlopen` notes (goblin's note
//! iterators and the JSON descriptor) and the whole resolver (DT_NEEDED, RPATH/RUNPATH with
//! $ORIGIN tokens, PT_INTERP) run against an empty root, so nothing on the host is looked up.
//! Must return Ok or an error, never panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use staticize::closure::{self, ResolveOptions, note};

struct Scratch {
    root: PathBuf,
    program: PathBuf,
}

fn scratch() -> &'static Scratch {
    static S: OnceLock<Scratch> = OnceLock::new();
    S.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("staticize-fuzz-closure-{}", std::process::id()));
        let root = base.join("root");
        std::fs::create_dir_all(&root).expect("create the empty root");
        Scratch { root, program: base.join("program") }
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = note::parse_desc(data);
    if let Ok(elf) = goblin::elf::Elf::parse(data) {
        let _ = note::dlopen_entries(&elf, data);
    }
    let s = scratch();
    std::fs::write(&s.program, data).expect("write the fuzz input");
    let opts = ResolveOptions { root: s.root.clone(), ..ResolveOptions::default() };
    let _ = closure::resolve(&s.program, &opts);
});
