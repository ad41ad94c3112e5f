//! The case-insensitive short-key searcher of `stormwatch-simd` on arbitrary
//! windows and haystacks: the first byte gives the number of windows, each
//! window is a length byte (2–9) and its bytes, the rest is the haystack.
//! Checks that every kernel the CPU runs that holds the windows (nibble
//! tables with AVX-512BW, byte tables with VBMI, 16 or 32 buckets), and the
//! portable loop over each searcher's tables, report exactly the (window,
//! position) pairs a naive search finds, in increasing position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_simd::{CaselessTeddy, Kernel, MAX_WINDOWS};

fuzz_target!(|data: &[u8]| {
    let Some((&n, mut rest)) = data.split_first() else {
        return;
    };
    let n = 1 + usize::from(n) % MAX_WINDOWS;
    let mut windows: Vec<&[u8]> = Vec::new();
    for _ in 0..n {
        let Some((&l, r)) = rest.split_first() else {
            return;
        };
        let l = 2 + usize::from(l) % 8;
        if r.len() < l {
            return;
        }
        windows.push(&r[..l]);
        rest = &r[l..];
    }
    let hay = rest;
    let mut want = Vec::new();
    for p in 0..hay.len() {
        for (k, w) in windows.iter().enumerate() {
            if hay
                .get(p..p + w.len())
                .is_some_and(|h| h.eq_ignore_ascii_case(w))
            {
                want.push((k, p));
            }
        }
    }
    want.sort_unstable();
    let kernels = [Kernel::Scalar, Kernel::Avx512Bw, Kernel::Avx512Vbmi]
        .into_iter()
        .filter(|k| k.available() && windows.len() <= k.capacity());
    for (kernel, scalar) in kernels.flat_map(|k| [(k, false), (k, true)]) {
        let t = CaselessTeddy::with_kernel(&windows, kernel).expect("2–9 byte windows, held");
        let mut got = Vec::new();
        let mut last = 0;
        let mut f = |k: usize, p: usize| {
            assert!(p >= last, "positions must not go back");
            last = p;
            got.push((k, p));
            true
        };
        if scalar {
            t.find_scalar(hay, &mut f);
        } else {
            t.find(hay, &mut f);
        }
        got.sort_unstable();
        assert_eq!(got, want, "{kernel:?}, scalar loop {scalar}");
    }
});
