// SPDX-License-Identifier: GPL-2.0

//! Traffic for the VM selftests, in one process per role so that a test
//! needs a handful of `exec`s instead of one per connection (process
//! start-up dominates in the emulated guest).
//!
//! - `serve NAME PORT`: answers every TCP connection and every UDP
//!   datagram on PORT (IPv4 and IPv6) with `NAME\n`.
//! - `tcp ADDR:PORT COUNT`: COUNT connections, one after the other.
//! - `serve-hold NAME PORT`: like `serve` for TCP, but keeps each
//!   connection open until the client closes it.
//! - `tcp-from ADDR:PORT COUNT SPORT`: COUNT connections one after the
//!   other, all from source port SPORT (a client reusing its port); one
//!   line each: who answered (its first line) and how many milliseconds
//!   `connect` took.
//! - `tcp-abort ADDR:PORT 1 SPORT`: connects from SPORT, prints who
//!   answered, and closes with a reset (which a firewall may eat: the
//!   client then loses its socket silently).
//! - `udp ADDR:PORT COUNT [SPORT]`: COUNT datagrams, each from a new
//!   socket (a new connection for IPVS), or all from source port SPORT.
//! - `udp-ports ADDR:PORT COUNT FIRST`: as `udp`, the datagrams from
//!   source ports FIRST, FIRST+1, ... (below the ephemeral range, so no
//!   earlier connection is hit by chance).
//! - `udp-one ADDR:PORT COUNT`: COUNT datagrams from one socket.
//! - `udp-probe ADDR:PORT [SPORT]`: one datagram (from source port
//!   SPORT); prints who answered, `refused` (an ICMP error came back) or
//!   `timeout`.
//! - `udp-ttl ADDR:PORT TTL [SPORT]`: one datagram sent with that TTL
//!   (IPv6: hop limit), from source port SPORT if given. Prints who
//!   answered, `time-exceeded` (an ICMP error said the packet ran out of
//!   hops on the way) or `timeout`.
//! - `udp-big ADDR:PORT SIZE [SPORT]`: one datagram of SIZE bytes (from
//!   SPORT if given; fragmented on the way when larger than the MTU);
//!   servers answer one that big with as many bytes. Prints who
//!   answered and the answer's size, `refused`, `too-big` (the path's
//!   MTU came back in an ICMP error) or `timeout`.
//! - `udp-exthdr ADDR:PORT COUNT`: as `udp`, over IPv6 with hop-by-hop
//!   and destination options headers in front of UDP.
//! - `udp6-exthdrs ADDR:PORT COUNT`: one datagram from fd00:1::2 behind
//!   COUNT destination options headers, over a raw IPv6 socket; prints
//!   who answered or `timeout`.
//! - `udp-send ADDR:PORT COUNT`: COUNT datagrams from one socket, not
//!   waiting for answers (prints nothing).
//! - `sip-send ADDR:PORT CALLID...`: from one socket, one SIP OPTIONS
//!   request per CALLID (`-` for a request without Call-ID, `!ID` for
//!   one whose Call-ID follows a line `Call-IDs ID`), not waiting
//!   for answers.
//! - `udp-answer PORT`: waits up to 20 s for one datagram on PORT, prints
//!   `from ADDR:PORT` (its source) and answers it with `answer`.
//! - `udp-call ADDR:PORT SPORT`: sends `call` from SPORT and prints the
//!   answer, or `timeout`.
//! - `ipsec-send ADDR COUNT`: COUNT ESP packets to ADDR over a raw
//!   socket, and over IPv4 COUNT AH packets (no SA: filler bytes).
//! - `ipsec-sink SECS`: counts the ESP and AH packets reaching this host
//!   for SECS seconds; prints `esp=N ah=N from=ADDR,...`.
//!
//! - `serve-echo NAME PORT [UDPADDR]`: TCP connections stay open and get
//!   `NAME\n` for every line they send; UDP datagrams are answered as by
//!   `serve`, from UDPADDR if given (a direct-routing real server answers
//!   from the virtual address, not its own).
//! - `hold ADDR:PORT TCP UDP GOFILE`: opens TCP connections and UDP
//!   flows (one socket each) to a `serve-echo` service, asks each once
//!   (UDP flows three times) and prints who answered (`tcp r1=N ...`, `udp r1=N ...`); then waits
//!   until GOFILE exists (a failover happens meanwhile), asks each again
//!   and prints `tcp same=N moved=N lost=N` and the same for UDP: same
//!   real server, another one, or no answer (reset, timeout).
//! - `steady ADDR:PORT TCP UDP GOFILE`: the same flows, asked round after
//!   round until GOFILE exists (a table resizes meanwhile); prints the
//!   same tallies over all rounds, and the rounds.
//!
//! - `sync-bad GROUP:PORT IFADDR COUNT SYNCID`: COUNT connection sync
//!   datagrams of SYNCID (one in 13 of the next id) to a backup's group
//!   from IFADDR, each malformed by construction
//!   (cut, wrong sizes, counts, versions, options; entries with unknown
//!   protocols, states or flags; another sync id), every entry's client in
//!   10.66/16; prints how a backup must count them: `bad=N skipped=N
//!   other=N` (whole datagrams dropped, entries skipped, other sync id).
//! - `sync-record GROUP:PORT IFADDR SECS FILE`: joins GROUP on the
//!   interface of IFADDR and writes every datagram that arrives within
//!   SECS seconds to FILE (each with a two-byte length); prints how many.
//! - `sync-replay GROUP:PORT IFADDR FILE`: sends the datagrams of FILE.
//!
//! Benchmark modes (`make bench`):
//! - `blast ADDR:PORT FLOWS SECS`: UDP as fast as it goes from FLOWS
//!   sockets (flows) for SECS seconds, `sendmmsg` batches of 64; prints
//!   the packets sent.
//! - `sink PORT SECS`: counts UDP packets on PORT for SECS seconds from
//!   the first one; prints packets per second.
//! - `tcp-rate ADDR:PORT SECS`: new connections one after the other for
//!   SECS seconds; prints connections per second.
//! - `bulk-sink PORT`: reads every TCP connection on PORT to its end and
//!   answers with the number of bytes it read.
//! - `bulk ADDR:PORT SECS`: writes to one TCP connection for SECS seconds;
//!   prints the megabits per second the server counted.
//! - `spray ADDR:PORT COUNT FIRST [syn]`: COUNT UDP datagrams (with
//!   `syn`: TCP SYNs, a SYN flood) over a raw IPv4 socket, each from its
//!   own client address and port (10.0.0.3 up, ports 1024 up; FIRST skips
//!   that many pairs), so that each one starts a connection; prints the
//!   packets sent.
//! - `icmp-unreach ADDR:PORT CPORT [bad]`: one ICMP port unreachable from
//!   10.0.0.2 to ADDR about a UDP datagram from ADDR:PORT to
//!   10.0.0.2:CPORT, over a raw socket (checks `schedule_icmp`); with
//!   `bad`, its ICMP checksum is wrong.
//! - `tcp-ack ADDR:PORT SPORT [FLAGS]`: one bare TCP ACK (no SYN first),
//!   or a segment with FLAGS (`0x06`: SYN and RST), from
//!   10.0.0.2:SPORT, over a raw socket (checks `sloppy_tcp`).
//!
//! Clients print `r1=N r2=N r3=N other=N`: who answered how often
//! ("other": no answer within 3 s, or an unknown name).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);
/// Datagrams from this size on are answered with as many bytes.
const BIG: usize = 1000;
const NAMES: [&str; 3] = ["r1", "r2", "r3"];

fn serve(name: &str, port: u16) -> std::io::Result<()> {
    // `[::]` takes IPv4 too (net.ipv6.bindv6only is 0 by default).
    let tcp = TcpListener::bind(("::", port))?;
    let udp = UdpSocket::bind(("::", port))?;
    let reply = format!("{name}\n");
    let udp_reply = reply.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, peer)) = udp.recv_from(&mut buf) {
            // Big questions get as big answers (`udp-big`).
            let mut reply = udp_reply.clone().into_bytes();
            if n >= BIG {
                reply.resize(n, b'.');
            }
            let _ = udp.send_to(&reply, peer);
        }
    });
    for s in tcp.incoming() {
        let Ok(mut s) = s else { continue };
        let _ = s.write_all(reply.as_bytes());
        // Close first, as a web server would: the client side sees FIN.
    }
    Ok(())
}

fn serve_hold(name: &str, port: u16) -> std::io::Result<()> {
    let tcp = TcpListener::bind(("::", port))?;
    let reply = format!("{name}\n");
    for s in tcp.incoming() {
        let Ok(mut s) = s else { continue };
        let _ = s.write_all(reply.as_bytes());
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        });
    }
    Ok(())
}

fn serve_echo(name: &str, port: u16, udp_addr: Option<IpAddr>) -> std::io::Result<()> {
    let tcp = TcpListener::bind(("::", port))?;
    let udp = UdpSocket::bind((udp_addr.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), port))?;
    let reply = format!("{name}\n");
    let udp_reply = reply.clone();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok((_, peer)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(udp_reply.as_bytes(), peer);
        }
    });
    for s in tcp.incoming() {
        let Ok(mut s) = s else { continue };
        let reply = reply.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                for _ in buf[..n].iter().filter(|&&b| b == b'\n') {
                    if s.write_all(reply.as_bytes()).is_err() {
                        return;
                    }
                }
            }
        });
    }
    Ok(())
}

/// One question on a held TCP connection: who answered.
fn ask_tcp(s: &mut TcpStream) -> Option<String> {
    s.write_all(b"q\n").ok()?;
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while s.read(&mut b).ok()? == 1 {
        if b[0] == b'\n' {
            return Some(answer(&line));
        }
        line.push(b[0]);
    }
    None
}

/// TCP connections and UDP flows (one socket each) to `to`, each asked
/// who answers once (UDP flows `udp_asks` times), with who answered first;
/// a TCP answer is awaited `tcp_wait` seconds.
type Flows = (
    Vec<(Option<TcpStream>, Option<String>)>,
    Vec<(Option<UdpSocket>, Option<String>)>,
);

fn open_flows(to: SocketAddr, tcp: u32, udp: u32, udp_asks: usize, tcp_wait: u64) -> Flows {
    let conns = (0..tcp)
        .map(|_| {
            let mut s = TcpStream::connect_timeout(&to, WAIT).ok();
            let who = s.as_mut().and_then(|s| {
                s.set_read_timeout(Some(Duration::from_secs(tcp_wait)))
                    .ok()?;
                ask_tcp(s)
            });
            (s, who)
        })
        .collect();
    let flows = (0..udp)
        .map(|_| {
            let s = udp_socket(to, 0);
            let who = s.as_ref().and_then(udp_once);
            for _ in 1..udp_asks {
                s.as_ref().and_then(udp_once);
            }
            (s, who)
        })
        .collect();
    (conns, flows)
}

fn hold(to: SocketAddr, tcp: u32, udp: u32, gofile: &str) -> Option<()> {
    // Three UDP questions: a flow is synced at its third packet (the
    // default sync_threshold).
    let (mut conns, flows) = open_flows(to, tcp, udp, 3, 5);
    print!("tcp ");
    report(conns.iter().map(|c| c.1.clone()));
    print!("udp ");
    report(flows.iter().map(|c| c.1.clone()));
    std::io::stdout().flush().ok()?;
    while !std::path::Path::new(gofile).exists() {
        std::thread::sleep(Duration::from_millis(100));
    }
    let tally = |pairs: Vec<(Option<String>, Option<String>)>| {
        let (mut same, mut moved, mut lost) = (0, 0, 0);
        for (before, after) in pairs {
            match (before, after) {
                (Some(b), Some(a)) if a == b => same += 1,
                (_, Some(_)) => moved += 1,
                _ => lost += 1,
            }
        }
        format!("same={same} moved={moved} lost={lost}")
    };
    let t: Vec<_> = conns
        .iter_mut()
        .map(|(s, who)| (who.clone(), s.as_mut().and_then(ask_tcp)))
        .collect();
    let u: Vec<_> = flows
        .iter()
        .map(|(s, who)| (who.clone(), s.as_ref().and_then(udp_once)))
        .collect();
    println!("tcp {}", tally(t));
    println!("udp {}", tally(u));
    Some(())
}

/// TCP and UDP flows asked again and again, round after round, until
/// `gofile` exists. Prints per protocol how many answers came from the
/// flow's first real server (`same`), from another (`moved`: the director
/// lost the connection and scheduled the flow anew) or none (`lost`; a
/// UDP question is asked up to three times before it counts as lost, as
/// the path may drop a datagram), and the rounds.
fn steady(to: SocketAddr, tcp: u32, udp: u32, gofile: &str) -> Option<()> {
    // The director may be busy with a flood and a resize: wait longer.
    let (mut conns, flows) = open_flows(to, tcp, udp, 1, 10);
    let (mut t, mut u) = ([0u64; 3], [0u64; 3]);
    let tally = |n: &mut [u64; 3], first: &Option<String>, now: Option<String>| match (first, now) {
        (Some(f), Some(a)) if *f == a => n[0] += 1,
        (_, Some(_)) => n[1] += 1,
        _ => n[2] += 1,
    };
    let mut rounds = 0u64;
    while !std::path::Path::new(gofile).exists() {
        for (s, first) in conns.iter_mut() {
            let a = s.as_mut().and_then(ask_tcp);
            tally(&mut t, first, a);
        }
        for (s, first) in &flows {
            let a = (0..3).find_map(|_| s.as_ref().and_then(udp_once));
            tally(&mut u, first, a);
        }
        rounds += 1;
    }
    println!("tcp same={} moved={} lost={}", t[0], t[1], t[2]);
    println!("udp same={} moved={} lost={}", u[0], u[1], u[2]);
    println!("rounds {rounds}");
    Some(())
}

/// A socket that sends to multicast `to` out of the interface of `ifaddr`.
fn mcast_sender(ifaddr: std::net::Ipv4Addr) -> Option<UdpSocket> {
    UdpSocket::bind((ifaddr, 0)).ok()
}

/// One version 1 sync message holding the IPv4 entries given as
/// (protocol, flags, state, client index).
fn sync_v1(syncid: u8, entries: &[(u8, u32, u16, u16)]) -> Vec<u8> {
    let mut m = vec![0, syncid, 0, 0, entries.len() as u8, 1, 0, 0];
    for &(proto, flags, state, i) in entries {
        m.extend_from_slice(&[0, proto, 0, 36]);
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&state.to_be_bytes());
        m.extend_from_slice(&i.to_be_bytes());
        m.extend_from_slice(&[0, 80, 0, 80]);
        m.extend_from_slice(&0u32.to_be_bytes());
        m.extend_from_slice(&300u32.to_be_bytes());
        m.extend_from_slice(&[10, 66, (i >> 8) as u8, i as u8, 10, 0, 0, 100, 10, 1, 0, 11]);
    }
    let n = m.len() as u16;
    m[2..4].copy_from_slice(&n.to_be_bytes());
    m
}

/// The malformed datagram number `i`, and how a backup counts it:
/// (dropped whole, entries skipped, other sync id).
fn sync_bad(i: u32, rng: &mut u64, sid: u8) -> (Vec<u8>, u32, u32, u32) {
    let mut r = || {
        *rng ^= *rng << 13;
        *rng ^= *rng >> 7;
        *rng ^= *rng << 17;
        *rng
    };
    let idx = (i % 60000) as u16;
    let good = |n: usize| {
        let e: Vec<_> = (0..n as u16)
            .map(|k| (6, 0, 1, idx.wrapping_add(k)))
            .collect();
        sync_v1(sid, &e)
    };
    let fix = |m: &mut Vec<u8>| {
        let n = m.len() as u16;
        m[2..4].copy_from_slice(&n.to_be_bytes());
    };
    match i % 13 {
        // Cut inside an entry, size field matching the cut.
        0 => {
            let mut m = good(3);
            m.truncate(8 + (r() % 100) as usize + 1);
            fix(&mut m);
            (m, 1, 0, 0)
        }
        // Size field not the datagram's length.
        1 => {
            let mut m = good(2);
            let n = (m.len() as u16).wrapping_add(1 + (r() % 50) as u16);
            m[2..4].copy_from_slice(&n.to_be_bytes());
            (m, 1, 0, 0)
        }
        // A count past the entries.
        2 => {
            let mut m = good(2);
            m[4] = 3 + (r() % 250) as u8;
            (m, 1, 0, 0)
        }
        // An entry length running past the end, or below its header.
        3 => {
            let mut m = good(2);
            let at = 8 + 36 + 2;
            let bad = if r() % 2 == 0 {
                37 + (r() % 4000) as u16
            } else {
                (r() % 4) as u16
            };
            m[at..at + 2].copy_from_slice(&bad.to_be_bytes());
            (m, 1, 0, 0)
        }
        // An entry version other than 0.
        4 => {
            let mut m = good(2);
            m[8 + 2] |= 0x10 << (r() % 4);
            (m, 1, 0, 0)
        }
        // An unknown address type.
        5 => {
            let mut m = good(1);
            m[8] = 2 + 2 * (r() % 100) as u8;
            (m, 1, 0, 0)
        }
        // A zero-length option, or one past the end.
        6 => {
            let mut m = good(1);
            m[8 + 3] = 40;
            m.extend_from_slice(&[1, if r() % 2 == 0 { 0 } else { 30 }, 0, 0]);
            fix(&mut m);
            (m, 1, 0, 0)
        }
        // Sequence data of the wrong size.
        7 => {
            let mut m = good(1);
            m[8 + 3] = 36 + 2 + 20;
            m.push(1);
            m.push(20);
            m.extend_from_slice(&[0; 20]);
            m.extend_from_slice(&[0; 2]);
            fix(&mut m);
            (m, 1, 0, 0)
        }
        // Entries stock skips: unknown protocol, state out of range,
        // one-packet, template without client port, unknown mandatory
        // option (the count says how many).
        8 => (
            sync_v1(
                sid,
                &[(47, 0, 1, idx), (6, 0, 11 + (r() % 100) as u16, idx)],
            ),
            0,
            2,
            0,
        ),
        9 => (
            sync_v1(
                sid,
                &[(17, 0x2000, 0, idx), (6, 0x1800, 0, idx), (132, 0, 15, idx)],
            ),
            0,
            3,
            0,
        ),
        10 => {
            let mut m = sync_v1(sid, &[(6, 0, 1, idx)]);
            m[8 + 3] = 40;
            m.extend_from_slice(&[5, 2, 0, 0]);
            fix(&mut m);
            (m, 0, 1, 0)
        }
        // Another sync id.
        11 => (
            sync_v1(sid.wrapping_add(1).max(1), &[(6, 0, 1, idx)]),
            0,
            0,
            1,
        ),
        // Shorter than any header.
        _ => {
            let n = (r() % 4) as usize;
            ((0..n).map(|_| r() as u8).collect(), 1, 0, 0)
        }
    }
}

fn sync_bad_send(to: SocketAddr, ifaddr: std::net::Ipv4Addr, count: u32, sid: u8) -> Option<()> {
    let s = mcast_sender(ifaddr)?;
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let (mut bad, mut skipped, mut other) = (0, 0, 0);
    for i in 0..count {
        let (m, b, k, o) = sync_bad(i, &mut rng, sid);
        s.send_to(&m, to).ok()?;
        bad += b;
        skipped += k;
        other += o;
        // Pace: the backup's receive buffer must not overflow.
        if i % 50 == 49 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    println!("bad={bad} skipped={skipped} other={other}");
    Some(())
}

fn sync_record(
    group: SocketAddr,
    ifaddr: std::net::Ipv4Addr,
    secs: u64,
    file: &str,
) -> Option<u32> {
    let SocketAddr::V4(g) = group else {
        return None;
    };
    let s = UdpSocket::bind(group).ok()?;
    s.join_multicast_v4(g.ip(), &ifaddr).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(200))).ok()?;
    let mut out = Vec::new();
    let mut n = 0;
    let mut buf = vec![0u8; 65536];
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if let Ok(len) = s.recv(&mut buf) {
            out.extend_from_slice(&(len as u16).to_be_bytes());
            out.extend_from_slice(&buf[..len]);
            n += 1;
        }
    }
    std::fs::write(file, out).ok()?;
    Some(n)
}

fn sync_replay(to: SocketAddr, ifaddr: std::net::Ipv4Addr, file: &str) -> Option<u32> {
    let s = mcast_sender(ifaddr)?;
    let data = std::fs::read(file).ok()?;
    let mut at = 0;
    let mut n = 0;
    while at + 2 <= data.len() {
        let len = usize::from(u16::from_be_bytes([data[at], data[at + 1]]));
        let m = data.get(at + 2..at + 2 + len)?;
        s.send_to(m, to).ok()?;
        at += 2 + len;
        n += 1;
    }
    Some(n)
}

fn answer(buf: &[u8]) -> String {
    String::from_utf8_lossy(buf).trim().to_string()
}

fn tcp_once(to: SocketAddr) -> Option<String> {
    let mut s = TcpStream::connect_timeout(&to, WAIT).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    Some(answer(&out))
}

/// A TCP connection from source port `sport` (std cannot bind before
/// connecting), and how long `connect` took.
fn connect_from(to: SocketAddr, sport: u16) -> Option<(TcpStream, Duration)> {
    use std::os::fd::FromRawFd;
    let SocketAddr::V4(to4) = to else {
        return None;
    };
    let sin = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let (local, remote) = (sin(0.into(), sport), sin(*to4.ip(), to4.port()));
    // SAFETY: plain socket calls on a descriptor this function owns, with
    // addresses that live through each call; the descriptor moves into a
    // `TcpStream` at once, which closes it.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        if fd < 0 {
            return None;
        }
        let s = TcpStream::from_raw_fd(fd);
        let one: libc::c_int = 1;
        let opt = std::ptr::from_ref(&one).cast();
        let optlen = std::mem::size_of_val(&one) as libc::socklen_t;
        libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, opt, optlen);
        if libc::bind(fd, std::ptr::from_ref(&local).cast(), len) != 0 {
            return None;
        }
        // The previous connection from this port may not be gone yet
        // (LAST_ACK): retry for a while.
        let mut tries = 0;
        loop {
            let start = std::time::Instant::now();
            if libc::connect(fd, std::ptr::from_ref(&remote).cast(), len) == 0 {
                return Some((s, start.elapsed()));
            }
            let again = std::io::Error::last_os_error().raw_os_error() == Some(libc::EADDRNOTAVAIL);
            tries += 1;
            if !again || tries > 50 {
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The first line the server sends.
fn first_line(s: &TcpStream) -> Option<String> {
    use std::io::BufRead;
    s.set_read_timeout(Some(WAIT)).ok()?;
    let mut line = String::new();
    std::io::BufReader::new(s).read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

fn udp_socket(to: SocketAddr, sport: u16) -> Option<UdpSocket> {
    let any: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], sport).into()
    } else {
        ([0u16; 8], sport).into()
    };
    let s = UdpSocket::bind(any).ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    // Connected: replies from any other source are not ours (checks SNAT).
    s.connect(to).ok()?;
    Some(s)
}

fn udp_once(s: &UdpSocket) -> Option<String> {
    s.send(b"q\n").ok()?;
    let mut buf = [0u8; 256];
    let n = s.recv(&mut buf).ok()?;
    Some(answer(&buf[..n]))
}

/// What one datagram of `size` bytes got back: `NAME SIZE`, `refused` or
/// `timeout`.
fn udp_big(s: &UdpSocket, size: usize) -> String {
    let mut q = vec![b'q'; size.max(1)];
    q[0] = b'?';
    let mut buf = vec![0u8; 65536];
    match s.send(&q).and_then(|_| s.recv(&mut buf)) {
        Ok(n) => {
            let name = String::from_utf8_lossy(&buf[..n.min(8)]);
            let name = name.split('\n').next().unwrap_or("");
            format!("{name} {n}")
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => "refused".into(),
        // "Fragmentation needed" or "packet too big" came back.
        Err(e) if e.raw_os_error() == Some(libc::EMSGSIZE) => "too-big".into(),
        Err(_) => "timeout".into(),
    }
}

/// One datagram with `ttl` hops to go; ICMP errors reach the connected
/// socket (`IP_RECVERR`: a soft error such as time exceeded too).
fn udp_ttl(s: &UdpSocket, ipv6: bool, ttl: u32) -> String {
    use std::os::fd::AsRawFd;
    let set = |level, opt, v: libc::c_int| {
        // SAFETY: sets an option on the socket `s` owns, from a value
        // that lives through the call.
        unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                level,
                opt,
                (&v as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        }
    };
    let ok = if ipv6 {
        set(libc::IPPROTO_IPV6, libc::IPV6_RECVERR, 1) == 0
            && set(
                libc::IPPROTO_IPV6,
                libc::IPV6_UNICAST_HOPS,
                ttl as libc::c_int,
            ) == 0
    } else {
        set(libc::IPPROTO_IP, libc::IP_RECVERR, 1) == 0
            && set(libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int) == 0
    };
    if !ok {
        return "error".into();
    }
    let mut buf = [0u8; 256];
    match s.send(b"q\n").and_then(|_| s.recv(&mut buf)) {
        Ok(n) => answer(&buf[..n]),
        Err(e) if e.raw_os_error() == Some(libc::EHOSTUNREACH) => "time-exceeded".into(),
        Err(_) => "timeout".into(),
    }
}

/// Puts an 8-byte options header of PadN (`IPV6_HOPOPTS` or
/// `IPV6_DSTOPTS`) in front of what the IPv6 socket `s` sends.
fn ipv6_options(s: &UdpSocket, which: libc::c_int) -> Option<()> {
    use std::os::fd::AsRawFd;
    // Next header and length are the kernel's to fill; PadN of 4 bytes.
    let opts: [u8; 8] = [0, 0, 1, 4, 0, 0, 0, 0];
    // SAFETY: sets an option on the socket `s` owns, from a buffer that
    // lives through the call.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IPV6,
            which,
            opts.as_ptr().cast(),
            opts.len() as libc::socklen_t,
        )
    };
    (r == 0).then_some(())
}

fn report(answers: impl Iterator<Item = Option<String>>) {
    let mut counts: BTreeMap<&str, u32> = NAMES.iter().map(|n| (*n, 0)).collect();
    let mut other = 0;
    for a in answers {
        match a.as_deref().and_then(|a| NAMES.iter().find(|n| **n == a)) {
            Some(n) => *counts.get_mut(n).unwrap() += 1,
            None => other += 1,
        }
    }
    let mut line: Vec<String> = counts.iter().map(|(n, c)| format!("{n}={c}")).collect();
    line.push(format!("other={other}"));
    println!("{}", line.join(" "));
}

/// One datagram in on `port`, one answer back to where it came from.
fn udp_answer(port: u16) -> std::io::Result<String> {
    let s = UdpSocket::bind(("::", port))?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    let mut buf = [0u8; 256];
    let Ok((_, peer)) = s.recv_from(&mut buf) else {
        return Ok("timeout".into());
    };
    // The answer may find no route (a source the client cannot reach).
    let _ = s.send_to(b"answer\n", peer);
    let peer = match peer {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::from((v4, v6.port())),
            None => peer,
        },
        v4 => v4,
    };
    Ok(format!("from {peer}"))
}

/// Sends UDP as fast as possible from `flows` sockets for `secs` seconds.
fn blast(to: SocketAddr, flows: u32, secs: u64) -> Option<u64> {
    use std::os::fd::AsRawFd;
    const BATCH: usize = 64;
    let socks: Vec<UdpSocket> = (0..flows)
        .map(|_| udp_socket(to, 0))
        .collect::<Option<_>>()?;
    let payload = *b"ipvs-rs bench pkt\n";
    let mut iov = [libc::iovec {
        iov_base: payload.as_ptr().cast_mut().cast(),
        iov_len: payload.len(),
    }];
    // SAFETY: `mmsghdr` is plain data; zero is a valid value.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for m in &mut msgs {
        m.msg_hdr.msg_iov = iov.as_mut_ptr();
        m.msg_hdr.msg_iovlen = 1;
    }
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    let mut sent = 0u64;
    while std::time::Instant::now() < end {
        for s in &socks {
            // SAFETY: the messages point at `iov` and `payload`, which
            // outlive the call; the socket is connected.
            let n = unsafe {
                libc::sendmmsg(s.as_raw_fd(), msgs.as_mut_ptr(), BATCH as libc::c_uint, 0)
            };
            if n > 0 {
                sent += n as u64;
            }
        }
    }
    Some(sent)
}

/// Counts UDP packets on `port` for `secs` seconds from the first one.
fn sink(port: u16, secs: u64) -> std::io::Result<f64> {
    use std::os::fd::AsRawFd;
    const BATCH: usize = 64;
    let s = UdpSocket::bind(("::", port))?;
    s.set_read_timeout(Some(Duration::from_millis(200)))?;
    let mut bufs = [[0u8; 64]; BATCH];
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: `mmsghdr` is plain data; zero is a valid value.
    let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
    for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut start = None;
    let mut count = 0u64;
    let give_up = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = std::time::Instant::now();
        match start {
            Some(t) if now >= t + Duration::from_secs(secs) => break,
            None if now >= give_up => break,
            _ => {}
        }
        // SAFETY: the messages point at `iovs` and `bufs`, which outlive
        // the call.
        let n = unsafe {
            libc::recvmmsg(
                s.as_raw_fd(),
                msgs.as_mut_ptr(),
                BATCH as libc::c_uint,
                0,
                std::ptr::null_mut(),
            )
        };
        if n > 0 {
            start.get_or_insert(now);
            count += n as u64;
        }
    }
    Ok(count as f64 / secs as f64)
}

/// Counts what each TCP connection on `port` sends, and answers with it.
fn bulk_sink(port: u16) -> std::io::Result<()> {
    let tcp = TcpListener::bind(("::", port))?;
    for s in tcp.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut total = 0u64;
            while let Ok(n @ 1..) = s.read(&mut buf) {
                total += n as u64;
            }
            let _ = writeln!(s, "{total}");
        });
    }
    Ok(())
}

/// Writes to one connection for `secs` seconds; megabits per second the
/// server read.
fn bulk(to: SocketAddr, secs: u64) -> Option<f64> {
    let mut s = TcpStream::connect_timeout(&to, WAIT).ok()?;
    let chunk = vec![0x5au8; 1 << 16];
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        s.write_all(&chunk).ok()?;
    }
    s.shutdown(std::net::Shutdown::Write).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let mut got = String::new();
    s.read_to_string(&mut got).ok()?;
    let bytes: u64 = got.trim().parse().ok()?;
    Some(bytes as f64 * 8.0 / 1e6 / start.elapsed().as_secs_f64())
}

/// A raw socket of `family` for IP protocol `protocol`; with
/// `IPPROTO_RAW` the packets sent are whole, IP header included.
fn raw_socket(family: i32, protocol: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: a plain socket call; the descriptor moves into an `OwnedFd`
    // at once, which closes it.
    let fd = unsafe { libc::socket(family, libc::SOCK_RAW, protocol) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` is a new descriptor nothing else owns.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Sends `buf` on `fd` to `to` (no port); whether all of it went.
fn send_to(fd: &std::os::fd::OwnedFd, buf: &[u8], to: IpAddr) -> bool {
    use std::os::fd::AsRawFd;
    let (sa4, sa6);
    let (sa, len): (*const libc::sockaddr, usize) = match to {
        IpAddr::V4(a) => {
            sa4 = sockaddr_v4(a);
            (std::ptr::from_ref(&sa4).cast(), std::mem::size_of_val(&sa4))
        }
        IpAddr::V6(a) => {
            // SAFETY: all-zero is a valid `sockaddr_in6`.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = a.octets();
            sa6 = sa;
            (std::ptr::from_ref(&sa6).cast(), std::mem::size_of_val(&sa6))
        }
    };
    // SAFETY: `buf` and the address `sa` points at live through the call.
    let n = unsafe {
        libc::sendto(
            fd.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            0,
            sa,
            len as libc::socklen_t,
        )
    };
    n == buf.len() as isize
}

/// `ip` as a `sockaddr_in` without port.
fn sockaddr_v4(ip: std::net::Ipv4Addr) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// The `i`-th client of `spray`: address 10.0.0.3 up, port 1024 up.
fn spray_source(i: u64) -> ([u8; 4], u16) {
    const PORTS: u64 = 65536 - 1024;
    let host = 3 + i / PORTS;
    let port = 1024 + (i % PORTS) as u16;
    ([10, 0, (host >> 8) as u8, host as u8], port)
}

/// Sends `count` UDP datagrams (or with `syn`, TCP SYNs) to `to`, each
/// from its own source ([`spray_source`] from `first` on), in
/// `sendmmsg` batches over a raw socket (the kernel fills in the IPv4
/// checksum and id; the UDP checksum is 0, "none").
fn spray(to: SocketAddr, count: u64, first: u64, syn: bool) -> Option<u64> {
    use std::os::fd::AsRawFd;
    const BATCH: usize = 64;
    const MAX: usize = 20 + 20;
    let SocketAddr::V4(to4) = to else {
        return None;
    };
    let len = if syn { 20 + 20 } else { 20 + 8 + 4 };
    let fd = raw_socket(libc::AF_INET, libc::IPPROTO_RAW)?;
    let dst = sockaddr_v4(*to4.ip());
    let mut pkts = [[0u8; MAX]; BATCH];
    let mut sent = 0u64;
    while sent < count {
        let n = (count - sent).min(BATCH as u64) as usize;
        for (k, p) in pkts[..n].iter_mut().enumerate() {
            let (saddr, sport) = spray_source(first + sent + k as u64);
            p[0] = 0x45;
            p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            p[8] = 64;
            p[12..16].copy_from_slice(&saddr);
            p[16..20].copy_from_slice(&to4.ip().octets());
            p[20..22].copy_from_slice(&sport.to_be_bytes());
            p[22..24].copy_from_slice(&to4.port().to_be_bytes());
            if syn {
                p[9] = libc::IPPROTO_TCP as u8;
                p[24..28].copy_from_slice(&(first + sent + k as u64).to_be_bytes()[4..]);
                p[32] = 5 << 4;
                p[33] = 0x02; // SYN
                p[34..36].copy_from_slice(&0xffffu16.to_be_bytes());
                p[36..38].fill(0);
                let pseudo = [&saddr[..], &to4.ip().octets(), &[0, 6, 0, 20]].concat();
                let sum = inet_csum(&[&pseudo, &p[20..40]]);
                p[36..38].copy_from_slice(&sum.to_be_bytes());
            } else {
                p[9] = libc::IPPROTO_UDP as u8;
                p[24..26].copy_from_slice(&((len - 20) as u16).to_be_bytes());
                p[28..32].copy_from_slice(b"conn");
            }
        }
        let mut iovs: Vec<libc::iovec> = pkts[..n]
            .iter_mut()
            .map(|p| libc::iovec {
                iov_base: p.as_mut_ptr().cast(),
                iov_len: len,
            })
            .collect();
        // SAFETY: `mmsghdr` is plain data; zero is a valid value.
        let mut msgs: [libc::mmsghdr; BATCH] = unsafe { std::mem::zeroed() };
        for (m, iov) in msgs.iter_mut().zip(iovs.iter_mut()) {
            m.msg_hdr.msg_name = std::ptr::from_ref(&dst).cast_mut().cast();
            m.msg_hdr.msg_namelen = std::mem::size_of_val(&dst) as libc::socklen_t;
            m.msg_hdr.msg_iov = iov;
            m.msg_hdr.msg_iovlen = 1;
        }
        // SAFETY: the messages point at `dst`, `iovs` and `pkts`, which
        // outlive the call.
        let r = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n as libc::c_uint, 0) };
        match r {
            1.. => sent += r as u64,
            // A full queue: let the receiver catch up.
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) => {
                std::thread::sleep(Duration::from_millis(1));
            }
            _ => return None,
        }
    }
    Some(sent)
}

/// The Internet checksum (RFC 1071) of `parts`, concatenated.
fn inet_csum(parts: &[&[u8]]) -> u16 {
    let mut sum = 0u32;
    for b in parts.iter().flat_map(|p| p.chunks(2)) {
        sum += u32::from(u16::from_be_bytes([b[0], *b.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Sends one TCP segment with `flags` (a bare ACK, say: no SYN first)
/// from 10.0.0.2:`sport` to `to`.
fn tcp_ack(to: SocketAddr, sport: u16, flags: u8) -> Option<()> {
    let SocketAddr::V4(to4) = to else {
        return None;
    };
    let (src, dst) = ([10, 0, 0, 2], to4.ip().octets());
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&sport.to_be_bytes());
    tcp[2..4].copy_from_slice(&to4.port().to_be_bytes());
    tcp[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
    tcp[8..12].copy_from_slice(&0x0abc_def0u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    tcp[14..16].copy_from_slice(&8192u16.to_be_bytes());
    let pseudo = [&src[..], &dst[..], &[0, libc::IPPROTO_TCP as u8, 0, 20]].concat();
    let csum = inet_csum(&[&pseudo, &tcp]);
    tcp[16..18].copy_from_slice(&csum.to_be_bytes());
    let mut pkt = ipv4_header(libc::IPPROTO_TCP as u8, src, dst, 40);
    pkt.extend_from_slice(&tcp);
    send_raw(*to4.ip(), &pkt)
}

/// Sends `pkt`, a whole IPv4 packet (the kernel fills in a zero header
/// checksum and id), to `dst` over a raw socket.
fn send_raw(dst: std::net::Ipv4Addr, pkt: &[u8]) -> Option<()> {
    let fd = raw_socket(libc::AF_INET, libc::IPPROTO_RAW)?;
    send_to(&fd, pkt, IpAddr::V4(dst)).then_some(())
}

/// Sends `n` ESP packets to `to`, and over IPv4 `n` AH packets too (over
/// IPv6, AH is an extension header, which IPVS steps over): SPI and
/// sequence number, then 16 bytes standing for the payload. Nothing
/// here is an IPsec SA: the real servers count them raw.
fn ipsec_send(to: IpAddr, n: u32) -> Option<()> {
    let protocols: &[i32] = match to {
        IpAddr::V4(_) => &[libc::IPPROTO_ESP, libc::IPPROTO_AH],
        IpAddr::V6(_) => &[libc::IPPROTO_ESP],
    };
    for &protocol in protocols {
        let family = if to.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let fd = raw_socket(family, protocol)?;
        for i in 0..n {
            let mut body = [0u8; 28];
            let at = if protocol == libc::IPPROTO_AH {
                // Next header "none", length in 4-byte words less 2.
                body[0] = 59;
                body[1] = (body.len() / 4 - 2) as u8;
                4
            } else {
                0
            };
            body[at..at + 4].copy_from_slice(&0x1000u32.to_be_bytes());
            body[at + 4..at + 8].copy_from_slice(&(i + 1).to_be_bytes());
            if !send_to(&fd, &body, to) {
                return None;
            }
        }
    }
    Some(())
}

/// Counts the ESP and AH packets that reach this host for `secs` seconds
/// (IPv4 and IPv6); prints `esp=N ah=N from=ADDR,...` (the sources, in
/// order).
fn ipsec_sink(secs: u64) -> Option<String> {
    use std::os::fd::AsRawFd;
    let socks = [
        (libc::AF_INET, libc::IPPROTO_ESP),
        (libc::AF_INET, libc::IPPROTO_AH),
        (libc::AF_INET6, libc::IPPROTO_ESP),
    ]
    .map(|(f, p)| raw_socket(f, p).map(|fd| (fd, p)));
    let socks: Vec<_> = socks.into_iter().collect::<Option<_>>()?;
    let (mut esp, mut ah) = (0u32, 0u32);
    let mut from = std::collections::BTreeSet::new();
    let end = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let left = end.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let mut fds: Vec<libc::pollfd> = socks
            .iter()
            .map(|(fd, _)| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        // SAFETY: `fds` is a live array of `fds.len()` entries.
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                left.as_millis().min(1000) as i32,
            )
        };
        if n <= 0 {
            continue;
        }
        for (pfd, (fd, protocol)) in fds.iter().zip(&socks) {
            if pfd.revents & libc::POLLIN == 0 {
                continue;
            }
            let mut buf = [0u8; 2048];
            // SAFETY: all-zero is a valid `sockaddr_storage`.
            let mut sa: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of_val(&sa) as libc::socklen_t;
            // SAFETY: `buf`, `sa` and `len` live through the call.
            let got = unsafe {
                libc::recvfrom(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_DONTWAIT,
                    std::ptr::from_mut(&mut sa).cast(),
                    &mut len,
                )
            };
            if got < 0 {
                continue;
            }
            if *protocol == libc::IPPROTO_AH {
                ah += 1;
            } else {
                esp += 1;
            }
            let addr = match i32::from(sa.ss_family) {
                libc::AF_INET => {
                    // SAFETY: the family says it is a `sockaddr_in`.
                    let v4: libc::sockaddr_in =
                        unsafe { std::ptr::read(std::ptr::from_ref(&sa).cast()) };
                    IpAddr::from(u32::from_be(v4.sin_addr.s_addr).to_be_bytes())
                }
                _ => {
                    // SAFETY: the family says it is a `sockaddr_in6`.
                    let v6: libc::sockaddr_in6 =
                        unsafe { std::ptr::read(std::ptr::from_ref(&sa).cast()) };
                    IpAddr::from(v6.sin6_addr.s6_addr)
                }
            };
            from.insert(addr.to_string());
        }
    }
    let from: Vec<_> = from.into_iter().collect();
    Some(format!("esp={esp} ah={ah} from={}", from.join(",")))
}

/// A 20-byte IPv4 header (checksum and id 0, for the kernel to fill in).
fn ipv4_header(protocol: u8, src: [u8; 4], dst: [u8; 4], total: u16) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0x40, 0, 64, protocol, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h
}

/// One datagram from fd00:1::2 to `to` (IPv6) behind `n` destination
/// options headers, sent whole over a raw socket; the answer comes to a
/// UDP socket bound to its source port first. Prints who answered or
/// `timeout`.
fn udp6_exthdrs(to: SocketAddr, n: usize) -> Option<String> {
    let SocketAddr::V6(to6) = to else {
        return None;
    };
    let s = UdpSocket::bind("[::]:0").ok()?;
    s.set_read_timeout(Some(WAIT)).ok()?;
    let sport = s.local_addr().ok()?.port();
    let src = "fd00:1::2".parse::<std::net::Ipv6Addr>().ok()?.octets();
    let dst = to6.ip().octets();
    let mut udp = Vec::new();
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&to6.port().to_be_bytes());
    udp.extend_from_slice(&10u16.to_be_bytes());
    udp.extend_from_slice(&[0, 0, b'q', b'\n']);
    let len = (udp.len() as u32).to_be_bytes();
    let csum = match inet_csum(&[&src, &dst, &len, &[0, 0, 0, 17], &udp]) {
        0 => 0xffff,
        c => c,
    };
    udp[6..8].copy_from_slice(&csum.to_be_bytes());
    // Each header 8 bytes: next header, length 0, a PadN of 4.
    let mut pkt = vec![0x60, 0, 0, 0];
    pkt.extend_from_slice(&((8 * n + udp.len()) as u16).to_be_bytes());
    pkt.extend_from_slice(&[if n > 0 { 60 } else { 17 }, 64]);
    pkt.extend_from_slice(&src);
    pkt.extend_from_slice(&dst);
    for i in 0..n {
        pkt.extend_from_slice(&[if i + 1 < n { 60 } else { 17 }, 0, 1, 4, 0, 0, 0, 0]);
    }
    pkt.extend_from_slice(&udp);
    // IPPROTO_RAW: the header is ours.
    let fd = raw_socket(libc::AF_INET6, libc::IPPROTO_RAW)?;
    if !send_to(&fd, &pkt, IpAddr::V6(std::net::Ipv6Addr::from(dst))) {
        return None;
    }
    let mut buf = [0u8; 256];
    Some(match s.recv(&mut buf) {
        Ok(n) => answer(&buf[..n]),
        Err(_) => "timeout".into(),
    })
}

/// An ICMP port unreachable from 10.0.0.2 to `to`'s address, about a UDP
/// datagram it would have sent from `to` to 10.0.0.2:`cport` (a reply
/// of a flow the director may not know).
fn icmp_unreach(to: SocketAddr, cport: u16, bad_csum: bool) -> Option<()> {
    let SocketAddr::V4(to4) = to else {
        return None;
    };
    let (client, vip) = ([10, 0, 0, 2], to4.ip().octets());
    let mut quoted = ipv4_header(libc::IPPROTO_UDP as u8, vip, client, 20 + 8 + 2);
    let csum = inet_csum(&[&quoted]);
    quoted[10..12].copy_from_slice(&csum.to_be_bytes());
    quoted.extend_from_slice(&to4.port().to_be_bytes());
    quoted.extend_from_slice(&cport.to_be_bytes());
    quoted.extend_from_slice(&[0, 10, 0, 0]);
    let mut icmp = vec![3, 3, 0, 0, 0, 0, 0, 0];
    icmp.extend_from_slice(&quoted);
    let csum = inet_csum(&[&icmp]) ^ if bad_csum { 0x5555 } else { 0 };
    icmp[2..4].copy_from_slice(&csum.to_be_bytes());
    let mut pkt = ipv4_header(
        libc::IPPROTO_ICMP as u8,
        client,
        vip,
        (20 + icmp.len()) as u16,
    );
    pkt.extend_from_slice(&icmp);
    send_raw(*to4.ip(), &pkt)
}

fn usage() -> ExitCode {
    eprintln!(
        "usage: ipvs-traffic serve NAME PORT | tcp ADDR:PORT COUNT | \
         blast ADDR:PORT FLOWS SECS | sink PORT SECS | tcp-rate ADDR:PORT SECS | \
         serve-hold NAME PORT | tcp-from ADDR:PORT COUNT SPORT | tcp-abort ADDR:PORT 1 SPORT | \
         udp ADDR:PORT COUNT [SPORT] | udp-ports ADDR:PORT COUNT FIRST | udp-one ADDR:PORT COUNT | \
         udp-probe ADDR:PORT [SPORT] | udp-ttl ADDR:PORT TTL [SPORT] | udp-big ADDR:PORT SIZE [SPORT] | udp-exthdr ADDR:PORT COUNT | \
         udp-send ADDR:PORT COUNT | udp-answer PORT | icmp-unreach ADDR:PORT CPORT [bad] | udp6-exthdrs ADDR:PORT COUNT | \
         udp-call ADDR:PORT SPORT | sip-send ADDR:PORT CALLID... | \
         bulk-sink PORT | bulk ADDR:PORT SECS | spray ADDR:PORT COUNT FIRST [syn] | \
         tcp-ack ADDR:PORT SPORT [FLAGS] | serve-echo NAME PORT [UDPADDR] | \
         hold ADDR:PORT TCP UDP GOFILE | steady ADDR:PORT TCP UDP GOFILE | sync-bad GROUP:PORT IFADDR COUNT SYNCID | \
         sync-record GROUP:PORT IFADDR SECS FILE | sync-replay GROUP:PORT IFADDR FILE | \
         ipsec-send ADDR COUNT | ipsec-sink SECS"
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str);
    let target = || arg(1).and_then(|a| a.parse::<SocketAddr>().ok());
    let count = || arg(2).and_then(|c| c.parse::<u32>().ok());
    match (arg(0), target(), count()) {
        (Some("sync-bad"), Some(to), _) => {
            let (Some(Ok(ifaddr)), Some(Ok(n)), Some(Ok(sid))) = (
                arg(2).map(str::parse),
                arg(3).map(str::parse::<u32>),
                arg(4).map(str::parse::<u8>),
            ) else {
                return usage();
            };
            if sync_bad_send(to, ifaddr, n, sid).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("sync-record"), Some(group), _) => {
            let (Some(Ok(ifaddr)), Some(Ok(secs)), Some(file)) = (
                arg(2).map(str::parse),
                arg(3).map(str::parse::<u64>),
                arg(4),
            ) else {
                return usage();
            };
            match sync_record(group, ifaddr, secs, file) {
                Some(n) => println!("{n}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("sync-replay"), Some(to), _) => {
            let (Some(Ok(ifaddr)), Some(file)) = (arg(2).map(str::parse), arg(3)) else {
                return usage();
            };
            match sync_replay(to, ifaddr, file) {
                Some(n) => println!("{n}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("serve-echo"), _, _) => {
            let (Some(name), Some(Ok(port))) = (arg(1), arg(2).map(str::parse::<u16>)) else {
                return usage();
            };
            let udp_addr = match arg(3).map(str::parse::<IpAddr>) {
                None => None,
                Some(Ok(a)) => Some(a),
                Some(Err(_)) => return usage(),
            };
            if let Err(e) = serve_echo(name, port, udp_addr) {
                eprintln!("ipvs-traffic: serve-echo on {port}: {e}");
                return ExitCode::FAILURE;
            }
        }
        (Some("hold"), Some(to), Some(tcp)) => {
            let (Some(Ok(udp)), Some(go)) = (arg(3).map(str::parse::<u32>), arg(4)) else {
                return usage();
            };
            if hold(to, tcp, udp, go).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("steady"), Some(to), Some(tcp)) => {
            let (Some(Ok(udp)), Some(go)) = (arg(3).map(str::parse::<u32>), arg(4)) else {
                return usage();
            };
            if steady(to, tcp, udp, go).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("blast"), Some(to), Some(flows)) => {
            let Some(Ok(secs)) = arg(3).map(str::parse::<u64>) else {
                return usage();
            };
            match blast(to, flows, secs) {
                Some(n) => println!("{n}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("sink"), _, _) => {
            let (Some(Ok(port)), Some(Ok(secs))) =
                (arg(1).map(str::parse::<u16>), arg(2).map(str::parse::<u64>))
            else {
                return usage();
            };
            match sink(port, secs) {
                Ok(pps) => println!("{pps:.0}"),
                Err(e) => {
                    eprintln!("ipvs-traffic: sink on {port}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some("tcp-rate"), Some(to), _) => {
            let Some(Ok(secs)) = arg(2).map(str::parse::<u64>) else {
                return usage();
            };
            let start = std::time::Instant::now();
            let mut n = 0u64;
            while start.elapsed() < Duration::from_secs(secs) {
                if tcp_once(to).is_some() {
                    n += 1;
                }
            }
            println!("{:.0}", n as f64 / start.elapsed().as_secs_f64());
        }
        (Some("bulk-sink"), _, _) => {
            let Some(Ok(port)) = arg(1).map(str::parse::<u16>) else {
                return usage();
            };
            if let Err(e) = bulk_sink(port) {
                eprintln!("ipvs-traffic: bulk-sink on {port}: {e}");
                return ExitCode::FAILURE;
            }
        }
        (Some("bulk"), Some(to), _) => {
            let Some(Ok(secs)) = arg(2).map(str::parse::<u64>) else {
                return usage();
            };
            match bulk(to, secs) {
                Some(mbps) => println!("{mbps:.1}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("spray"), Some(to), _) => {
            let (Some(Ok(n)), Some(Ok(first))) =
                (arg(2).map(str::parse::<u64>), arg(3).map(str::parse::<u64>))
            else {
                return usage();
            };
            match spray(to, n, first, arg(4) == Some("syn")) {
                Some(sent) => println!("{sent}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("tcp-ack"), Some(to), _) => {
            let Some(Ok(sport)) = arg(2).map(str::parse::<u16>) else {
                return usage();
            };
            // TCP flags: ACK unless given (hex with 0x, or decimal).
            let flags = match arg(3) {
                None => Some(0x10),
                Some(f) => f
                    .strip_prefix("0x")
                    .map_or_else(|| f.parse().ok(), |h| u8::from_str_radix(h, 16).ok()),
            };
            let Some(flags) = flags else {
                return usage();
            };
            if tcp_ack(to, sport, flags).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("udp6-exthdrs"), Some(to), Some(n)) => match udp6_exthdrs(to, n as usize) {
            Some(who) => println!("{who}"),
            None => return ExitCode::FAILURE,
        },
        (Some("ipsec-send"), _, Some(n)) => {
            let Some(Ok(to)) = arg(1).map(str::parse::<IpAddr>) else {
                return usage();
            };
            if ipsec_send(to, n).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("ipsec-sink"), _, _) => {
            let Some(Ok(secs)) = arg(1).map(str::parse::<u64>) else {
                return usage();
            };
            match ipsec_sink(secs) {
                Some(line) => println!("{line}"),
                None => return ExitCode::FAILURE,
            }
        }
        (Some("icmp-unreach"), Some(to), _) => {
            let Some(Ok(cport)) = arg(2).map(str::parse::<u16>) else {
                return usage();
            };
            if icmp_unreach(to, cport, arg(3) == Some("bad")).is_none() {
                return ExitCode::FAILURE;
            }
        }
        (Some("serve-hold"), _, _) => {
            let (Some(name), Some(Ok(port))) = (arg(1), arg(2).map(str::parse::<u16>)) else {
                return usage();
            };
            if let Err(e) = serve_hold(name, port) {
                eprintln!("ipvs-traffic: serve-hold {name} on {port}: {e}");
                return ExitCode::FAILURE;
            }
        }
        (Some("serve"), _, _) => {
            let (Some(name), Some(Ok(port))) = (arg(1), arg(2).map(str::parse::<u16>)) else {
                return usage();
            };
            if let Err(e) = serve(name, port) {
                eprintln!("ipvs-traffic: serve {name} on {port}: {e}");
                return ExitCode::FAILURE;
            }
        }
        (Some("tcp"), Some(to), Some(n)) => report((0..n).map(|_| tcp_once(to))),
        (Some("tcp-from"), Some(to), Some(n)) => {
            let Some(Ok(sport)) = arg(3).map(str::parse::<u16>) else {
                return usage();
            };
            for _ in 0..n {
                match connect_from(to, sport) {
                    Some((s, took)) => {
                        let name = first_line(&s).unwrap_or_else(|| "none".into());
                        println!("{name} {}", took.as_millis());
                        // Close after the server, as `tcp` does.
                        let mut rest = Vec::new();
                        let _ = (&s).read_to_end(&mut rest);
                    }
                    None => println!("none -"),
                }
            }
        }
        (Some("tcp-abort"), Some(to), _) => {
            let Some(Ok(sport)) = arg(3).map(str::parse::<u16>) else {
                return usage();
            };
            let Some((s, _)) = connect_from(to, sport) else {
                println!("none");
                return ExitCode::FAILURE;
            };
            println!("{}", first_line(&s).unwrap_or_else(|| "none".into()));
            // SO_LINGER 0: close() resets instead of closing.
            let linger = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: sets an option on the socket `s` owns, from a value
            // that lives through the call.
            unsafe {
                use std::os::fd::AsRawFd;
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    std::ptr::from_ref(&linger).cast(),
                    std::mem::size_of_val(&linger) as libc::socklen_t,
                );
            }
        }
        (Some("udp-ports"), Some(to), Some(n)) => {
            let Some(Ok(first)) = arg(3).map(str::parse::<u16>) else {
                return usage();
            };
            report((0..n).map(|i| {
                let sport = first.checked_add(u16::try_from(i).ok()?)?;
                udp_socket(to, sport).and_then(|s| udp_once(&s))
            }));
        }
        (Some("udp"), Some(to), Some(n)) => {
            let sport = arg(3).and_then(|p| p.parse().ok()).unwrap_or(0);
            report((0..n).map(|_| udp_socket(to, sport).and_then(|s| udp_once(&s))));
        }
        (Some("udp-probe"), Some(to), _) => {
            let sport = arg(2).and_then(|p| p.parse().ok()).unwrap_or(0);
            let Some(s) = udp_socket(to, sport) else {
                return ExitCode::FAILURE;
            };
            let mut buf = [0u8; 256];
            let got = s.send(b"q\n").and_then(|_| s.recv(&mut buf));
            match got {
                Ok(n) => println!("{}", answer(&buf[..n])),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => println!("refused"),
                Err(_) => println!("timeout"),
            }
        }
        (Some("udp-ttl"), Some(to), Some(ttl)) => {
            let sport = arg(3).and_then(|p| p.parse().ok()).unwrap_or(0);
            let Some(s) = udp_socket(to, sport) else {
                return ExitCode::FAILURE;
            };
            println!("{}", udp_ttl(&s, to.is_ipv6(), ttl));
        }
        (Some("udp-big"), Some(to), Some(size)) => {
            let sport = arg(3).and_then(|p| p.parse().ok()).unwrap_or(0);
            let Some(s) = udp_socket(to, sport) else {
                return ExitCode::FAILURE;
            };
            println!("{}", udp_big(&s, size as usize));
        }
        (Some("udp-exthdr"), Some(to), Some(n)) => {
            let with_options = || {
                let s = udp_socket(to, 0)?;
                ipv6_options(&s, libc::IPV6_HOPOPTS)?;
                ipv6_options(&s, libc::IPV6_DSTOPTS)?;
                Some(s)
            };
            report((0..n).map(|_| with_options().and_then(|s| udp_once(&s))));
        }
        (Some("udp-send"), Some(to), Some(n)) => {
            let Some(s) = udp_socket(to, 0) else {
                return ExitCode::FAILURE;
            };
            for _ in 0..n {
                if s.send(b"q\n").is_err() {
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some("udp-answer"), _, _) => {
            let Some(Ok(port)) = arg(1).map(str::parse::<u16>) else {
                return usage();
            };
            match udp_answer(port) {
                Ok(line) => println!("{line}"),
                Err(e) => {
                    eprintln!("ipvs-traffic: udp-answer on {port}: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some("sip-send"), Some(to), _) => {
            let Some(s) = udp_socket(to, 0) else {
                return ExitCode::FAILURE;
            };
            for id in &args[2..] {
                let call_id = if id == "-" {
                    String::new()
                } else if let Some(id) = id.strip_prefix('!') {
                    // A line that names the header without a colon first.
                    format!("Call-IDs {id}\r\nCall-ID: {id}\r\n")
                } else {
                    format!("Call-ID: {id}\r\n")
                };
                let msg = format!(
                    "OPTIONS sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP client\r\n\
                     {call_id}CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
                );
                if s.send(msg.as_bytes()).is_err() {
                    return ExitCode::FAILURE;
                }
            }
        }
        (Some("udp-call"), Some(to), _) => {
            let Some(Ok(sport)) = arg(2).map(str::parse::<u16>) else {
                return usage();
            };
            let Some(s) = udp_socket(to, sport) else {
                return ExitCode::FAILURE;
            };
            let mut buf = [0u8; 256];
            match s.send(b"call\n").and_then(|_| s.recv(&mut buf)) {
                Ok(n) => println!("{}", answer(&buf[..n])),
                Err(_) => println!("timeout"),
            }
        }
        (Some("udp-one"), Some(to), Some(n)) => match udp_socket(to, 0) {
            Some(s) => report((0..n).map(|_| udp_once(&s))),
            None => return ExitCode::FAILURE,
        },
        _ => return usage(),
    }
    ExitCode::SUCCESS
}
