//! The resident window of a mapped capture: bytes behind the reader are released
//! to the kernel and bytes ahead populated, without changing what is read.

use crate::craft::{Rec, pcap};
use stormwatch_capture::{CaptureFile, RESIDENT_WINDOW};

/// Frame `i`'s bytes: a pattern that differs per frame and per byte.
fn frame_bytes(i: u32, len: usize) -> Vec<u8> {
    (0..len)
        .map(|j| (i.wrapping_mul(31).wrapping_add(j as u32 * 7) & 0xff) as u8)
        .collect()
}

/// Resident KiB of this process's mapping of `path` (Linux `/proc/self/smaps`).
fn mapped_rss_kib(path: &std::path::Path) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let name = path.to_str()?;
    let mut lines = smaps.lines().skip_while(|l| !l.ends_with(name));
    lines.next()?;
    let rss = lines.find(|l| l.starts_with("Rss:"))?;
    rss.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn frames_read_the_same_bytes_across_released_windows() {
    // Four and a half windows of 1,400-byte frames.
    let len = 1400;
    let n = u32::try_from(RESIDENT_WINDOW * 9 / 2 / (len + 16)).unwrap();
    let datas: Vec<Vec<u8>> = (0..n).map(|i| frame_bytes(i, len)).collect();
    let recs: Vec<Rec<'_>> = datas
        .iter()
        .enumerate()
        .map(|(i, d)| Rec {
            secs: 1_000 + i as u32,
            frac: 0,
            data: d,
            orig_len: len as u32,
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("window.pcap");
    std::fs::write(&path, pcap(false, false, 1, 65_535, &recs)).unwrap();
    drop(datas);

    let cap = CaptureFile::open(&path).unwrap();
    let mut frames = cap.frames(0);
    // Keep the first frame borrowed while its pages are released: it must still read
    // the same bytes afterwards (they fault back in from the page cache).
    let first = frames.next().unwrap().unwrap();
    let mut count = 1u32;
    for f in frames.by_ref() {
        let f = f.unwrap();
        assert_eq!(f.data, frame_bytes(count, len).as_slice(), "frame {count}");
        assert_eq!(f.ts.secs(), 1_000 + i64::from(count));
        count += 1;
    }
    assert_eq!(count, n);
    assert_eq!(first.data, frame_bytes(0, len).as_slice());
    assert!(frames.next().is_none());
    // Only the last windows stay resident (Linux; the advice is a no-op elsewhere).
    if let Some(kib) = mapped_rss_kib(&path) {
        let limit = 3 * RESIDENT_WINDOW as u64 / 1024;
        assert!(
            kib <= limit,
            "{kib} KiB of the {} KiB capture still resident (limit {limit} KiB)",
            cap.len() / 1024
        );
    }
    // Reading the capture a second time gives the same frames.
    assert_eq!(cap.frames(0).count(), n as usize);
}
