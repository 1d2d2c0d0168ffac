//! The one file that knows the mDNS stack (the `mdns-sd` crate): the process's daemon, a browse's events, a registration and its withdrawal.
//!
//! Everything else in `discover` speaks in udpchat's terms ([`Found`],
//! [`Event`]), so another stack would be another version of this file. On
//! NetBSD, where `mdns-sd` does not build (its socket crate lacks that
//! system's multicast calls), every call here fails with one clear error.

use std::net::IpAddr;
use std::time::Duration;

use super::found::Found;
use crate::Error;

/// What a browse tells.
pub(crate) enum Event {
    /// A service resolved: `None` when its records are not usable.
    Resolved(Option<Found>),
    /// A service withdrawn, by its full name.
    Removed(String),
    /// The browse stopped.
    Stopped,
    /// Anything else.
    Other,
}

/// What a registration says about a chat.
pub(crate) struct Registration<'a> {
    pub name: &'a str,
    pub host: &'a str,
    pub addrs: &'a [IpAddr],
    pub port: u16,
    pub txt: &'a [(&'a str, String)],
}

#[cfg(not(target_os = "netbsd"))]
pub(crate) use real::*;
#[cfg(target_os = "netbsd")]
pub(crate) use unsupported::*;

#[cfg(not(target_os = "netbsd"))]
mod real {
    use std::sync::OnceLock;

    use log::debug;
    use mdns_sd::{DaemonEvent, IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};

    use super::*;
    use crate::discover::found::SERVICE_TYPE;

    /// The events of one browse.
    pub(crate) struct Events(mdns_sd::Receiver<ServiceEvent>);

    impl Events {
        /// The next event, blocking; `None` once the daemon has ended the
        /// browse (it does when its queue to us is full).
        pub fn recv(&self) -> Option<Event> {
            self.0.recv().ok().map(event)
        }

        /// The events queued now, without blocking.
        pub fn queued(&self) -> impl Iterator<Item = Event> + '_ {
            self.0.try_iter().map(event)
        }
    }

    fn event(event: ServiceEvent) -> Event {
        match event {
            ServiceEvent::ServiceResolved(service) => Event::Resolved(Found::from_resolved(&service)),
            ServiceEvent::ServiceRemoved(_, fullname) => Event::Removed(fullname),
            ServiceEvent::SearchStopped(_) => Event::Stopped,
            _ => Event::Other,
        }
    }

    /// The process's daemon, started on first use and kept until the
    /// process ends, on every interface but loopback. Its periodic check of
    /// the host's interfaces is off: an idle udpchat must not wake on a
    /// timer (the trade-off: interfaces and addresses that appear after the
    /// start are not advertised).
    fn daemon() -> Result<&'static ServiceDaemon, Error> {
        static DAEMON: OnceLock<Result<ServiceDaemon, String>> = OnceLock::new();
        DAEMON
            .get_or_init(|| {
                let daemon = ServiceDaemon::new().map_err(|err| err.to_string())?;
                daemon.set_ip_check_interval(0).map_err(|err| err.to_string())?;
                // Not on loopback: a udpchat on this host is found at its LAN
                // address, as it is from other hosts, and that is the source
                // of its lines; a peer found at 127.0.0.1 would send from
                // another address than the one it was found at.
                daemon
                    .disable_interface(vec![IfKind::LoopbackV4, IfKind::LoopbackV6])
                    .map_err(|err| err.to_string())?;
                Ok(daemon)
            })
            .as_ref()
            .map_err(|problem| Error::Discovery {
                op: "start multicast DNS",
                problem: problem.clone(),
            })
    }

    fn failed(op: &'static str) -> impl FnOnce(mdns_sd::Error) -> Error {
        move |err| Error::Discovery {
            op,
            problem: err.to_string(),
        }
    }

    /// Browses for udpchats. mdns-sd keeps one browse per service type and
    /// daemon: a second call replaces the first.
    pub fn browse() -> Result<Events, Error> {
        let events = daemon()?
            .browse(SERVICE_TYPE)
            .map_err(failed("browse for udpchats"))?;
        Ok(Events(events))
    }

    /// Stops browsing: the browse's events end with [`Event::Stopped`].
    pub fn stop_browse() {
        if let Ok(daemon) = daemon() {
            let _ = daemon.stop_browse(SERVICE_TYPE);
        }
    }

    /// Registers the service; returns its full name. The daemon probes for
    /// the name first (RFC 6762 section 8), then announces it; should
    /// another host hold it, it renames the service `NAME (2)` and
    /// `renamed` is called with the interface and the new name.
    pub fn register(
        registration: &Registration,
        renamed: impl Fn(&str, &str) + Send + 'static,
    ) -> Result<String, Error> {
        let daemon = daemon()?;
        let info = ServiceInfo::new(
            SERVICE_TYPE,
            registration.name,
            registration.host,
            registration.addrs,
            registration.port,
            registration.txt,
        )
        .map_err(failed("advertise the name"))?;
        let fullname = info.get_fullname().to_owned();
        let monitor = daemon.monitor().ok();
        daemon.register(info).map_err(failed("advertise the name"))?;
        if let Some(events) = monitor {
            watch_renames(events, fullname.clone(), renamed);
        }
        Ok(fullname)
    }

    /// Tells each rename of `fullname`. The thread blocks on the daemon's
    /// rare events, and ends with the daemon.
    fn watch_renames(
        events: mdns_sd::Receiver<DaemonEvent>,
        fullname: String,
        renamed: impl Fn(&str, &str) + Send + 'static,
    ) {
        let spawned = std::thread::Builder::new()
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
                        renamed(&change.intf_name, new);
                    }
                }
            });
        if let Err(err) = spawned {
            debug!("cannot watch for renames: {err}");
        }
    }

    /// Withdraws the service: goodbye packets (its records with a TTL of 0)
    /// at once, and again 120 ms later. Waits at most `within` for the
    /// daemon to say the first went out.
    pub fn unregister(fullname: &str, within: Duration) {
        let Ok(daemon) = daemon() else { return };
        match daemon.unregister(fullname) {
            Ok(done) => match done.recv_timeout(within) {
                Ok(status) => debug!("withdrew {fullname}: {status:?}"),
                Err(err) => debug!("withdrawing {fullname}: no word from the daemon: {err}"),
            },
            Err(err) => debug!("cannot withdraw {fullname}: {err}"),
        }
    }
}

#[cfg(target_os = "netbsd")]
mod unsupported {
    use super::*;

    fn unsupported(op: &'static str) -> Error {
        Error::Discovery {
            op,
            problem: "multicast DNS is not supported on this system".into(),
        }
    }

    pub(crate) struct Events;

    impl Events {
        pub fn recv(&self) -> Option<Event> {
            None
        }

        pub fn queued(&self) -> impl Iterator<Item = Event> + '_ {
            std::iter::empty()
        }
    }

    pub fn browse() -> Result<Events, Error> {
        Err(unsupported("browse for udpchats"))
    }

    pub fn stop_browse() {}

    pub fn register(_: &Registration, _: impl Fn(&str, &str) + Send + 'static) -> Result<String, Error> {
        Err(unsupported("advertise the name"))
    }

    pub fn unregister(_: &str, _: Duration) {}
}
