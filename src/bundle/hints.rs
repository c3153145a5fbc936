//! Hints for the gaps a scratch image commonly has, printed when they apply: CA certificates
//! for programs linking a TLS library or naming the system trust store (Go's crypto/x509,
//! rustls with the native certificates — static programs too), /etc/passwd for programs that look users up, a /tmp for
//! programs that make temporary files, time zone data for ICU. Judged from the closure's file
//! names and the program's undefined dynamic symbols (what it imports from libc).

use crate::closure::Closure;
use crate::closure::named;
use crate::image::extras::{CERTS_PATH, ZONEINFO};
use crate::image::rootfs::Rootfs;

/// libc functions that read /etc/passwd or /etc/group.
const USER_LOOKUPS: &[&str] =
    &["getpwnam", "getpwnam_r", "getpwuid", "getpwuid_r", "getgrnam", "getgrnam_r", "getgrgid", "initgroups"];
/// libc functions that make files under /tmp.
const TEMP_FILES: &[&str] = &["mkstemp", "mkstemp64", "mkdtemp", "tmpfile", "tmpfile64", "mkostemp"];

/// The hints that apply to this program and image: one line each, with the flag that fixes it.
/// `closure` is the dynamic program's; a static program has none.
pub(crate) fn scratch_gaps(rootfs: &Rootfs, program: &std::path::Path, closure: Option<&Closure>) -> Vec<String> {
    let mut out = Vec::new();
    let names = || closure.into_iter().flat_map(|c| c.files()).map(|e| e.image_path.rsplit('/').next().unwrap_or(""));
    let lib = |prefixes: &[&str]| names().find(|name| prefixes.iter().any(|p| name.starts_with(p))).map(str::to_string);
    let bytes = std::fs::read(program).unwrap_or_default();
    if let Some(why) = named::reads_trust_store(&bytes, names()).filter(|_| rootfs.get(CERTS_PATH).is_none()) {
        out.push(format!(
            "it {why}: TLS needs CA certificates, which scratch lacks — add --with certs (or --with certs=BUNDLE)"
        ));
    }
    let imports = named::imports(&bytes);
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
