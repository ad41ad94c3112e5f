//! Integration tests of `stormwatch-proto` (one binary, submodules beside it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dns;
mod ftp;
mod http;
mod ident;
mod irc;
mod oracle;
mod pcapkit;
mod scenarios;
mod smtp;
mod ssh;
mod svcheck;
mod tftp;
mod tls;
