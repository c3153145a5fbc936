//! Hints for the gaps a scratch image commonly has, printed when they apply: CA certificates
//! for programs linking a TLS library, /etc/passwd for programs that look users up, a /tmp for
//! programs that make temporary files, time zone data for ICU. Judged from the closure's file
//! names and the program's undefined dynamic symbols (what it imports from libc).

use goblin::elf::Elf;

use crate::closure::Closure;
use crate::image::extras::{CERTS_PATH, ZONEINFO};
use crate::image::rootfs::Rootfs;

/// Library file-name prefixes that speak TLS and read a CA bundle.
const TLS_LIBS: &[&str] = &["libssl.so", "libgnutls.so", "libnss3.so", "libmbedtls.so", "libwolfssl.so"];
/// libc functions that read /etc/passwd or /etc/group.
const USER_LOOKUPS: &[&str] =
    &["getpwnam", "getpwnam_r", "getpwuid", "getpwuid_r", "getgrnam", "getgrnam_r", "getgrgid", "initgroups"];
/// libc functions that make files under /tmp.
const TEMP_FILES: &[&str] = &["mkstemp", "mkstemp64", "mkdtemp", "tmpfile", "tmpfile64", "mkostemp"];

/// The hints that apply to this program and image: one line each, with the flag that fixes it.
pub(crate) fn scratch_gaps(rootfs: &Rootfs, program: &std::path::Path, closure: &Closure) -> Vec<String> {
    let mut out = Vec::new();
    let lib = |prefixes: &[&str]| {
        closure.files().find_map(|e| {
            let name = e.image_path.rsplit('/').next().unwrap_or("");
            prefixes.iter().any(|p| name.starts_with(p)).then(|| name.to_string())
        })
    };
    if let Some(tls) = lib(TLS_LIBS).filter(|_| rootfs.get(CERTS_PATH).is_none()) {
        out.push(format!(
            "it links {tls}: TLS needs CA certificates, which scratch lacks — add --with certs (or --with certs=BUNDLE)"
        ));
    }
    let bytes = std::fs::read(program).unwrap_or_default();
    let imports = undefined_symbols(&bytes);
    let calls = |names: &[&str]| imports.iter().find(|s| names.contains(&s.as_str())).cloned();
    if let Some(f) = calls(USER_LOOKUPS).filter(|_| rootfs.get("/etc/passwd").is_none()) {
        out.push(format!(
            "it calls {f}: users and groups come from /etc/passwd and /etc/group — add --with passwd or --add your own"
        ));
    }
    if let Some(f) = calls(TEMP_FILES).filter(|_| rootfs.get("/tmp").is_none()) {
        out.push(format!("it calls {f}: scratch has no /tmp — add --with tmp"));
    }
    // system()/popen() run /bin/sh; a program naming "/bin/sh" itself (git) execs it.
    let names_sh = bytes.windows(8).any(|w| w == b"/bin/sh\0");
    let why = calls(&["system", "popen"]).map(|f| format!("calls {f}")).or(names_sh.then(|| "names /bin/sh".into()));
    if let Some(why) = why.filter(|_| rootfs.get("/bin/sh").is_none()) {
        out.push(format!("it {why}, which scratch lacks — add --add /bin/dash:/bin/sh (its libraries come with it)"));
    }
    // Time zones: ICU's, a tz directory compiled in (postgres' --with-system-tzdata), or the TZ
    // variable tzset() reads (TZ=Europe/Paris falls back to UTC without zoneinfo).
    let tz = lib(&["libicu"])
        .map(|icu| format!("links {icu}"))
        .or_else(|| {
            bytes.windows(20).any(|w| w == b"/usr/share/zoneinfo\0").then(|| "names /usr/share/zoneinfo".into())
        })
        .or_else(|| calls(&["tzset"]).map(|f| format!("calls {f} (TZ=Area/City is UTC without zoneinfo)")));
    if let Some(why) = tz.filter(|_| rootfs.get(ZONEINFO).is_none()) {
        out.push(format!("it {why}: time zones need zoneinfo — add --with tzdata"));
    }
    out
}

/// The names of the dynamic symbols an ELF program imports (undefined in it).
fn undefined_symbols(bytes: &[u8]) -> Vec<String> {
    let Ok(elf) = Elf::parse(bytes) else { return Vec::new() };
    elf.dynsyms
        .iter()
        .filter(|s| s.st_shndx == 0 && s.st_name != 0)
        .filter_map(|s| elf.dynstrtab.get_at(s.st_name).map(str::to_string))
        .collect()
}
