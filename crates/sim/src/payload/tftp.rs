//! TFTP (RFC 1350): RRQ, DATA, ACK, ERROR.

/// Opcodes.
pub mod op {
    /// Read request.
    pub const RRQ: u16 = 1;
    /// Data.
    pub const DATA: u16 = 3;
    /// Acknowledgment.
    pub const ACK: u16 = 4;
    /// Error.
    pub const ERROR: u16 = 5;
}

/// Block size of RFC 1350.
pub const BLOCK: usize = 512;

/// A read request for `file` in `mode` (`octet` or `netascii`).
pub fn rrq(file: &str, mode: &str) -> Vec<u8> {
    let mut v = op::RRQ.to_be_bytes().to_vec();
    v.extend_from_slice(file.as_bytes());
    v.push(0);
    v.extend_from_slice(mode.as_bytes());
    v.push(0);
    v
}

/// A DATA packet.
pub fn data(block: u16, bytes: &[u8]) -> Vec<u8> {
    let mut v = op::DATA.to_be_bytes().to_vec();
    v.extend_from_slice(&block.to_be_bytes());
    v.extend_from_slice(bytes);
    v
}

/// An ACK packet.
pub fn ack(block: u16) -> Vec<u8> {
    let mut v = op::ACK.to_be_bytes().to_vec();
    v.extend_from_slice(&block.to_be_bytes());
    v
}

/// An ERROR packet.
pub fn error(code: u16, msg: &str) -> Vec<u8> {
    let mut v = op::ERROR.to_be_bytes().to_vec();
    v.extend_from_slice(&code.to_be_bytes());
    v.extend_from_slice(msg.as_bytes());
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets() {
        assert_eq!(rrq("x.exe", "octet"), b"\x00\x01x.exe\x00octet\x00");
        assert_eq!(data(1, b"ab"), b"\x00\x03\x00\x01ab");
        assert_eq!(ack(65535), b"\x00\x04\xff\xff");
        assert_eq!(
            error(1, "File not found"),
            b"\x00\x05\x00\x01File not found\x00"
        );
    }
}
