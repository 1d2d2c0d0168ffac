//! Taking datagrams from the socket: many per system call on Linux, nothing allocated per datagram.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use crate::net::{RECV_BUFFER, canonical};

/// One datagram taken from the socket, borrowed from the [`Inbox`].
pub struct Datagram<'a> {
    /// Its bytes, in the inbox's buffer: a [`wire::Opener`](crate::wire::Opener)
    /// may open them in place.
    pub payload: &'a mut [u8],
    /// Where it came from, IPv4-mapped addresses made IPv4 (see
    /// [`canonical`]); `None` when the receiver was woken by
    /// [`wake_receiver`](crate::net::wake_receiver).
    pub from: Option<SocketAddr>,
    /// The socket's running total of datagrams the kernel dropped, as of when
    /// this one was queued. Linux attaches it (once
    /// [`drops::start_counting`](crate::receive::drops::start_counting) is on) to every datagram queued
    /// after the first drop; `None` on all others.
    pub drops_so_far: Option<u32>,
}

/// What one [`Inbox::recv`] found out about the socket's queue.
pub struct Batch {
    /// The queue was seen empty: whatever output is pending should go now.
    pub drained: bool,
    /// The socket's running total of drops, when it could not come with a
    /// datagram (see [`Inbox::recv`]).
    pub drops_so_far: Option<u32>,
}

/// Datagrams taken with one `recvmmsg`: a burst of small lines costs one
/// system call per this many, instead of one each. Measured on loopback (2
/// shared cores), a receiver draining a backlog of 60-byte datagrams spent
/// 2.03 µs of CPU on each with one per call, 1.46 with 4, 1.35 with 8 and
/// 1.35 with 16: 8 catches up 1.5x sooner than one at a time, before the
/// buffer fills, and holds at most 512 KiB (8 slots of 64 KiB).
#[cfg(target_os = "linux")]
const BATCH: usize = 8;

/// The receiver's buffers, allocated once, and the calls that fill them.
#[cfg(target_os = "linux")]
pub struct Inbox {
    /// [`BATCH`] slots of [`RECV_BUFFER`] bytes in one allocation. It is large
    /// enough for the allocator to map it fresh, so a page of it is only
    /// resident once a datagram has reached it: a slot holding 60-byte lines
    /// costs one page, and only a burst of large datagrams costs all 512 KiB.
    buffer: Vec<u8>,
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
}

#[cfg(target_os = "linux")]
impl Inbox {
    /// Allocates the buffers.
    pub fn new() -> Inbox {
        Inbox {
            buffer: vec![0; BATCH * RECV_BUFFER],
            headers: Self::headers(),
        }
    }

    fn headers() -> nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage> {
        nix::sys::socket::MultiHeaders::preallocate(BATCH, Some(nix::cmsg_space!(u32)))
    }

    /// Takes the datagrams queued now, at most [`BATCH`], and calls `each`
    /// with each one until it returns false. With `wait` it first blocks until
    /// there is one; without, an empty queue is `WouldBlock`.
    pub fn recv(
        &mut self,
        socket: &UdpSocket,
        wait: bool,
        mut each: impl FnMut(Datagram<'_>) -> bool,
    ) -> io::Result<Batch> {
        use nix::sys::socket::{MsgFlags, recvmmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        // MSG_WAITFORONE: block for the first datagram only, then take what
        // is queued. Fewer than BATCH back means the queue is empty.
        let flags = if wait {
            MsgFlags::MSG_WAITFORONE
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        // What each datagram taken is, noted first: the slots can be handed
        // out mutably only once nix's borrow of them has ended.
        let mut taken = [(0, None, None); BATCH];
        let mut count = 0;
        let mut control_truncated = false;
        {
            let mut slots = self.buffer.chunks_mut(RECV_BUFFER);
            let mut iovs: [[IoSliceMut<'_>; 1]; BATCH] =
                std::array::from_fn(|_| [IoSliceMut::new(slots.next().expect("BATCH slots"))]);
            for msg in recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                iovs.iter_mut(),
                flags,
                None,
            )? {
                control_truncated |= msg.flags.contains(MsgFlags::MSG_CTRUNC);
                let drops_so_far = msg.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|cmsg| match cmsg {
                        nix::sys::socket::ControlMessageOwned::RxqOvfl(total) => Some(total),
                        _ => None,
                    })
                });
                taken[count] = (msg.bytes, address(msg.address), drops_so_far);
                count += 1;
            }
        }
        for (slot, &(len, from, drops_so_far)) in self.buffer.chunks_mut(RECV_BUFFER).zip(&taken[..count]) {
            let datagram = Datagram {
                payload: &mut slot[..len],
                from,
                drops_so_far,
            };
            if !each(datagram) {
                break;
            }
        }
        // nix 0.30 does not restore a slot's room for control data between
        // calls, and the kernel sets it to what it wrote: nothing, until the
        // first drop. The first datagrams carrying a drop count then come back
        // truncated. Fresh headers take the next ones whole, and as every
        // datagram carries a count from then on, the room stays right: this
        // happens once per socket, not per datagram. The count that was cut
        // off is read from /proc now, for no datagram may follow it.
        // See: https://github.com/nix-rust/nix/pull/2813
        let mut drops_so_far = None;
        if control_truncated {
            self.headers = Self::headers();
            drops_so_far = crate::receive::drops::total(socket);
        }
        Ok(Batch {
            drained: count < BATCH,
            drops_so_far,
        })
    }
}

/// Errors the kernel queued for the socket (with `IP_RECVERR`, see
/// [`net::report_errors`](crate::net::report_errors)), taken until none is left.
#[cfg(target_os = "linux")]
impl Inbox {
    /// Takes every error queued now (`MSG_ERRQUEUE`, never blocking) and
    /// calls `each` with the address the refused datagram was sent to, and
    /// the error: ICMP errors only (a peer not listening, a host or network
    /// unreachable). Returns how many were queued, ICMP or not.
    pub fn errors(
        &mut self,
        socket: &UdpSocket,
        mut each: impl FnMut(Option<SocketAddr>, io::Error),
    ) -> usize {
        use nix::libc::{SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6, sock_extended_err};
        use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        let mut taken = 0;
        // The refused datagram comes back as the data; its first bytes are plenty.
        let mut payload = [0u8; 64];
        let mut control = nix::cmsg_space!(sock_extended_err, nix::libc::sockaddr_in6);
        loop {
            let mut iov = [IoSliceMut::new(&mut payload)];
            let flags = MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT;
            let Ok(msg) = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, Some(&mut control), flags)
            else {
                // EAGAIN: the queue is empty.
                return taken;
            };
            taken += 1;
            let to = address(msg.address);
            let Ok(cmsgs) = msg.cmsgs() else { continue };
            for cmsg in cmsgs {
                let err = match cmsg {
                    ControlMessageOwned::Ipv4RecvErr(err, _) | ControlMessageOwned::Ipv6RecvErr(err, _) => {
                        err
                    }
                    _ => continue,
                };
                if err.ee_origin == SO_EE_ORIGIN_ICMP || err.ee_origin == SO_EE_ORIGIN_ICMP6 {
                    each(to, io::Error::from_raw_os_error(err.ee_errno as i32));
                } else {
                    log::debug!(
                        "the kernel reported {} for a datagram to {to:?}",
                        io::Error::from_raw_os_error(err.ee_errno as i32)
                    );
                }
            }
        }
    }
}

/// The receiver's buffer, allocated once, and the call that fills it.
#[cfg(not(target_os = "linux"))]
pub struct Inbox {
    buffer: Vec<u8>,
}

#[cfg(not(target_os = "linux"))]
impl Inbox {
    /// Allocates the buffer.
    pub fn new() -> Inbox {
        Inbox {
            buffer: vec![0; RECV_BUFFER],
        }
    }

    /// Takes one datagram and calls `each` with it. With `wait` false it does
    /// not block and returns `WouldBlock` when the queue is empty, which is how
    /// the receiver learns it is time to flush its output.
    #[cfg(unix)]
    pub fn recv(
        &mut self,
        socket: &UdpSocket,
        wait: bool,
        mut each: impl FnMut(Datagram<'_>) -> bool,
    ) -> io::Result<Batch> {
        use nix::sys::socket::{MsgFlags, SockaddrStorage, recvmsg};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;

        let flags = if wait {
            MsgFlags::empty()
        } else {
            MsgFlags::MSG_DONTWAIT
        };
        let mut iov = [IoSliceMut::new(&mut self.buffer)];
        let msg = recvmsg::<SockaddrStorage>(socket.as_raw_fd(), &mut iov, None, flags)?;
        let (len, from) = (msg.bytes, address(msg.address));
        each(Datagram {
            payload: &mut self.buffer[..len],
            from,
            drops_so_far: None,
        });
        Ok(Batch {
            drained: false,
            drops_so_far: None,
        })
    }

    /// Takes one datagram and calls `each` with it. Windows has no
    /// `MSG_DONTWAIT`, so without `wait` a `WSAPoll` that does not wait
    /// first asks whether one is queued: an empty queue is `WouldBlock`, and
    /// the receiver batches its output as it does everywhere else. (Making
    /// the socket non-blocking instead would make the sender's clone of it
    /// non-blocking too: Windows shares that mode between the two.)
    #[cfg(windows)]
    pub fn recv(
        &mut self,
        socket: &UdpSocket,
        wait: bool,
        mut each: impl FnMut(Datagram<'_>) -> bool,
    ) -> io::Result<Batch> {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};

        if !wait {
            let now = Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            let mut queue = [PollFd::new(socket, PollFlags::IN)];
            // Anything but "nothing yet" (a datagram, or an error such as
            // WSAECONNRESET) is for recv_from to report.
            if poll(&mut queue, Some(&now))? == 0 {
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        let (len, from) = socket.recv_from(&mut self.buffer)?;
        each(Datagram {
            payload: &mut self.buffer[..len],
            from: Some(canonical(from)),
            drops_so_far: None,
        });
        Ok(Batch {
            drained: false,
            drops_so_far: None,
        })
    }
}

/// No error queue to read: other systems report refusals, if at all, as
/// the error of a receive (see [`net::is_peer_unreachable`](crate::net::is_peer_unreachable)).
#[cfg(not(target_os = "linux"))]
impl Inbox {
    /// Takes nothing: there is no error queue here.
    pub fn errors(&mut self, _socket: &UdpSocket, _each: impl FnMut(Option<SocketAddr>, io::Error)) -> usize {
        0
    }
}

/// The sender's address as the kernel gave it, IPv4-mapped ones made IPv4.
#[cfg(unix)]
fn address(addr: Option<nix::sys::socket::SockaddrStorage>) -> Option<SocketAddr> {
    use nix::sys::socket::{AddressFamily, SockaddrLike};
    let addr = addr?;
    let addr = match addr.family()? {
        AddressFamily::Inet => SocketAddr::from(*addr.as_sockaddr_in()?),
        AddressFamily::Inet6 => SocketAddr::from(*addr.as_sockaddr_in6()?),
        _ => return None,
    };
    Some(canonical(addr))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::net;
    use crate::receive::drops;

    /// Takes every datagram up to and including `last`, waiting for it up
    /// to `patience`: loopback hands a datagram to the receiving socket in
    /// the kernel's own time, which under load comes after `send_to`
    /// returns. Returns each datagram's drop count, the batches' total
    /// from /proc, and whether `last` came (if not, everything queued was taken).
    fn take_through(
        inbox: &mut Inbox,
        socket: &UdpSocket,
        last: &[u8],
        patience: std::time::Duration,
    ) -> (Vec<Option<u32>>, Option<u32>, bool) {
        let deadline = std::time::Instant::now() + patience;
        let (mut counts, mut from_proc, mut seen) = (Vec::new(), None, false);
        while !seen {
            match inbox.recv(socket, false, |datagram| {
                counts.push(datagram.drops_so_far);
                seen = datagram.payload == last;
                !seen
            }) {
                Ok(batch) => from_proc = from_proc.or(batch.drops_so_far),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                    if std::time::Instant::now() >= deadline {
                        return (counts, from_proc, false);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err(err) => panic!("{err}"),
            }
        }
        (counts, from_proc, true)
    }

    /// Overflows the smallest receive buffer with datagrams nobody is
    /// reading, waits until the kernel has counted a drop (loopback hands
    /// datagrams over in the kernel's own time), takes what was queued, and
    /// then a datagram sent after them all (a fence, sent again should one
    /// still find the buffer full): everything before it has then been
    /// handed over, kept or dropped. Returns the batches' total from /proc,
    /// if one read it.
    fn overflow_and_drain(inbox: &mut Inbox, socket: &UdpSocket, from: &UdpSocket) -> Option<u32> {
        let to = socket.local_addr().unwrap();
        let before = drops::total(socket).unwrap();
        for _ in 0..40 {
            from.send_to(&[b'x'; 200], to).unwrap();
        }
        let deadline = std::time::Instant::now() + TEN_SECONDS;
        while drops::total(socket).unwrap() == before {
            assert!(std::time::Instant::now() < deadline, "a drop within 10 s");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let (_, mut from_proc, _) = take_through(inbox, socket, b"", std::time::Duration::ZERO);
        for fence in 0..100u32 {
            let fence = fence.to_be_bytes();
            from.send_to(&fence, to).unwrap();
            let (_, read, came) = take_through(inbox, socket, &fence, std::time::Duration::from_millis(200));
            from_proc = from_proc.or(read);
            if came {
                return from_proc;
            }
        }
        panic!("no fence got through in 100 tries");
    }

    const TEN_SECONDS: std::time::Duration = std::time::Duration::from_secs(10);

    #[test]
    fn drop_counts_keep_arriving_with_datagrams_after_the_first_drop() {
        let socket = net::bind("127.0.0.1:0".parse().unwrap(), Some(net::MIN_RECV_BUFFER)).unwrap();
        assert!(drops::start_counting(&socket));
        let to = socket.local_addr().unwrap();
        let from = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut inbox = Inbox::new();

        // Before any drop nothing carries a count, which is what leaves
        // nix's headers with no room for one.
        from.send_to(b"before", to).unwrap();
        let (counts, _, came) = take_through(&mut inbox, &socket, b"before", TEN_SECONDS);
        assert!(came, "before, within 10 s");
        assert_eq!(counts, [None]);

        // First drops: the datagram after them has its count cut off, so the
        // batch reads the total from /proc instead.
        let first = overflow_and_drain(&mut inbox, &socket, &from);
        let first = first.expect("the total after the first drops");
        assert!(first > 0);

        // Later drops come with the datagram after them again.
        overflow_and_drain(&mut inbox, &socket, &from);
        from.send_to(b"after again", to).unwrap();
        let (counts, from_proc, came) = take_through(&mut inbox, &socket, b"after again", TEN_SECONDS);
        assert!(came, "after again, within 10 s");
        let total = drops::total(&socket).unwrap();
        assert!(total > first);
        assert_eq!((counts, from_proc), (vec![Some(total)], None));
    }
}

/// What every system's inbox does alike; the receiver's batching rests on it.
#[cfg(test)]
mod every_system {
    use super::*;
    use crate::net;

    #[test]
    fn without_waiting_takes_what_is_queued_then_says_the_queue_is_empty() {
        let socket = net::bind("127.0.0.1:0".parse().unwrap(), None).unwrap();
        let to = socket.local_addr().unwrap();
        let from = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut inbox = Inbox::new();
        let take = |inbox: &mut Inbox| {
            let mut taken = Vec::new();
            let result = inbox.recv(&socket, false, |datagram| {
                taken.push(datagram.payload.to_vec());
                true
            });
            match result {
                Ok(_) => Some(taken),
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => None,
                Err(err) => panic!("{err}"),
            }
        };
        assert_eq!(take(&mut inbox), None, "nothing was sent yet");

        from.send_to(b"queued", to).unwrap();
        // Peeking waits until the datagram is queued, and leaves it there.
        socket.peek_from(&mut [0; 64]).unwrap();
        assert_eq!(take(&mut inbox), Some(vec![b"queued".to_vec()]));
        assert_eq!(take(&mut inbox), None, "the one datagram was taken");
    }
}
