//! What the user's set-up says before a chat starts: a closed stdout, and who holds a port that is in use.

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

/// Which processes hold a UDP socket on `port`, each named as it was run
/// (see [`named`]), where the system can tell: Linux lists sockets in
/// `/proc/net/udp` (and `udp6`) by inode, and each process's descriptors in
/// `/proc/PID/fd` (only those of processes this user may look into).
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
            let command_line = std::fs::read(process.path().join("cmdline")).unwrap_or_default();
            let comm = std::fs::read_to_string(process.path().join("comm")).unwrap_or_default();
            holders.push(named(pid, &command_line, comm.trim()));
        }
    }
    holders
}

/// Other systems do not say who holds a port without privileges or tools.
#[cfg(not(target_os = "linux"))]
pub fn holders_of(_port: u16) -> Vec<String> {
    Vec::new()
}

/// A process as a user knows it: its command line as typed, the program by
/// its file name (`nc -u -l 2323 (pid 42)`, `python3 chat.py (pid 43)`),
/// cut short if long; `another udpchat (pid 44)`; or, where the command
/// line is empty (a process exiting), the kernel's name for it, `comm`
/// (which is the file `nc` links to, `nc.openbsd`, and at most 15 bytes).
/// `command_line` is `/proc/PID/cmdline`: arguments ended by NUL bytes.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn named(pid: u32, command_line: &[u8], comm: &str) -> String {
    const LONGEST: usize = 40;
    let text = String::from_utf8_lossy(command_line);
    let mut words = text.split('\0').filter(|word| !word.is_empty());
    let Some(program) = words.next() else {
        return format!("{comm} (pid {pid})");
    };
    let program = program.rsplit('/').next().unwrap_or(program);
    if program == "udpchat" || program == "udpchat.exe" {
        return format!("another udpchat (pid {pid})");
    }
    let mut shown = program.to_owned();
    for word in words {
        if shown.chars().count() + 1 + word.chars().count() > LONGEST {
            shown.push_str(" ...");
            break;
        }
        shown.push(' ');
        shown.push_str(word);
    }
    format!("{shown} (pid {pid})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_named_by_its_command_line_as_typed() {
        assert_eq!(
            named(42, b"nc\0-u\0-l\x002323\0", "nc.openbsd"),
            "nc -u -l 2323 (pid 42)"
        );
        assert_eq!(
            named(43, b"/usr/bin/python3\0chat.py\0", "python3"),
            "python3 chat.py (pid 43)"
        );
        assert_eq!(
            named(
                44,
                b"/home/me/.cargo/bin/udpchat\x00192.168.1.6:2323\0",
                "udpchat"
            ),
            "another udpchat (pid 44)"
        );
        assert_eq!(named(45, b"", "socat"), "socat (pid 45)");
        let long = named(
            46,
            b"socat\0STDIO\0UDP:127.0.0.1:2324,bind=127.0.0.1:2323,reuseaddr\0",
            "socat",
        );
        assert_eq!(long, "socat STDIO ... (pid 46)");
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_is_not_a_holder_to_name() {
        // tests/errors.rs checks holders named, from other processes.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        assert!(holders_of(socket.local_addr().unwrap().port()).is_empty());
    }
}
