//! What the user's set-up says before a chat starts: a closed stdout, and who holds a port that is in use.

use std::net::SocketAddr;

/// Whether stdout (fd 1) was closed when udpchat started, as with
/// `udpchat ... >&-`. Rust's runtime opens `/dev/null` on a closed standard
/// descriptor before `main`, so every line received would be thrown away
/// without a word; only a check that runs earlier can tell. It runs from the
/// program's initialisers (`.init_array` on ELF systems, `__mod_init_func`
/// on macOS); elsewhere this is never true.
#[cfg(unix)]
pub fn stdout_was_closed() -> bool {
    closed_at_start::CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// On Windows a missing standard handle is null, and Rust discards what is
/// written to it: that is visible now.
#[cfg(windows)]
pub fn stdout_was_closed() -> bool {
    use std::os::windows::io::AsRawHandle;
    std::io::stdout().as_raw_handle().is_null()
}

#[cfg(not(any(unix, windows)))]
pub fn stdout_was_closed() -> bool {
    false
}

#[cfg(unix)]
mod closed_at_start {
    use std::sync::atomic::{AtomicBool, Ordering};

    pub static CLOSED: AtomicBool = AtomicBool::new(false);

    /// Asks whether fd 1 is open, before Rust's runtime fills the gap.
    extern "C" fn check() {
        use std::os::fd::AsFd;
        let stdout = std::io::stdout();
        let closed =
            nix::fcntl::fcntl(stdout.as_fd(), nix::fcntl::FcntlArg::F_GETFD) == Err(nix::errno::Errno::EBADF);
        CLOSED.store(closed, Ordering::Relaxed);
    }

    // SAFETY: the section holds pointers to functions the C runtime calls,
    // with no arguments, before `main`; `check` is such a function, and
    // only makes one system call and stores a flag.
    #[cfg(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly",
        target_os = "illumos",
        target_os = "solaris"
    ))]
    #[used]
    #[unsafe(link_section = ".init_array")]
    static CHECK: extern "C" fn() = check;

    // SAFETY: as above, macOS's section for initialiser pointers.
    #[cfg(target_vendor = "apple")]
    #[used]
    #[unsafe(link_section = "__DATA,__mod_init_func")]
    static CHECK: extern "C" fn() = check;
}

/// Which processes hold a UDP socket on `port`, as `NAME (pid N)`, where
/// the system can tell: Linux lists sockets in `/proc/net/udp` (and `udp6`)
/// by inode, and each process's descriptors in `/proc/PID/fd` (only those
/// of processes this user may look into).
#[cfg(target_os = "linux")]
pub fn holders_of(port: u16) -> Vec<String> {
    let hex_port = format!(":{port:04X}");
    let inodes: Vec<String> = ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                    let columns: Vec<&str> = line.split_whitespace().collect();
                    let (local, inode) = (columns.get(1)?, columns.get(9)?);
                    local.ends_with(&hex_port).then(|| format!("socket:[{inode}]"))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut holders = Vec::new();
    let Ok(processes) = std::fs::read_dir("/proc") else {
        return holders;
    };
    for process in processes.flatten() {
        let Some(pid) = process
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(process.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|link| {
                link.to_str()
                    .is_some_and(|link| inodes.iter().any(|inode| inode == link))
            })
        });
        if holds && pid != std::process::id() {
            let name = std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
            holders.push(format!("{} (pid {pid})", name.trim()));
        }
    }
    holders
}

/// Other systems do not say who holds a port without privileges or tools.
#[cfg(not(target_os = "linux"))]
pub fn holders_of(_port: u16) -> Vec<String> {
    Vec::new()
}

/// What to say after "cannot bind ADDR: Address already in use": who has the
/// port, if the system says, and how to run another udpchat beside it.
pub fn address_in_use_hint(addr: &SocketAddr) -> String {
    let port = addr.port();
    let other = if port == u16::MAX { port - 1 } else { port + 1 };
    let holders = holders_of(port);
    let who = if holders.is_empty() {
        format!("another program has UDP port {port}")
    } else {
        format!("UDP port {port} is held by {}", holders.join(", "))
    };
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        match addr {
            SocketAddr::V4(v4) => v4.ip().to_string(),
            SocketAddr::V6(v6) => format!("[{}]", v6.ip()),
        }
    };
    format!(
        "{who}; to run a second udpchat on this machine, bind another port, e.g. -b {ip}:{other}, \
         and give the other side {ip}:{other} as its peer"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hint_for_a_port_in_use_suggests_the_next_port_and_never_names_udpchat_itself() {
        // tests/errors.rs checks the holder named, from another process.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = socket.local_addr().unwrap();
        assert!(
            holders_of(addr.port()).is_empty(),
            "this process is not a holder to name"
        );
        let hint = address_in_use_hint(&addr);
        assert!(
            hint.contains(&format!("-b 127.0.0.1:{}", addr.port() + 1)),
            "{hint}"
        );
        let any: SocketAddr = "0.0.0.0:2323".parse().unwrap();
        assert!(address_in_use_hint(&any).contains("-b 127.0.0.1:2324"));
    }
}
