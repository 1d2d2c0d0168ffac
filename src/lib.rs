//! udpchat: a full-duplex chat over plain UDP, as a library.
//!
//! Each endpoint binds one UDP socket; every line of input is sent to the peer
//! as one datagram holding exactly the line's bytes (no header, no newline),
//! and every datagram received is printed as one line. That is the wire format
//! of the Python script udpchat grew from, so it also talks to `nc -u` and
//! `socat`, but unlike that script nobody waits for their turn: a receiver
//! thread and a sender thread share the socket.
//!
//! The whole API is a few types:
//!
//! - a [`Config`] says what an endpoint does: its [`Destination`] (one or
//!   several peers, everyone on the LAN by broadcast, or a multicast
//!   [`Group`]; whom a room [`Hears`]), and how lines are shown
//!   ([`display::Style`]);
//! - [`Chat::bind`] binds it, and [`Chat::run`] chats over any input and
//!   output until the input ends or a [`ShutdownHandle`] stops it, returning
//!   a [`Summary`];
//! - every failure is an [`Error`] naming what failed;
// `Secret` exists with the `secure` feature only; without it, no link.
#![cfg_attr(
    feature = "secure",
    doc = "- with a [`Secret`] in the `Config` (feature `secure`, on by default),"
)]
#![cfg_attr(
    not(feature = "secure"),
    doc = "- with a `Secret` in the `Config` (feature `secure`, on by default),"
)]
//!   lines are sealed: only those who hold it can read or write the chat.
//!
//! ```
//! use std::io::{self, Cursor};
//! use udpchat::{Chat, Config};
//!
//! # fn main() -> Result<(), udpchat::Error> {
//! // Send two lines to a peer on loopback, as `udpchat 127.0.0.1:PORT < file` does.
//! let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//! let loopback = "127.0.0.1:0".parse().unwrap();
//! let chat = Chat::bind(Config::peers(vec![peer.local_addr().unwrap()], loopback))?;
//! let summary = chat.run(Cursor::new("hello\nbye\n"), io::sink())?;
//! assert_eq!(summary.lines_sent, 2);
//! # Ok(())
//! # }
//! ```
//!
//! [`Chat`]'s documentation has two endpoints chatting. The `udpchat` binary
//! (the `cli` feature, on by default) adds the command line and a line editor
//! at the terminal; `default-features = false` builds the plain chat engine
//! alone, and `features = ["secure"]` adds secured chats to it.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod chat;
mod config;
#[cfg(feature = "discover")]
pub mod discover;
pub mod display;
mod error;
mod net;
mod progress;
mod receive;
mod reliable;
mod send;
mod stop;
mod summary;
mod throttle;
mod wire;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

// README.md's Rust blocks are doctests: `cargo test` compiles and runs them
// as written, so the README's library example cannot rot. (Its other blocks
// must name their language, `sh` or `text`: rustdoc takes a bare one for Rust.)
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use chat::{Chat, ShutdownHandle};
pub use config::{Config, Destination, Hears};
pub use error::{AddressProblem, Error, InterfaceProblem};
pub use net::room::{Group, Interface};
pub use progress::Progress;
pub use reliable::Reliable;
pub use summary::{Delivery, Ended, PeerDelivery, Secured, Summary};
#[cfg(feature = "secure")]
pub use wire::secret::Secret;
