//! Has the target read what the runner wrote? (issue 13 items 8 and 9). A server that takes one
//! `recv()` for one whole message fails a split request only when the pieces land in separate
//! reads, and whether they do depends on when its loop runs: pieces written 15 ms apart, or even
//! 1.5 loop turns apart, meet in one read when the machine is loaded, and the same code passes
//! in one run and fails in the next (the CI saw it: a course server's `split-request` passed once
//! in 36 runs). Timing cannot make that certain; watching the target can.
//!
//! On Linux the kernel says how many bytes wait unread in every TCP socket of the machine
//! (`/proc/net/tcp` and `/proc/net/tcp6`, column `rx_queue`), the target's accepted socket
//! included, since targets are on loopback. The runner writes a piece, waits until its own
//! socket has no unacknowledged bytes (the piece reached the target's socket) and the target's
//! socket has none unread (the program called `recv()` and took it), and only then writes the
//! next piece: each piece is then a read of its own, whatever the load. Without `/proc`, or when
//! the target's socket is not visible (another system, another network namespace), the answer is
//! [`Seen::Unknown`] and the caller keeps its timed pauses.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::time::Instant;

/// What the runner could see of the target's reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Everything written so far was taken out of the target's socket by the program.
    Read,
    /// The target still had unread bytes when the wait ended.
    Unread,
    /// The system does not show the target's socket.
    Unknown,
}

/// Longest pause between two polls of the socket tables.
const MAX_POLL: Duration = Duration::from_millis(8);

/// Waits until the peer of the connection `local` → `peer` has read everything the runner wrote,
/// at most `cap`.
pub async fn until_read(local: SocketAddr, peer: SocketAddr, cap: Duration) -> Seen {
    let until = Instant::now() + cap;
    let mut poll = Duration::from_millis(1);
    loop {
        match queues(local, peer).await {
            None => return Seen::Unknown,
            Some(q) if q.ours_unacked == 0 && q.theirs_unread == 0 => return Seen::Read,
            Some(_) if Instant::now() >= until => return Seen::Unread,
            Some(_) => {}
        }
        tokio::time::sleep(poll.min(until.saturating_duration_since(Instant::now()))).await;
        poll = (poll * 2).min(MAX_POLL);
    }
}

/// The two queues that matter, as the kernel reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Queues {
    /// Bytes the runner wrote that the target's socket has not acknowledged.
    ours_unacked: u64,
    /// Bytes in the target's socket that its program has not read.
    theirs_unread: u64,
}

async fn queues(local: SocketAddr, peer: SocketAddr) -> Option<Queues> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let mut ours = None;
    let mut theirs = None;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = tokio::fs::read_to_string(table).await else { continue };
        for row in text.lines().skip(1).filter_map(Row::parse) {
            if row.is(local, peer) {
                ours = Some(row.tx_queue);
            } else if row.is(peer, local) {
                theirs = Some(row.rx_queue);
            }
        }
    }
    Some(Queues { ours_unacked: ours?, theirs_unread: theirs? })
}

/// Bytes the program listening on `listen`'s port has not taken out of its open connections,
/// plus the connections waiting in its accept queue (a listening socket's `rx_queue` is that
/// queue's length). None when the system does not show the tables. Every socket whose local port
/// is that port belongs to the target: spawned targets listen below every ephemeral range, so no
/// other socket of the machine uses it locally. A connection its client has closed is left out:
/// a handler stuck before its `recv()` keeps what an earlier case sent there unread forever, and
/// nothing it could read there would be a reply to anyone.
pub async fn unread_at(listen: SocketAddr) -> Option<u64> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let mut shown = false;
    let mut unread = 0u64;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = tokio::fs::read_to_string(table).await else { continue };
        shown = true;
        for row in text.lines().skip(1).filter_map(Row::parse) {
            let open = matches!(row.state, ESTABLISHED | LISTEN);
            if open && port_of(row.local) == Some(listen.port()) {
                unread = unread.saturating_add(row.rx_queue);
            }
        }
    }
    shown.then_some(unread)
}

/// The kernel's TCP states of the sockets [`unread_at`] counts.
const ESTABLISHED: u8 = 0x01;
const LISTEN: u8 = 0x0A;

fn port_of(field: &str) -> Option<u16> {
    u16::from_str_radix(field.rsplit_once(':')?.1, 16).ok()
}

/// One line of `/proc/net/tcp{,6}`: `sl local rem st tx_queue:rx_queue ...`, addresses as hex
/// words in the kernel's byte order, ports as hex.
#[derive(Debug, PartialEq, Eq)]
struct Row<'a> {
    local: &'a str,
    remote: &'a str,
    state: u8,
    tx_queue: u64,
    rx_queue: u64,
}

impl<'a> Row<'a> {
    fn parse(line: &'a str) -> Option<Self> {
        let mut fields = line.split_whitespace();
        let _slot = fields.next()?;
        let local = fields.next()?;
        let remote = fields.next()?;
        let state = u8::from_str_radix(fields.next()?, 16).ok()?;
        let (tx, rx) = fields.next()?.split_once(':')?;
        Some(Self {
            local,
            remote,
            state,
            tx_queue: u64::from_str_radix(tx, 16).ok()?,
            rx_queue: u64::from_str_radix(rx, 16).ok()?,
        })
    }

    /// True when this row is the socket bound to `local` and connected to `remote` (an IPv4
    /// address also matches its IPv4-mapped form, the way a dual-stack server sees it).
    fn is(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        matches_addr(self.local, local) && matches_addr(self.remote, remote)
    }
}

fn matches_addr(field: &str, addr: SocketAddr) -> bool {
    let Some((ip, port)) = field.split_once(':') else { return false };
    if u16::from_str_radix(port, 16).ok() != Some(addr.port()) {
        return false;
    }
    match addr.ip() {
        IpAddr::V4(v4) => {
            ip.eq_ignore_ascii_case(&kernel_hex(&v4.octets()))
                || ip.eq_ignore_ascii_case(&kernel_hex(&v4.to_ipv6_mapped().octets()))
        }
        IpAddr::V6(v6) => ip.eq_ignore_ascii_case(&kernel_hex(&v6.octets())),
    }
}

/// An address as `/proc/net/tcp` prints it: each 32-bit word in the machine's byte order.
fn kernel_hex(octets: &[u8]) -> String {
    octets
        .chunks_exact(4)
        .map(|w| format!("{:08X}", u32::from_ne_bytes([w[0], w[1], w[2], w[3]])))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn rows_parse_and_match_both_families() {
        let v4 =
            "   3: 0100007F:1F90 0100007F:C350 01 00000000:0000000A 00:00000000 00000000  1000 0 1";
        let row = Row::parse(v4).expect("a row");
        assert_eq!((row.tx_queue, row.rx_queue), (0, 10));
        let server: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let client: SocketAddr = "127.0.0.1:50000".parse().expect("addr");
        if cfg!(target_endian = "little") {
            assert!(row.is(server, client));
            assert!(!row.is(client, server));
            let mapped = "0: 0000000000000000FFFF00000100007F:1F90 \
                          0000000000000000FFFF00000100007F:C350 01 00000000:00000002 0";
            assert!(Row::parse(mapped).expect("a row").is(server, client));
        }
        assert_eq!(Row::parse("  sl  local_address rem_address   st tx_queue rx_queue"), None);
    }

    /// The watch sees a piece that the peer has not read, then sees it read once the peer reads.
    #[tokio::test]
    async fn unread_bytes_are_seen_until_the_peer_reads_them() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let mut ours = tokio::net::TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (mut theirs, _) = listener.accept().await.expect("accept");
        let (local, peer) = (ours.local_addr().expect("local"), ours.peer_addr().expect("peer"));
        ours.write_all(b"{\"action\":").await.expect("write");
        let before = until_read(local, peer, Duration::from_millis(50)).await;
        if !cfg!(target_os = "linux") {
            return;
        }
        assert_eq!(before, Seen::Unread);
        let mut buf = [0u8; 64];
        let n = theirs.read(&mut buf).await.expect("read");
        assert_eq!(n, 10);
        assert_eq!(until_read(local, peer, Duration::from_secs(5)).await, Seen::Read);
    }
}
