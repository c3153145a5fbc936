//! Reading input files without hanging or exhausting memory: FIFOs, devices and directories are
//! refused before they are opened (opening a FIFO blocks until a writer comes; a device may
//! never end), and small documents are read with a size cap.

use std::fs::FileType;
use std::io::{self, Read};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

/// "a FIFO (named pipe)", "a directory"… for anything that is not a regular file, else None.
pub(crate) fn not_regular(t: &FileType) -> Option<&'static str> {
    if t.is_file() {
        None
    } else if t.is_dir() {
        Some("a directory")
    } else if t.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if t.is_socket() {
        Some("a socket")
    } else if t.is_char_device() || t.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    }
}

/// Reads a small text document (a config, a lock file) of at most `max` bytes. Errors keep
/// their `io::ErrorKind` (NotFound stays NotFound); a FIFO, device or directory is
/// `InvalidInput` and a larger file `FileTooLarge`, each with a message saying so.
pub(crate) fn read_text(path: &Path, max: u64) -> io::Result<String> {
    let meta = std::fs::metadata(path)?;
    if let Some(what) = not_regular(&meta.file_type()) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("is {what}, not a regular file")));
    }
    let mut text = String::new();
    std::fs::File::open(path)?.take(max + 1).read_to_string(&mut text)?;
    if text.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, format!("is larger than {max} bytes")));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifos_are_refused_and_sizes_capped() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = read_text(&fifo, 100).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("FIFO"));
        let big = dir.path().join("big");
        std::fs::write(&big, "x".repeat(101)).unwrap();
        assert_eq!(read_text(&big, 100).unwrap_err().kind(), io::ErrorKind::FileTooLarge);
        std::fs::write(&big, "x".repeat(100)).unwrap();
        assert_eq!(read_text(&big, 100).unwrap().len(), 100);
        assert_eq!(read_text(&dir.path().join("none"), 1).unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
