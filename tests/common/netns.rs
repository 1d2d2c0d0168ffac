//! Network namespaces a test makes itself, so broadcasts and multicasts never reach a real network.

use std::process::{Command, Stdio};
use std::time::Instant;

use super::{TIMEOUT, skip_or_fail, unique_number};

/// A network namespace made for one test, with only the interfaces the test
/// adds, so that broadcasts and multicasts never reach a real network. It is
/// deleted when dropped.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes a namespace and runs `setup` in it, each entry the arguments of
    /// one `ip` command (`["link", "set", "lo", "up"]`). Returns `None` where
    /// namespaces cannot be made (not root, no `ip`, a container without the
    /// capability), after [`skip_or_fail`] has said why: the test then
    /// returns, or in CI fails.
    pub fn new(setup: &[&[&str]]) -> Option<Netns> {
        let name = format!("udpchat-test-{}-{}", std::process::id(), unique_number());
        let added = Command::new("ip")
            .args(["netns", "add", &name])
            .stdin(Stdio::null())
            .output();
        match added {
            Ok(output) if output.status.success() => {}
            Ok(output) => {
                let why = String::from_utf8_lossy(&output.stderr);
                skip_or_fail(format_args!(
                    "cannot make a network namespace (ip netns add, which needs root): {}",
                    why.trim()
                ));
                return None;
            }
            Err(err) => {
                skip_or_fail(format_args!(
                    "cannot run ip (iproute2) to make a network namespace: {err}"
                ));
                return None;
            }
        }
        let netns = Netns { name };
        for args in setup {
            let output = Command::new("ip")
                .args(["-n", &netns.name])
                .args(*args)
                .stdin(Stdio::null())
                .output()
                .expect("run ip");
            if !output.status.success() {
                let why = String::from_utf8_lossy(&output.stderr);
                skip_or_fail(format_args!(
                    "cannot set up the namespace (ip {}): {}",
                    args.join(" "),
                    why.trim()
                ));
                return None;
            }
        }
        Some(netns)
    }

    /// The namespace's name, for `ip ... netns NAME`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS` (`["addr", "add", ...]`); false, saying why, if it fails.
    pub fn ip(&self, args: &[&str]) -> bool {
        let output = Command::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run ip");
        if !output.status.success() {
            let why = String::from_utf8_lossy(&output.stderr);
            eprintln!("ip {} failed: {}", args.join(" "), why.trim());
        }
        output.status.success()
    }

    /// `program` to be run inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Two namespaces, A (10.99.1.1) and B (10.99.1.2), joined by a veth pair
/// (`va` in A, `vb` in B) whose neighbours are set by hand, so no datagram
/// waits for ARP (the ARP queue drops silently, which would blur what is
/// counted). `a_setup` is run in A once the pair is there. `None` where
/// namespaces cannot be made (see [`skip_or_fail`]).
pub fn two_hosts(a_setup: &[&[&str]]) -> Option<(Netns, Netns)> {
    let b = Netns::new(&[&["link", "set", "lo", "up"]])?;
    let veth = [
        "link",
        "add",
        "va",
        "address",
        "02:00:00:00:99:01",
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "address",
        "02:00:00:00:99:02",
        "netns",
        b.name(),
    ];
    let mut setup: Vec<&[&str]> = vec![
        &["link", "set", "lo", "up"],
        &veth,
        &["addr", "add", "10.99.1.1/24", "dev", "va"],
        &["link", "set", "va", "up"],
        &[
            "neigh",
            "add",
            "10.99.1.2",
            "lladdr",
            "02:00:00:00:99:02",
            "dev",
            "va",
            "nud",
            "permanent",
        ],
    ];
    setup.extend_from_slice(a_setup);
    let a = Netns::new(&setup)?;
    for args in [
        &["addr", "add", "10.99.1.2/24", "dev", "vb"][..],
        &["link", "set", "vb", "up"],
        &[
            "neigh",
            "add",
            "10.99.1.1",
            "lladdr",
            "02:00:00:00:99:01",
            "dev",
            "vb",
            "nud",
            "permanent",
        ],
    ] {
        if !b.ip(args) {
            skip_or_fail(format_args!(
                "cannot set up the second namespace (ip {})",
                args.join(" ")
            ));
            return None;
        }
    }
    // Until the kernel has seen the carrier (its link watch may take a
    // second), the link's queue drops every datagram without a word.
    wait_until_up(&a, "va");
    wait_until_up(&b, "vb");
    Some((a, b))
}

/// Waits until `ip link` says `dev` is up (operationally, carrier seen).
pub fn wait_until_up(netns: &Netns, dev: &str) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let output = netns
            .command("ip")
            .args(["-o", "link", "show", dev])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&output.stdout).contains("state UP") {
            return;
        }
        assert!(Instant::now() < deadline, "{dev} never came up");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}
