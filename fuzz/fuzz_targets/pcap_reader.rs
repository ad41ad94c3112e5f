//! The capture reader on arbitrary bytes behind a valid pcap file header
//! (byte order and resolution chosen by the first byte): every frame until
//! the first error; no panic, frames stay inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_capture::CaptureFile;

const MAGICS: [[u8; 4]; 6] = [
    [0xd4, 0xc3, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xc3, 0xd4],
    [0x4d, 0x3c, 0xb2, 0xa1],
    [0xa1, 0xb2, 0x3c, 0x4d],
    [0x34, 0xcd, 0xb2, 0xa1],
    [0xa1, 0xb2, 0xcd, 0x34],
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = MAGICS[usize::from(sel) % MAGICS.len()].to_vec();
    bytes.extend_from_slice(rest);
    let len = bytes.len();
    let Ok(cap) = CaptureFile::from_bytes("fuzz.pcap", bytes) else {
        return;
    };
    let mut n = 0u64;
    for f in cap.frames(0) {
        match f {
            Ok(f) => {
                assert!(f.data.len() <= len);
                assert!(f.origin.offset < len as u64);
                n += 1;
            }
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                break;
            }
        }
    }
    assert_eq!(cap.walk_records().0, n);
});
