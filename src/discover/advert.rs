//! A chat's name on the LAN: its DNS-SD service registered while the chat lives, withdrawn with goodbye packets when it ends.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use log::{debug, info, warn};
use mdns_sd::{DaemonEvent, ServiceInfo};

use super::directory::daemon;
use super::found::{SERVICE_TYPE, TXT_VERSION};
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
        let daemon = daemon()?;
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
        let info = ServiceInfo::new(SERVICE_TYPE, name, &host, &addrs[..], record.port, &txt[..]).map_err(
            |err| Error::Discovery {
                op: "advertise the name",
                problem: err.to_string(),
            },
        )?;
        let fullname = info.get_fullname().to_owned();
        let monitor = daemon.monitor().ok();
        daemon.register(info).map_err(|err| Error::Discovery {
            op: "advertise the name",
            problem: err.to_string(),
        })?;
        info!(
            "advertising {} on the LAN ({SERVICE_TYPE} port {})",
            name::shown(name),
            record.port
        );
        if let Some(events) = monitor {
            watch_renames(events, fullname.clone(), name.to_owned());
        }
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
        if self.withdrawn.swap(true, Ordering::SeqCst) {
            return;
        }
        let Ok(daemon) = daemon() else { return };
        match daemon.unregister(&self.fullname) {
            Ok(done) => match done.recv_timeout(within) {
                Ok(status) => debug!("withdrew {}: {status:?}", self.fullname),
                Err(err) => debug!("withdrawing {}: no word from the daemon: {err}", self.fullname),
            },
            Err(err) => debug!("cannot withdraw {}: {err}", self.fullname),
        }
    }
}

impl Drop for Advert {
    fn drop(&mut self) {
        self.withdraw(WITHDRAW_WAIT);
    }
}

/// Tells when the daemon renamed this service because another host holds
/// its name: the DNS-SD way (RFC 6762 section 9), `alice (2)`. The thread
/// blocks on the daemon's rare events, and ends with the daemon.
fn watch_renames(events: mdns_sd::Receiver<DaemonEvent>, fullname: String, name: String) {
    let spawned = thread::Builder::new()
        .name("discover-names".into())
        .spawn(move || {
            let fullname = fullname.to_ascii_lowercase();
            while let Ok(event) = events.recv() {
                if let DaemonEvent::NameChange(change) = event
                    && change.original.to_ascii_lowercase() == fullname
                {
                    let new = change
                        .new_name
                        .strip_suffix(&format!(".{SERVICE_TYPE}"))
                        .unwrap_or(&change.new_name);
                    warn!(
                        "the name {} is taken on the LAN (on {}): this udpchat answers to {} there",
                        name::shown(&name),
                        name::shown(&change.intf_name),
                        name::shown(new)
                    );
                }
            }
        });
    if let Err(err) = spawned {
        debug!("cannot watch for renames: {err}");
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
