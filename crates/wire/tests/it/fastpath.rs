//! The decoder's shortcut for the common frame shape against the general
//! decoder, on every frame of the shared captures and on mutations of them
//! (cuts at every header offset, with and without a snaplen explaining them;
//! random header bytes: lengths, flags, fragment fields, options). Every
//! field, every anomaly and the position of every slice must agree. Skips
//! without shared data.

use std::path::PathBuf;
use stormwatch_capture::{CaptureFile, expand_inputs};
use stormwatch_wire::*;

use crate::shared_dir;

/// Every field of two decodings; slices by position and length.
fn same(a: &Decoded<'_>, b: &Decoded<'_>) -> bool {
    let at = |s: &[u8]| (s.as_ptr(), s.len());
    let opts = |d: &Decoded<'_>| {
        let v4 = match &d.l3 {
            L3::Ipv4(v) => Some(at(v.options)),
            _ => None,
        };
        let tcp = match &d.l4 {
            L4::Tcp(t) => Some(at(t.options)),
            _ => None,
        };
        (v4, tcp)
    };
    format!("{a:?}") == format!("{b:?}")
        && at(a.ip_header) == at(b.ip_header)
        && at(a.ip_payload) == at(b.ip_payload)
        && at(a.payload) == at(b.payload)
        && opts(a) == opts(b)
}

/// Decodes `f` both ways and records a disagreement; true when the result
/// is the common shape without anomalies (what the shortcut covers).
fn check(link: LinkType, f: &[u8], orig_len: u32, what: &str, bad: &mut Vec<String>) -> bool {
    let mut d = Decoded::default();
    decode_frame_into(&mut d, link, f, orig_len);
    let mut g = Decoded::default();
    decode_frame_general_into(&mut g, link, f, orig_len);
    if !same(&d, &g) && bad.len() < 20 {
        bad.push(format!(
            "{what}: {f:02x?}\n  used    {d:?}\n  general {g:?}"
        ));
    }
    g.anomalies.is_empty() && matches!(g.l4, L4::Tcp(_) | L4::Udp(_)) && g.vlan_count == 0
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

#[test]
fn shortcut_agrees_with_general_decoder_on_shared_captures() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let dirs: Vec<PathBuf> = [shared.join("corpus"), shared.join("suricata-verify/tests")]
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut bad = Vec::new();
    let (mut frames, mut common, mut mutants) = (0usize, 0usize, 0usize);
    for path in expand_inputs(&dirs).unwrap() {
        let Ok(cap) = CaptureFile::open(&path) else {
            continue;
        };
        let name = path.display().to_string();
        for (i, fr) in cap.frames(0).enumerate() {
            let Ok(fr) = fr else { break };
            let link = LinkType(fr.link_type.0);
            let what = format!("{name} frame {}", i + 1);
            frames += 1;
            if check(link, fr.data, fr.orig_len, &what, &mut bad) {
                common += 1;
            }
            // Mutations of the first frames of each capture.
            if i >= 300 || link != LinkType::ETHERNET {
                continue;
            }
            let f = fr.data;
            let len = f.len() as u32;
            for n in (0..f.len().min(70)).chain([f.len().saturating_sub(1)]) {
                for orig in [0, len] {
                    check(link, &f[..n], orig, &format!("{what} cut at {n}"), &mut bad);
                    mutants += 1;
                }
            }
            let mut m = f.to_vec();
            for _ in 0..40 {
                m.copy_from_slice(f);
                for _ in 0..1 + rng.next() % 2 {
                    let pos = (rng.next() % 70) as usize % m.len().max(1);
                    if let Some(b) = m.get_mut(pos) {
                        *b = match rng.next() % 3 {
                            0 => b.wrapping_add(1 + (rng.next() % 4) as u8),
                            1 => b.wrapping_sub(1 + (rng.next() % 4) as u8),
                            _ => rng.next() as u8,
                        };
                    }
                }
                let orig = if rng.next().is_multiple_of(2) {
                    0
                } else {
                    len + 40
                };
                check(link, &m, orig, &format!("{what} mutated"), &mut bad);
                mutants += 1;
            }
        }
    }
    println!("{frames} frames ({common} clean TCP/UDP), {mutants} mutants compared");
    assert!(frames > 10_000 && common > 5_000, "{frames} {common}");
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
