//! The case-insensitive short-key searcher on markup-like text: every kernel
//! this CPU runs, with 60 windows (sixteen buckets) and with 120 (32
//! buckets, where the kernel holds them). The text is generated (words,
//! tags, attributes, numbers) and holds a few of the windows, so candidates
//! are verified at about the rate real HTML bodies give.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rng;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stormwatch_simd::{CaselessTeddy, Kernel};

/// About `n` bytes of markup-like text.
fn text(n: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the", "of", "and", "to", "in", "is", "for", "that", "with", "on", "this", "page",
        "search", "results", "content", "about", "contact", "home", "news", "more", "view",
        "class", "style", "width", "height", "script", "function", "return", "window", "document",
        "value", "input", "button", "table", "image", "Download", "Windows",
    ];
    const TAGS: &[&str] = &[
        "<div class=\"",
        "</div>\n",
        "<a href=\"/",
        "\">",
        "</a>",
        "<p>",
        "</p>\n",
        "<span id=\"",
        "<img src=\"/images/",
        ".png\" alt=\"",
        "<td>",
        "</td>",
        "<tr>\n",
    ];
    let mut r = rng(42);
    let mut v = Vec::with_capacity(n + 64);
    while v.len() < n {
        match r() % 10 {
            0..=5 => {
                v.extend_from_slice(WORDS[(r() % WORDS.len() as u64) as usize].as_bytes());
                v.push(b' ');
            }
            6..=8 => v.extend_from_slice(TAGS[(r() % TAGS.len() as u64) as usize].as_bytes()),
            _ => v.extend_from_slice(format!("{}", r() % 100_000).as_bytes()),
        }
    }
    v
}

/// `n` windows of 2–7 bytes: short keys as rule sets have them (file
/// extensions, script and exploit fragments, protocol words), then
/// generated ones.
fn windows(n: usize) -> Vec<Vec<u8>> {
    const KEYS: &[&str] = &[
        ".exe",
        ".scr",
        ".jar",
        ".hta",
        ".vbs",
        ".pif",
        "eval(",
        "unescape",
        "%u0c0c",
        "fromCharCode",
        "iframe",
        "ActiveX",
        "CLSID",
        "shell",
        "cmd.",
        "wscript",
        "MZ",
        "PK",
        "\x7fELF",
        "<?php",
        "base64",
        "POST ",
        "|dw|",
        "0x90",
        "%00",
        "../",
        "..\\",
        "passwd",
        "admin",
        "login",
        "wget ",
        "curl ",
        "chmod",
        "/bin/",
        "<script",
        "vbscript",
        "document.write",
        "createObject",
        "Shell.App",
        "ms-its",
        "mhtml",
        "javascript:",
    ];
    let mut r = rng(7);
    let mut v: Vec<Vec<u8>> = KEYS
        .iter()
        .map(|k| k.as_bytes()[..k.len().min(7)].to_vec())
        .collect();
    while v.len() < n {
        let len = 3 + (r() % 5) as usize;
        v.push(
            (0..len)
                .map(|_| b"qxzjkvw#@$~^"[(r() % 12) as usize])
                .collect(),
        );
    }
    v.truncate(n);
    v
}

fn bench(c: &mut Criterion) {
    let hay = text(256 * 1024);
    let mut g = c.benchmark_group("caseless_teddy");
    g.throughput(Throughput::Bytes(hay.len() as u64));
    for n in [60, 120] {
        let w = windows(n);
        let refs: Vec<&[u8]> = w.iter().map(Vec::as_slice).collect();
        for k in [Kernel::Scalar, Kernel::Avx512Bw, Kernel::Avx512Vbmi] {
            let Some(t) = CaselessTeddy::with_kernel(&refs, k) else {
                continue;
            };
            g.bench_function(format!("{k:?}/{n} windows"), |b| {
                b.iter(|| {
                    let mut hits = 0u64;
                    t.find(std::hint::black_box(&hay), &mut |_, _| {
                        hits += 1;
                        true
                    });
                    hits
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
