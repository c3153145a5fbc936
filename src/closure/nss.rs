//! glibc's name service (NSS) in a scratch image: whether a closure runs on glibc, which
//! `libnss_*` modules `files dns` needs as separate libraries, and the nsswitch.conf to carry.

use goblin::elf::Elf;

use crate::closure::{Closure, Loader};

/// The nsswitch.conf written for glibc programs: local files, then DNS — what scratch can serve.
pub const NSSWITCH_CONF: &str = "\
# Written by staticize bundle: scratch has only files, so look there, then ask DNS.
passwd:    files
group:     files
shadow:    files
hosts:     files dns
networks:  files
protocols: files
services:  files
ethers:    files
rpc:       files
";

/// True when the program runs on glibc (its loader is ld-linux and libc.so.6 is carried).
pub fn is_glibc(c: &Closure) -> bool {
    c.loader == Loader::Glibc && c.files().any(|e| e.image_path.ends_with("/libc.so.6"))
}

/// The NSS modules `files dns` needs as separate libraries on this glibc: none since glibc
/// 2.34 (they are built into libc.so.6, which then exports `_nss_files_getpwnam_r` and
/// `_nss_dns_gethostbyname4_r`), libnss_files.so.2 / libnss_dns.so.2 before.
pub fn modules_needed(c: &Closure) -> Vec<&'static str> {
    let Some(libc) = c.files().find(|e| e.image_path.ends_with("/libc.so.6")) else { return Vec::new() };
    let Ok(bytes) = std::fs::read(&libc.host_path) else { return Vec::new() };
    let Ok(elf) = Elf::parse(&bytes) else { return Vec::new() };
    let exports =
        |sym: &str| elf.dynsyms.iter().any(|s| s.st_shndx != 0 && elf.dynstrtab.get_at(s.st_name) == Some(sym));
    let mut out = Vec::new();
    if !exports("_nss_files_getpwnam_r") {
        out.push("libnss_files.so.2");
    }
    if !exports("_nss_dns_gethostbyname4_r") {
        out.push("libnss_dns.so.2");
    }
    out
}
