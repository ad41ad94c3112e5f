//! The capture reader on arbitrary bytes behind a pcapng section header
//! magic: every frame until the first error; no panic, frames stay inside
//! the input. Also feeds the bytes unprefixed (gzip and magic detection).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_capture::CaptureFile;

fn read_all(name: &str, bytes: Vec<u8>) {
    let len = bytes.len();
    let Ok(cap) = CaptureFile::from_bytes(name, bytes) else {
        return;
    };
    let mut n = 0u64;
    for f in cap.frames(0) {
        match f {
            Ok(f) => {
                assert!(f.data.len() <= cap.len() as usize);
                n += 1;
            }
            Err(e) => {
                assert!(!e.to_string().contains('\n'));
                break;
            }
        }
    }
    let _ = (len, n, cap.walk_records());
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = vec![0x0a, 0x0d, 0x0d, 0x0a];
    bytes.extend_from_slice(data);
    read_all("fuzz.pcapng", bytes);
    read_all("fuzz.raw", data.to_vec());
});
