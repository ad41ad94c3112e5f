//! Input expansion: directories → capture files by magic, sorted.

use crate::craft::*;
use std::fs;
use stormwatch_capture::{ErrorKind, expand_inputs};

#[test]
fn directories_expand_to_captures_by_magic_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let p = pcap(false, false, 1, 65535, &[]);
    fs::create_dir_all(root.join("b/nested")).unwrap();
    fs::write(root.join("z.pcap"), &p).unwrap();
    fs::write(root.join("a.data"), &p).unwrap(); // no capture extension
    fs::write(root.join("b/nested/c.gz"), gzip(&p)).unwrap();
    fs::write(root.join("b/notes.pcap"), b"not a capture").unwrap();
    fs::write(root.join("b/text.gz"), gzip(b"text")).unwrap();
    fs::write(
        root.join("b/d.pcapng"),
        crate::formats::two_section_pcapng(),
    )
    .unwrap();
    fs::write(root.join("empty.pcap"), b"").unwrap();
    let single = root.join("b/notes.pcap");
    let got = expand_inputs(&[root.to_path_buf(), single.clone()]).unwrap();
    let want = vec![
        root.join("a.data"),
        root.join("b/d.pcapng"),
        root.join("b/nested/c.gz"),
        root.join("z.pcap"),
        // A file named directly stays, capture or not.
        single,
    ];
    assert_eq!(got, want);
}

#[test]
fn missing_input_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = expand_inputs(&[dir.path().join("missing")]).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::Io(_)));
    assert!(e.to_string().contains("missing: I/O error"), "{e}");
}

#[cfg(unix)]
#[test]
fn symlinked_directories_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    fs::create_dir(root.join("d")).unwrap();
    fs::write(root.join("d/x.pcap"), pcap(false, false, 1, 65535, &[])).unwrap();
    std::os::unix::fs::symlink(root, root.join("d/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("d/x.pcap"), root.join("d/y.pcap")).unwrap();
    let got = expand_inputs(&[root.to_path_buf()]).unwrap();
    assert_eq!(got, vec![root.join("d/x.pcap"), root.join("d/y.pcap")]);
}
