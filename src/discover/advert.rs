//! A chat's name on the LAN: its DNS-SD service registered while the chat lives, withdrawn with goodbye packets when it ends.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use log::{info, warn};

use super::found::{SERVICE_TYPE, TXT_VERSION};
use super::mdns::{self, Registration};
use super::name;
use crate::Error;
use crate::net::interfaces;

/// How long a withdrawal waits for the daemon to say its goodbye packets
/// went out: the exit is never held longer than this.
pub(crate) const WITHDRAW_WAIT: Duration = Duration::from_millis(500);

/// This chat's service on the LAN. Withdrawn once: by [`withdraw`](Advert::withdraw), or when dropped.
#[derive(Debug)]
pub(crate) struct Advert {
    /// The DNS-SD full name: `alice._udpchat._udp.local.`.
    fullname: String,
    /// The instance id in the TXT record, random for each run.
    id: String,
    withdrawn: AtomicBool,
}

/// What the TXT record says, besides the version and the id.
pub(crate) struct Record {
    /// The chat's port: where its peers send.
    pub port: u16,
    /// The address the chat bound: an unspecified one advertises every
    /// address of its family (both with a dual-stack `[::]`).
    pub bound: IpAddr,
    pub secured: bool,
    /// Where its lines come from when not the chat's port (a room member's sending socket).
    pub sending_port: Option<u16>,
}

impl Advert {
    /// Advertises `name` (checked: see [`name::problem`]) for the chat
    /// `record` describes. The daemon probes for the name first (RFC 6762
    /// section 8), then announces it; should another host hold it, the
    /// daemon renames this service `NAME (2)`, and a warning says so.
    pub fn start(name: &str, record: &Record) -> Result<Advert, Error> {
        if let Some(problem) = name::problem(name) {
            return Err(Error::InvalidName {
                name: name.to_owned(),
                problem,
            });
        }
        let id = instance_id();
        let addrs = advertised_addrs(record.bound);
        if addrs.is_empty() {
            return Err(Error::Discovery {
                op: "advertise the name",
                problem: format!("this host has no address for {} to advertise", record.bound),
            });
        }
        let mut txt = vec![
            ("v", TXT_VERSION.to_owned()),
            ("secured", if record.secured { "yes" } else { "no" }.to_owned()),
            ("id", id.clone()),
        ];
        if let Some(port) = record.sending_port {
            txt.push(("src", port.to_string()));
        }
        // A host name of its own, so this chat's address records never
        // clash with the host's (Avahi's, Bonjour's) or another udpchat's.
        let host = format!("udpchat-{id}.local.");
        let registration = Registration {
            name,
            host: &host,
            addrs: &addrs,
            port: record.port,
            txt: &txt,
        };
        let own = name.to_owned();
        let fullname = mdns::register(&registration, move |interface, new| {
            warn!(
                "the name {} is taken on the LAN (on {}): this udpchat answers to {} there",
                name::shown(&own),
                name::shown(interface),
                name::shown(new)
            );
        })?;
        info!(
            "advertising {} on the LAN ({SERVICE_TYPE} port {})",
            name::shown(name),
            record.port
        );
        Ok(Advert {
            fullname,
            id,
            withdrawn: AtomicBool::new(false),
        })
    }

    /// The instance id in the TXT record.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Withdraws the name: the daemon sends goodbye packets (records with a
    /// TTL of 0) at once and again 120 ms later. Waits at most `within` for
    /// the first to be sent. Later calls do nothing.
    pub fn withdraw(&self, within: Duration) {
        if !self.withdrawn.swap(true, Ordering::SeqCst) {
            mdns::unregister(&self.fullname, within);
        }
    }
}

impl Drop for Advert {
    fn drop(&mut self) {
        self.withdraw(WITHDRAW_WAIT);
    }
}

/// The addresses to advertise for a chat bound to `bound`: that one, or
/// every address of this host in its family (both families for `[::]`,
/// which is dual-stack). The daemon sends on each interface only that
/// interface's addresses.
fn advertised_addrs(bound: IpAddr) -> Vec<IpAddr> {
    if !bound.is_unspecified() {
        return vec![bound];
    }
    interfaces::local_addrs()
        .into_iter()
        .map(|local| local.net.addr())
        .filter(|ip| bound.is_ipv6() || ip.is_ipv4())
        .collect()
}

/// 16 hex digits, random for each run: what tells this udpchat's service
/// from another's with the same name. Not a secret.
fn instance_id() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        hasher.write_u128(since.as_nanos());
    }
    format!("{:016x}", hasher.finish())
}
