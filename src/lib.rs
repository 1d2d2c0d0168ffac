//! udpchat: a full-duplex terminal chat over plain UDP.
//!
//! Each endpoint binds one UDP socket; every line of input is sent to the peer
//! as one datagram holding exactly the line's bytes (no header, no newline),
//! and every datagram received is printed as one line. That is the wire format
//! of the Python script udpchat grew from, so it also talks to `nc -u` and
//! `socat`, but unlike that script nobody waits for their turn: a receiver
//! thread and a sender thread share the socket.
//!
//! The binary is a thin shell over [`Chat`]; see its documentation for two
//! endpoints chatting on loopback. A [`Config`]'s [`Destination`] says whom
//! an endpoint talks to: one or several peers, everyone on the LAN by
//! broadcast, or a multicast [`Group`]; the wire format is the same in each. [`display`] decides how a received
//! datagram is shown (sanitized, labelled, or as JSON), and [`terminal`] runs
//! a chat with a line editor when a person sits at a terminal.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod addr;
mod chat;
pub mod display;
mod error;
pub mod filter;
mod inbox;
pub mod lines;
mod net;
mod receiver;
mod room;
mod sender;
pub mod terminal;

pub use addr::{DEFAULT_PORT, HostPort};
pub use chat::{Chat, Config, DEFAULT_RECV_BUFFER, Destination, Ended, ShutdownHandle, Summary};
pub use error::Error;
pub use ipnet::IpNet;
pub use net::{MAX_PAYLOAD_V4, MAX_PAYLOAD_V6};
pub use room::{DEFAULT_TTL, Group, Interface};
