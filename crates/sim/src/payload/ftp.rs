//! FTP control-connection lines (RFC 959): commands, replies, PASV/PORT.

use std::net::Ipv4Addr;

/// A command line, `CMD arg\r\n` (or `CMD\r\n`).
pub fn command(cmd: &str, arg: Option<&str>) -> Vec<u8> {
    match arg {
        Some(a) => format!("{cmd} {a}\r\n").into_bytes(),
        None => format!("{cmd}\r\n").into_bytes(),
    }
}

/// A single-line reply, `NNN text\r\n`.
pub fn reply(code: u16, text: &str) -> Vec<u8> {
    format!("{code:03} {text}\r\n").into_bytes()
}

/// `h1,h2,h3,h4,p1,p2` for PORT and the 227 reply.
pub fn host_port(ip: Ipv4Addr, port: u16) -> String {
    let o = ip.octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        port >> 8,
        port & 0xff
    )
}

/// `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).`
pub fn pasv_reply(ip: Ipv4Addr, port: u16) -> Vec<u8> {
    reply(
        227,
        &format!("Entering Passive Mode ({}).", host_port(ip, port)),
    )
}

/// `PORT h1,h2,h3,h4,p1,p2`.
pub fn port_command(ip: Ipv4Addr, port: u16) -> Vec<u8> {
    command("PORT", Some(&host_port(ip, port)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pasv_and_port_encode_the_port_in_two_bytes() {
        assert_eq!(
            pasv_reply(Ipv4Addr::new(192, 0, 2, 21), 5001),
            b"227 Entering Passive Mode (192,0,2,21,19,137).\r\n"
        );
        assert_eq!(
            port_command(Ipv4Addr::new(10, 1, 2, 3), 1030),
            b"PORT 10,1,2,3,4,6\r\n"
        );
        assert_eq!(command("RETR", Some("x.exe")), b"RETR x.exe\r\n");
        assert_eq!(
            reply(226, "Transfer complete."),
            b"226 Transfer complete.\r\n"
        );
    }
}
