//! This host's network interfaces as the system lists them: names, indexes and addresses, alike on every platform.
//!
//! One crate, `if-addrs`, reads them everywhere (`getifaddrs` on Linux, macOS
//! and the BSDs, `GetAdaptersAddresses` on Windows), so a room hears its
//! networks and `--interface eth0` or `%eth0` work on Windows as on Linux. An
//! interface is known by its addresses: one that has none (down, or not
//! configured) is not listed, and so counts as absent. On Windows an
//! interface's name is its friendly name, as `Get-NetAdapter` shows it
//! (`Ethernet`, `Wi-Fi`).

use std::net::IpAddr;

use ipnet::IpNet;
use log::warn;

/// One address of this host, with the interface that holds it and its network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LocalAddr {
    /// The interface's name (`eth0`, `lo0`, `Ethernet`).
    pub interface: String,
    /// The interface's index (an IPv6 scope id), where the system gave one.
    pub index: Option<u32>,
    /// The address, with the prefix length of its network.
    pub net: IpNet,
}

/// This host's addresses with their networks, read now. Where the system
/// cannot list them, a warning says why and the list is empty.
pub(crate) fn local_addrs() -> Vec<LocalAddr> {
    let interfaces = match if_addrs::get_if_addrs() {
        Ok(interfaces) => interfaces,
        Err(err) => {
            warn!("cannot list this host's network interfaces: {err}");
            return Vec::new();
        }
    };
    interfaces
        .into_iter()
        .map(|interface| {
            let (ip, prefix) = match &interface.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), v4.prefixlen),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), v6.prefixlen),
            };
            // A prefix longer than the address cannot come from a kernel; a
            // network of one host is the safe reading of it.
            let net = IpNet::new(ip, prefix).unwrap_or_else(|_| IpNet::from(ip));
            LocalAddr {
                interface: interface.name,
                index: interface.index,
                net,
            }
        })
        .collect()
}

/// The index of the interface named `name`, if one of `local` is on it.
pub(crate) fn index_of(name: &str, local: &[LocalAddr]) -> Option<u32> {
    local
        .iter()
        .filter(|addr| addr.interface == name)
        .find_map(|addr| addr.index)
}

/// The name of the interface with index `index`, if one of `local` is on it.
pub(crate) fn name_of(index: u32, local: &[LocalAddr]) -> Option<&str> {
    local
        .iter()
        .find(|addr| addr.index == Some(index))
        .map(|addr| addr.interface.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn loopback(local: &[LocalAddr]) -> &LocalAddr {
        local
            .iter()
            .find(|addr| addr.net.addr() == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .expect("127.0.0.1 is a local address")
    }

    #[test]
    fn lists_the_loopback_address_with_its_network_and_index() {
        let local = local_addrs();
        let lo = loopback(&local);
        assert_eq!(lo.net.trunc().to_string(), "127.0.0.0/8");
        assert!(lo.index.is_some_and(|index| index != 0), "{lo:?}");
    }

    #[test]
    fn finds_an_interface_by_name_and_by_index() {
        let local = local_addrs();
        let lo = loopback(&local);
        let index = lo.index.unwrap();
        assert_eq!(index_of(&lo.interface, &local), Some(index));
        assert_eq!(name_of(index, &local), Some(lo.interface.as_str()));
        assert_eq!(index_of("nosuchif0", &local), None);
        assert_eq!(name_of(999_999, &local), None);
    }
}
