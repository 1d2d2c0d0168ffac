//! Finding udpchats on the LAN by name: multicast DNS service discovery (RFC 6762, RFC 6763), service type `_udpchat._udp`.
//!
//! A chat whose [`Config::name`](crate::Config::name) is set advertises
//! that name while it runs, with its port, its addresses, and a TXT record
//! (`v=1`, `secured=yes|no`, a random instance `id`, and for a room member
//! `src=PORT`, the port its lines come from), and withdraws it when it ends.
//! [`lookup`] finds a udpchat by its name, [`list`] lists them all.
//!
//! Everything here comes from the LAN, where anyone can answer: a name is
//! exactly as trustworthy as a source address. [`Found::shown_name`] shows a
//! name with anything that could act on a terminal, or hide, escaped.
//!
//! The mDNS stack is the `mdns-sd` crate: one daemon thread per process,
//! started on first use, with no periodic interface check, so an idle chat
//! that advertises a name sends nothing and wakes for nothing until
//! someone asks for it.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), udpchat::Error> {
//! for found in udpchat::discover::list(Duration::from_secs(2))? {
//!     println!("{} on port {}: {:?}", found.shown_name(), found.port, found.addrs);
//! }
//! let bob = udpchat::discover::lookup("bob", Some(Duration::from_secs(30)))?;
//! # Ok(())
//! # }
//! ```

// On NetBSD the mDNS stack is absent (see mdns.rs): what reads its answers is unused.
#![cfg_attr(target_os = "netbsd", allow(dead_code, unused_imports))]

mod advert;
mod directory;
mod found;
mod mdns;
mod name;

use std::time::{Duration, Instant};

pub(crate) use advert::{Advert, Record, WITHDRAW_WAIT};
pub(crate) use directory::{Cancel, Directory, Interest, Labels};
pub use found::{Found, SERVICE_TYPE};
pub use name::MAX_NAME_LEN;

use crate::Error;

/// Every udpchat that answers on the LAN within `listen`, by name. The
/// table is bounded (1,024 udpchats); names are as received, to be shown with
/// [`Found::shown_name`].
pub fn list(listen: Duration) -> Result<Vec<Found>, Error> {
    let directory = Directory::get();
    let interest = directory.interest()?;
    let deadline = Instant::now() + listen;
    directory.wait(Some(deadline), None, |_| None::<()>);
    let mut found = directory.snapshot();
    drop(interest);
    found.sort_by(|a, b| {
        a.name
            .to_lowercase()
            .cmp(&b.name.to_lowercase())
            .then(a.key.cmp(&b.key))
    });
    Ok(found)
}

/// The udpchats that answer to `name` on the LAN (names compare as DNS
/// names do: ASCII case aside). Waits until one answers, or for `wait`
/// (`None`: for ever); once one has answered, listens a little longer
/// (about a second) for another that answers to the same name, so a caller
/// can refuse to guess between two. An empty list: none answered in time.
pub fn lookup(name: &str, wait: Option<Duration>) -> Result<Vec<Found>, Error> {
    find(name, wait, None, None)
}

/// Checks a name for [`Config::name`](crate::Config::name): one DNS label of
/// at most 63 bytes of printable UTF-8, without `. : , [ ] < > \` (so it
/// cannot read as an address), not digits alone.
pub fn check_name(name: &str) -> Result<(), Error> {
    match name::problem(name) {
        None => Ok(()),
        Some(problem) => Err(Error::InvalidName {
            name: name.to_owned(),
            problem,
        }),
    }
}

/// [`lookup`], cut short by `cancel` (then `Err(Error::Interrupted)`), and
/// blind to the udpchat whose instance id is `own`.
pub(crate) fn find(
    name: &str,
    wait: Option<Duration>,
    cancel: Option<&Cancel>,
    own: Option<&str>,
) -> Result<Vec<Found>, Error> {
    check_name(name)?;
    let directory = Directory::get();
    let _interest = directory.interest()?;
    let matches = |found: &[Found]| -> Vec<Found> {
        found
            .iter()
            .filter(|found| found.name.eq_ignore_ascii_case(name))
            .filter(|found| own.is_none() || found.id.as_deref() != own)
            .cloned()
            .collect()
    };
    let deadline = wait.map(|wait| Instant::now() + wait);
    let flag = cancel.map(Cancel::flag);
    let first = directory.wait(deadline, flag, |found| {
        let found = matches(found);
        (!found.is_empty()).then_some(())
    });
    if cancel.is_some_and(Cancel::is_cancelled) {
        return Err(Error::Interrupted);
    }
    if first.is_none() {
        return Ok(Vec::new());
    }
    // Another that answers to the same name would have answered the same
    // query: listen a moment longer, however long `wait` was.
    let settle = Instant::now() + directory::SETTLE;
    directory.wait(Some(settle), flag, |found| {
        (matches(found).len() > 1).then_some(())
    });
    if cancel.is_some_and(Cancel::is_cancelled) {
        return Err(Error::Interrupted);
    }
    let mut found = matches(&directory.snapshot());
    found.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(found)
}
