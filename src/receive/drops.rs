//! Datagrams the kernel dropped for a full receive buffer: asking it to count them, and telling the user.
//!
//! Linux counts them per socket and, once asked (`SO_RXQ_OVFL`), attaches its
//! running total to every datagram queued after the first drop; the
//! [`Inbox`](crate::receive::inbox::Inbox) hands that number on. Drops after the last
//! datagram are attached to none, so at the end the total is read once more
//! from `/proc/net/udp`. No other system counts them.

use std::net::UdpSocket;
use std::time::Instant;

use log::{info, warn};

use crate::summary::count;
use crate::throttle::Throttle;

/// Asks the kernel to report, with received datagrams, how many it dropped
/// because the receive buffer was full. Returns false where drops cannot be counted.
#[cfg(target_os = "linux")]
pub fn start_counting(socket: &UdpSocket) -> bool {
    use nix::sys::socket::{setsockopt, sockopt::RxqOvfl};
    match setsockopt(socket, RxqOvfl, &1) {
        Ok(()) => {
            log::debug!("SO_RXQ_OVFL on: the kernel reports the datagrams it drops");
            true
        }
        Err(err) => {
            info!("cannot count datagrams the kernel drops: {err}");
            false
        }
    }
}

/// Asks the kernel to report drops; no other system can.
#[cfg(not(target_os = "linux"))]
pub fn start_counting(_socket: &UdpSocket) -> bool {
    info!("this system cannot count the datagrams its kernel drops");
    false
}

/// The socket's running total of dropped datagrams, read from `/proc/net/udp`
/// (or `udp6`), whose `drops` column is the same counter `SO_RXQ_OVFL` reports.
pub fn total(socket: &UdpSocket) -> Option<u32> {
    KernelCount::of(socket)?.total()
}

/// Where the kernel keeps a socket's running total of drops, readable from
/// any thread at any time, even while the receiver is blocked: the chat's
/// end reads it there, and so does [`Progress::summary`](crate::Progress::summary)
/// for a chat that must quit before it has ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelCount {
    /// The socket's inode, which names it in `/proc/net/udp`.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    inode: u64,
}

impl KernelCount {
    /// The count of `socket`'s drops; `None` where the system keeps none
    /// that can be read.
    #[cfg(target_os = "linux")]
    pub fn of(socket: &UdpSocket) -> Option<KernelCount> {
        use std::os::fd::AsRawFd;
        // "socket:[12345]": the inode that identifies the socket in /proc/net/udp.
        let link = std::fs::read_link(format!("/proc/self/fd/{}", socket.as_raw_fd())).ok()?;
        let inode = link.to_str()?.strip_prefix("socket:[")?.strip_suffix(']')?;
        Some(KernelCount {
            inode: inode.parse().ok()?,
        })
    }

    /// The count of `socket`'s drops; no other system keeps one.
    #[cfg(not(target_os = "linux"))]
    pub fn of(_socket: &UdpSocket) -> Option<KernelCount> {
        None
    }

    /// The running total now; `None` if it cannot be read.
    #[cfg(target_os = "linux")]
    pub fn total(&self) -> Option<u32> {
        let inode = self.inode.to_string();
        ["/proc/net/udp", "/proc/net/udp6"].iter().find_map(|table| {
            let table = std::fs::read_to_string(table).ok()?;
            table.lines().skip(1).find_map(|line| {
                // sl local remote st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
                let columns: Vec<&str> = line.split_whitespace().collect();
                (columns.get(9) == Some(&inode.as_str())).then(|| columns.get(12)?.parse().ok())?
            })
        })
    }

    /// The running total; not known on this system.
    #[cfg(not(target_os = "linux"))]
    pub fn total(&self) -> Option<u32> {
        None
    }
}

/// `counted` drops brought up to the kernel's running `total`: the kernel's
/// counter is a u32 that wraps, and the difference still counts. A total
/// older than the count (a datagram queued before drops already counted)
/// looks like a huge difference, and adds nothing.
pub(crate) fn caught_up(counted: u64, total: u32) -> u64 {
    let new = total.wrapping_sub(counted as u32);
    if new > u32::MAX / 2 {
        counted
    } else {
        counted + u64::from(new)
    }
}

/// The receiver's count of drops: the kernel's running totals turned into a
/// count, and warnings at once, then at most once a second (so a flood of
/// drops does not become a flood of warnings), and at the end.
#[derive(Debug, Default)]
pub(crate) struct Drops {
    /// The last total seen from the kernel.
    total: u32,
    /// Drops counted in all.
    counted: u64,
    /// Drops not yet told on stderr.
    unreported: u64,
    warnings: Throttle,
}

impl Drops {
    /// Takes a new running total from the kernel; warns at once unless the
    /// last warning was less than a second ago, in which case the next drop
    /// or the end of the chat reports these too.
    pub fn update(&mut self, total: u32) {
        // The kernel's counter is a u32 that wraps; the difference still
        // counts. A total older than one seen already (a datagram queued
        // before the drops that /proc reported) looks like a huge difference.
        let new = total.wrapping_sub(self.total);
        if new == 0 || new > u32::MAX / 2 {
            return;
        }
        self.total = total;
        self.counted += u64::from(new);
        self.unreported += u64::from(new);
        if self.warnings.allows(Instant::now()) {
            self.warn();
        }
    }

    /// All drops counted so far.
    pub fn counted(&self) -> u64 {
        self.counted
    }

    /// At the end of the chat: drops after the last datagram (which none
    /// carried) taken from the kernel's total, when it `counts` them; the
    /// drops not told yet, told. Returns all drops, where they are counted.
    pub fn end(&mut self, socket: &UdpSocket, counts: bool) -> Option<u64> {
        if counts && let Some(total) = total(socket) {
            self.update(total);
        }
        self.warn();
        counts.then_some(self.counted)
    }

    /// Says how many datagrams were dropped since the last warning, if any.
    fn warn(&mut self) {
        if self.unreported > 0 {
            // The kernel counts what it drops, not whose it was: the
            // datagrams may be the peer's lines or a stranger's noise.
            warn!(
                "the kernel dropped {} sent to this chat while its receive buffer was full \
                 (it does not say whose: lines from the peer are lost if they were among them; \
                 a larger --recv-buffer, or --rate on the sender, helps)",
                count(std::mem::take(&mut self.unreported), "datagram")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_drops_from_running_totals_ignoring_stale_ones_and_wrapping() {
        let mut drops = Drops::default();
        drops.update(5);
        assert_eq!(drops.counted(), 5);
        drops.update(5);
        drops.update(3); // queued before the total already seen
        assert_eq!(drops.counted(), 5);
        drops.update(1 << 31);
        drops.update(u32::MAX - 1);
        drops.update(2); // the kernel's u32 wrapped
        assert_eq!(drops.counted(), u64::from(u32::MAX) + 3);
    }
}
