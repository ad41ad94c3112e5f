//! Expanding command-line inputs: directories become the capture files inside.

use crate::error::{CaptureError, ErrorKind};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Deepest directory nesting followed by [`expand_inputs`].
pub const MAX_DIR_DEPTH: usize = 32;

/// True when the file starts like a capture (pcap, pcapng, or gzip whose
/// decompressed start is one).
fn looks_like_capture(path: &Path) -> bool {
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 4];
    if f.read_exact(&mut head).is_err() {
        return false;
    }
    if head[..2] == [0x1f, 0x8b] {
        let Ok(f) = fs::File::open(path) else {
            return false;
        };
        let mut inner = [0u8; 4];
        let mut dec = flate2::read::GzDecoder::new(f);
        return dec.read_exact(&mut inner).is_ok() && is_capture_magic(inner);
    }
    is_capture_magic(head)
}

fn is_capture_magic(m: [u8; 4]) -> bool {
    matches!(
        m,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    )
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), CaptureError> {
    let io = |e| CaptureError::new(dir, None, ErrorKind::Io(e));
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io)?;
    entries.sort();
    for p in entries {
        // symlink_metadata: do not follow symlinked directories (loops); a
        // symlink to a file is followed.
        let Ok(meta) = fs::symlink_metadata(&p) else {
            continue;
        };
        if meta.is_dir() {
            if depth < MAX_DIR_DEPTH {
                walk(&p, depth + 1, out)?;
            }
        } else if fs::metadata(&p).is_ok_and(|m| m.is_file()) && looks_like_capture(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Expands inputs: a file stays as given (even if it is not a capture: opening
/// it reports why); a directory becomes the capture files found inside it,
/// recursively (up to [`MAX_DIR_DEPTH`] levels, symlinked directories not
/// followed), recognised by magic rather than extension, sorted by path.
/// Inputs keep their order. A path that does not exist is an error.
pub fn expand_inputs(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CaptureError> {
    let mut out = Vec::new();
    for p in paths {
        let meta = fs::metadata(p).map_err(|e| CaptureError::new(p, None, ErrorKind::Io(e)))?;
        if meta.is_dir() {
            walk(p, 0, &mut out)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
