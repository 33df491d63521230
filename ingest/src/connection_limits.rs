//! How many connections may be open: at most a total the process's file-descriptor limit can
//! carry, and at most so many per client IP, so that neither one client nor a crowd of idle
//! connections can take every descriptor (after which nothing, `/healthz` included, is
//! answered, and the store cannot open a file).
//!
//! The accept loop in `connections` applies them: over the total, new connections wait in the
//! listen backlog; over a client's share, a new connection is closed at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use crate::http::guard::rate_key;

/// Connections allowed at once when the settings name no number.
pub const DEFAULT_MAX: usize = 10_000;
/// Descriptors kept for everything but connections: the store's files, standard streams.
const RESERVED_FILES: u64 = 64;

/// The cap on open connections: `wanted`, else [`DEFAULT_MAX`], but never more than the file
/// limit carries. Each connection is a descriptor, and a request for a widget file holds a
/// second one while it is sent, so half of the limit (less a reserve) goes to connections.
/// Returns the cap and whether `wanted` had to be lowered to it.
pub fn total_cap(wanted: Option<u32>, file_limit: Option<u64>) -> (usize, bool) {
    let carried = file_limit.map_or(usize::MAX, |files| {
        usize::try_from(files.saturating_sub(RESERVED_FILES) / 2).unwrap_or(usize::MAX).max(1)
    });
    match wanted {
        Some(wanted) => {
            let wanted = wanted as usize;
            (wanted.min(carried), wanted > carried)
        }
        None => (DEFAULT_MAX.min(carried), false),
    }
}

/// The number of files the process may open (`None`: no limit, or not known here).
pub fn file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// Raises the process's file limit to the most it may have (many systems start a service at
/// 1,024 with a far higher hard limit). Best effort: the limit stays as it was if refused.
pub fn raise_file_limit() {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        if limit.current != limit.maximum {
            let _ = setrlimit(Resource::Nofile, Rlimit { current: limit.maximum, maximum: limit.maximum });
        }
    }
}

/// Open connections per client IP (an IPv6 client by its /64 network, as the rate limit counts).
#[derive(Debug)]
pub struct PerIp {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

impl PerIp {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self { max, open: Mutex::new(HashMap::new()) })
    }

    /// A place for one more connection from `ip`, held until the returned slot is dropped;
    /// `None` when that client already holds its share.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<IpSlot> {
        let key = rate_key(ip);
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let count = open.entry(key).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(IpSlot { table: Arc::clone(self), key })
    }

    /// Connections `ip` holds now.
    pub fn open(&self, ip: IpAddr) -> usize {
        let open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        open.get(&rate_key(ip)).copied().unwrap_or(0)
    }

    /// Client addresses with a connection open (none are kept once their last one closes).
    pub fn clients(&self) -> usize {
        self.open.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

/// One connection's place in its client's share; gives it back when dropped.
#[derive(Debug)]
pub struct IpSlot {
    table: Arc<PerIp>,
    key: IpAddr,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_cap_follows_the_setting_within_what_the_file_limit_carries() {
        // (wanted, file limit) -> (cap, lowered)
        let cases = [
            (None, None, (DEFAULT_MAX, false)),
            (None, Some(1_000_000), (DEFAULT_MAX, false)),
            (None, Some(1024), (480, false)),
            (None, Some(20_000), (9_968, false)),
            (Some(500), Some(1024), (480, true)),
            (Some(100), Some(1024), (100, false)),
            (Some(50_000), None, (50_000, false)),
            (Some(50_000), Some(1_000_000), (50_000, false)),
            // A limit below the reserve still lets one connection in.
            (None, Some(10), (1, false)),
        ];
        for (wanted, files, expected) in cases {
            assert_eq!(total_cap(wanted, files), expected, "wanted {wanted:?}, file limit {files:?}");
        }
    }

    #[test]
    fn a_client_gets_its_share_and_gets_it_back_as_its_connections_close() {
        let table = PerIp::new(2);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        let other: IpAddr = "203.0.113.8".parse().unwrap();
        let first = table.admit(ip).expect("first");
        let second = table.admit(ip).expect("second");
        assert!(table.admit(ip).is_none(), "a third connection is over the share");
        assert!(table.admit(other).is_some(), "another client has its own share");
        drop(first);
        assert_eq!(table.open(ip), 1);
        let third = table.admit(ip).expect("a place was given back");
        drop((second, third));
        assert_eq!(table.open(ip), 0);
        assert_eq!(table.clients(), 0, "no entry is kept for a client with nothing open");
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network() {
        let table = PerIp::new(1);
        let _held = table.admit("2001:db8:1:2::1".parse().unwrap()).expect("first");
        assert!(table.admit("2001:db8:1:2:ffff::9".parse().unwrap()).is_none(), "same /64");
        assert!(table.admit("2001:db8:1:3::1".parse().unwrap()).is_some(), "another /64");
        // An IPv4 client seen through an IPv6 socket is the IPv4 client.
        let v4 = table.admit("198.51.100.1".parse().unwrap());
        assert!(v4.is_some());
        assert!(table.admit("::ffff:198.51.100.1".parse().unwrap()).is_none());
    }
}
