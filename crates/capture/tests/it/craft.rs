//! Builders for capture files (bytes made in the test, no fixtures).

use std::io::Write;

/// One pcap record: seconds, fraction (µs or ns), captured bytes, wire length.
pub struct Rec<'a> {
    pub secs: u32,
    pub frac: u32,
    pub data: &'a [u8],
    pub orig_len: u32,
}

fn w32(v: &mut Vec<u8>, x: u32, be: bool) {
    v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

fn w16(v: &mut Vec<u8>, x: u16, be: bool) {
    v.extend(if be { x.to_be_bytes() } else { x.to_le_bytes() });
}

/// A legacy pcap file.
pub fn pcap(be: bool, nanos: bool, network: u32, snaplen: u32, recs: &[Rec<'_>]) -> Vec<u8> {
    let mut v = Vec::new();
    w32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }, be);
    w16(&mut v, 2, be);
    w16(&mut v, 4, be);
    w32(&mut v, 0, be);
    w32(&mut v, 0, be);
    w32(&mut v, snaplen, be);
    w32(&mut v, network, be);
    for r in recs {
        w32(&mut v, r.secs, be);
        w32(&mut v, r.frac, be);
        w32(&mut v, r.data.len() as u32, be);
        w32(&mut v, r.orig_len, be);
        v.extend_from_slice(r.data);
    }
    v
}

/// A pcapng file under construction.
pub struct Ng {
    pub be: bool,
    pub bytes: Vec<u8>,
    /// End offset of every block, and whether it holds a packet.
    pub ends: Vec<(usize, bool)>,
}

impl Ng {
    pub fn new() -> Self {
        Ng {
            be: false,
            bytes: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Appends a block of `kind` with `body` (padded to 4 bytes).
    pub fn block(&mut self, kind: u32, body: &[u8]) -> &mut Self {
        let mut b = body.to_vec();
        while !b.len().is_multiple_of(4) {
            b.push(0);
        }
        let len = (b.len() + 12) as u32;
        let be = self.be;
        w32(&mut self.bytes, kind, be);
        w32(&mut self.bytes, len, be);
        self.bytes.extend(&b);
        w32(&mut self.bytes, len, be);
        self.ends
            .push((self.bytes.len(), matches!(kind, 2 | 3 | 6)));
        self
    }

    /// Starts a section in the given byte order.
    pub fn shb(&mut self, be: bool) -> &mut Self {
        self.be = be;
        let mut body = Vec::new();
        w32(&mut body, 0x1a2b_3c4d, be);
        w16(&mut body, 1, be);
        w16(&mut body, 0, be);
        body.extend([0xff; 8]); // section length unknown
        // shb_userappl option, then end of options.
        let app = b"stormwatch-test";
        w16(&mut body, 4, be);
        w16(&mut body, app.len() as u16, be);
        body.extend(app);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        body.extend([0; 4]);
        self.block(0x0a0d_0d0a, &body)
    }

    /// An interface description; `tsresol`/`tsoffset` options when given.
    pub fn idb(
        &mut self,
        link: u16,
        snaplen: u32,
        tsresol: Option<u8>,
        tsoffset: Option<i64>,
    ) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        w16(&mut body, link, be);
        w16(&mut body, 0, be);
        w32(&mut body, snaplen, be);
        // if_name first, so the interesting options are not at the start.
        w16(&mut body, 2, be);
        w16(&mut body, 3, be);
        body.extend(b"lo0\0");
        if let Some(r) = tsresol {
            w16(&mut body, 9, be);
            w16(&mut body, 1, be);
            body.extend([r, 0, 0, 0]);
        }
        if let Some(o) = tsoffset {
            w16(&mut body, 14, be);
            w16(&mut body, 8, be);
            body.extend(if be { o.to_be_bytes() } else { o.to_le_bytes() });
        }
        body.extend([0; 4]);
        self.block(1, &body)
    }

    /// An enhanced packet block; `ts` in the interface's units.
    pub fn epb(&mut self, iface: u32, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        w32(&mut body, iface, be);
        w32(&mut body, (ts >> 32) as u32, be);
        w32(&mut body, ts as u32, be);
        w32(&mut body, data.len() as u32, be);
        w32(&mut body, orig_len, be);
        body.extend(data);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        // epb_flags option (inbound), end of options.
        w16(&mut body, 2, be);
        w16(&mut body, 4, be);
        w32(&mut body, 1, be);
        body.extend([0; 4]);
        self.block(6, &body)
    }

    /// A simple packet block.
    pub fn spb(&mut self, data: &[u8], orig_len: u32) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        w32(&mut body, orig_len, be);
        body.extend(data);
        self.block(3, &body)
    }

    /// An obsolete packet block (type 2).
    pub fn opb(&mut self, iface: u16, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let be = self.be;
        let mut body = Vec::new();
        w16(&mut body, iface, be);
        w16(&mut body, 0, be);
        w32(&mut body, (ts >> 32) as u32, be);
        w32(&mut body, ts as u32, be);
        w32(&mut body, data.len() as u32, be);
        w32(&mut body, orig_len, be);
        body.extend(data);
        self.block(2, &body)
    }

    pub fn done(&self) -> Vec<u8> {
        self.bytes.clone()
    }
}

/// Gzip-compresses `b`.
pub fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// A distinct frame body of `n` bytes.
pub fn body(tag: u8, n: usize) -> Vec<u8> {
    (0..n).map(|i| tag.wrapping_add(i as u8)).collect()
}
