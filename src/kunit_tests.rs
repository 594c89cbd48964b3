// SPDX-License-Identifier: GPL-2.0

//! KUnit suite `ipvs_rs`: checks the glue against the running kernel. It
//! runs when the module loads (results in dmesg and debugfs).

use crate::config::Table;
use crate::kapi::kunit::Test;
use crate::kapi::net::init_net;
use crate::kapi::skb::OwnedSkBuff;
use crate::kexpect;
use crate::nlattr::Attr;
use crate::packet::{addr16, Ipv4Header, IPV4_HDRLEN};
use crate::params::{Sysctl, SYSCTLS};
use crate::service::AF_INET6;
use crate::uapi::{cmd, dest_attr, svc_attr};
use core::pin::Pin;
use kernel::alloc::KBox;

const PACKET: [u8; 28] = [
    0x45, 0, 0, 28, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 207, 175, 44, 110, // IPv4
    0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0, // UDP 12345 -> 8080
];

/// Header reads through `skb_header_pointer` see what was put in the skb.
fn skb_read_headers(t: &mut Test) {
    let Ok(skb) = OwnedSkBuff::from_bytes(&PACKET) else {
        kexpect!(t, false);
        return;
    };
    kexpect!(t, skb.len() == 28);
    let h = skb
        .read::<IPV4_HDRLEN>(0)
        .and_then(|b| Ipv4Header::parse(&b));
    kexpect!(
        t,
        h.is_some_and(|h| h.protocol == 17 && h.daddr == [207, 175, 44, 110])
    );
    kexpect!(
        t,
        skb.read::<8>(20) == Some([0x30, 0x39, 0x1f, 0x90, 0, 8, 0, 0])
    );
    // Reads past the end fail instead of returning garbage.
    kexpect!(t, skb.read::<8>(21).is_none());
    kexpect!(t, skb.read::<1>(usize::MAX).is_none());
}

/// The init namespace has its state, with stock defaults.
fn init_net_state(t: &mut Test) {
    let Some(ipvs) = crate::netns::IpvsNet::get(crate::kapi::net::init_net()) else {
        kexpect!(t, false);
        return;
    };
    kexpect!(t, ipvs.sysctl(Sysctl::Amemthresh) == 1024);
    kexpect!(t, ipvs.sysctl(Sysctl::ConnReuseMode) == 1);
    kexpect!(
        t,
        ipvs.sysctl(Sysctl::SyncVersion) == SYSCTLS[Sysctl::SyncVersion as usize].default
    );
}

/// A namespace's connection table starts small; `conn_tab_bits` bounds
/// it within 2^8..2^27.
fn conn_tab_size(t: &mut Test) {
    let Some(ipvs) = crate::netns::IpvsNet::get(crate::kapi::net::init_net()) else {
        kexpect!(t, false);
        return;
    };
    let size = ipvs.conns.size();
    kexpect!(t, size.is_power_of_two());
    kexpect!(
        t,
        size >= 256 && size <= 1 << crate::kapi::abi::conn_tab_bits()
    );
    kexpect!(t, (8..=27).contains(&crate::kapi::abi::conn_tab_bits()));
}

/// Netlink attributes built on the stack.
struct Attrs {
    buf: [u8; 256],
    len: usize,
}

impl Attrs {
    fn new() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }

    fn push(&mut self, ty: u16, payload: &[u8]) -> &mut Self {
        let total = 4 + payload.len();
        self.buf[self.len..self.len + 2].copy_from_slice(&(total as u16).to_ne_bytes());
        self.buf[self.len + 2..self.len + 4].copy_from_slice(&ty.to_ne_bytes());
        self.buf[self.len + 4..self.len + total].copy_from_slice(payload);
        self.len += total.next_multiple_of(4);
        self
    }

    fn attr(&self) -> Attr<'_> {
        Attr::new(&self.buf[..self.len])
    }
}

/// The configuration table works on the kernel's allocator (the `List`
/// twin over `KVec`, whose `remove` has the only unsafe of the pure code's
/// storage) as it does on the host.
fn config_table(t: &mut Test) {
    let mut svc = Attrs::new();
    svc.push(svc_attr::AF, &2u16.to_ne_bytes())
        .push(svc_attr::PROTOCOL, &6u16.to_ne_bytes())
        .push(
            svc_attr::ADDR,
            &[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )
        .push(svc_attr::PORT, &80u16.to_be_bytes());
    let key = Attrs {
        buf: svc.buf,
        len: svc.len,
    };
    let mut flags = [0u8; 8];
    flags[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    svc.push(svc_attr::SCHED_NAME, b"wrr\0")
        .push(svc_attr::FLAGS, &flags)
        .push(svc_attr::TIMEOUT, &0u32.to_ne_bytes())
        .push(svc_attr::NETMASK, &u32::MAX.to_ne_bytes());
    let mut table = Table::new();
    // The real check, in the initial namespace.
    let addr_ok = |af, a: &_| init_net().unicast_or_local(af == AF_INET6, a);
    kexpect!(
        t,
        table
            .apply(cmd::NEW_SERVICE, Some(svc.attr()), None, &addr_ok)
            .is_ok()
    );
    for last in 2..=4u8 {
        let mut d = Attrs::new();
        d.push(
            dest_attr::ADDR,
            &[192, 168, 0, last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        )
        .push(dest_attr::PORT, &80u16.to_be_bytes())
        .push(dest_attr::FWD_METHOD, &0u32.to_ne_bytes())
        .push(dest_attr::WEIGHT, &u32::from(last).to_ne_bytes())
        .push(dest_attr::U_THRESH, &0u32.to_ne_bytes())
        .push(dest_attr::L_THRESH, &0u32.to_ne_bytes());
        kexpect!(
            t,
            table
                .apply(cmd::NEW_DEST, Some(key.attr()), Some(d.attr()), &addr_ok)
                .is_ok()
        );
    }
    // Stock's ip_vs_new_dest: multicast and broadcast are refused
    // (EINVAL), a local address is fine; refused adds leave nothing.
    for (last, addr, errno) in [
        (1u16, [224, 0, 0, 1], Err(22)),
        (2, [255, 255, 255, 255], Err(22)),
        (3, [0, 0, 0, 0], Err(22)),
        (4, [127, 0, 0, 1], Ok(())),
    ] {
        let mut a = [0u8; 16];
        a[..4].copy_from_slice(&addr);
        let mut d = Attrs::new();
        d.push(dest_attr::ADDR, &a)
            .push(dest_attr::PORT, &last.to_be_bytes())
            .push(dest_attr::FWD_METHOD, &0u32.to_ne_bytes())
            .push(dest_attr::WEIGHT, &1u32.to_ne_bytes())
            .push(dest_attr::U_THRESH, &0u32.to_ne_bytes())
            .push(dest_attr::L_THRESH, &0u32.to_ne_bytes());
        let res = table.apply(cmd::NEW_DEST, Some(key.attr()), Some(d.attr()), &addr_ok);
        kexpect!(t, res.map_err(|e| e.errno) == errno);
        if errno.is_ok() {
            let res = table.apply(cmd::DEL_DEST, Some(key.attr()), Some(d.attr()), &addr_ok);
            kexpect!(t, res.is_ok());
        }
    }
    kexpect!(
        t,
        matches!(table.services(), [s] if s.lock().dests.len() == 3)
    );
    let mut gone = Attrs::new();
    gone.push(
        dest_attr::ADDR,
        &[192, 168, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    )
    .push(dest_attr::PORT, &80u16.to_be_bytes());
    kexpect!(
        t,
        table
            .apply(cmd::DEL_DEST, Some(key.attr()), Some(gone.attr()), &addr_ok)
            .is_ok()
    );
    let weights: [i32; 2] = match table.services() {
        [s] => match &s.lock().dests[..] {
            [a, b] => [a.weight, b.weight],
            _ => [0, 0],
        },
        _ => [0, 0],
    };
    // Newest first, the deleted one gone, the rest in order.
    kexpect!(t, weights == [4, 2]);
    kexpect!(
        t,
        table
            .apply(cmd::DEL_DEST, Some(key.attr()), Some(gone.attr()), &addr_ok)
            .map_err(|e| e.errno)
            == Err(2)
    );
    kexpect!(
        t,
        table
            .apply(cmd::DEL_SERVICE, Some(key.attr()), None, &addr_ok)
            .is_ok()
    );
    kexpect!(t, table.services().is_empty());
}

/// A connection table of its own, one real server and one service's
/// counters, for the connection cases: UDP from 10.0.0.2 to
/// 10.0.0.100:53, served by 192.168.1.11:53.
struct ConnFixture {
    table: Pin<KBox<crate::conn::ConnTable>>,
    dest: crate::list::Shared<crate::service::DestShared>,
    stats: crate::list::Shared<crate::service::Counters>,
}

impl ConnFixture {
    const CLIENT: [u8; 4] = [10, 0, 0, 2];
    const VIP: [u8; 4] = [10, 0, 0, 100];
    const RS: [u8; 4] = [192, 168, 1, 11];

    fn new() -> Option<Self> {
        Some(Self {
            // SAFETY: no namespace.
            table: unsafe {
                crate::conn::ConnTable::new(
                    12,
                    -4,
                    crate::hash::SipKey([0x1234_5678, 0x9abc_def0]),
                    None,
                )
            }
            .ok()?,
            dest: crate::list::share(crate::service::DestShared::default()).ok()?,
            stats: crate::list::share(crate::service::Counters::default()).ok()?,
        })
    }

    /// A connection from client port `cport`.
    fn conn(&self, cport: u16, flags: u32, timeout: u32) -> crate::conn::NewConn {
        crate::conn::NewConn {
            af: 2,
            protocol: 17,
            caddr: addr16(Self::CLIENT),
            cport: cport.to_be_bytes(),
            vaddr: addr16(Self::VIP),
            vport: 53u16.to_be_bytes(),
            daddr: addr16(Self::RS),
            dport: 53u16.to_be_bytes(),
            flags,
            timeout,
            dest: self.dest.clone(),
            svc_stats: self.stats.clone(),
            control: None,
            pe_data: None,
            fwmark: 0,
        }
    }

    /// The connection of a client packet from `cport`.
    fn lookup_in(&self, cport: u16) -> Option<crate::conn::ConnRef> {
        let rcu = crate::kapi::rcu::read_lock();
        let found = self.table.lookup_in(
            &rcu,
            &crate::conn::Lookup {
                af: 2,
                protocol: 17,
                saddr: &addr16(Self::CLIENT),
                sport: cport.to_be_bytes(),
                daddr: &addr16(Self::VIP),
                dport: 53u16.to_be_bytes(),
            },
        );
        found.and_then(crate::conn::InUse::counted)
    }
}

/// Connections: both lookups find a hashed one, counts follow it, a
/// one-packet connection is freed at once, and dropping the table expires
/// what is left (timers, RCU) without leaks (kmemleak checks after).
fn conn_table_lifecycle(t: &mut Test) {
    use crate::conn::Lookup;
    use crate::uapi::conn_flags;
    use core::sync::atomic::Ordering;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    let (client, rs) = (addr16(ConnFixture::CLIENT), addr16(ConnFixture::RS));
    let cp = f
        .table
        .as_ref()
        .create(f.conn(40000, conn_flags::MASQ, 100));
    kexpect!(t, cp.is_ok());
    kexpect!(t, f.table.count() == 1);
    kexpect!(t, f.dest.inactive.load(Ordering::Relaxed) == 1);
    drop(cp);
    let inbound = f.lookup_in(40000);
    kexpect!(t, inbound.as_ref().is_some_and(|c| c.daddr == rs));
    let rcu = crate::kapi::rcu::read_lock();
    let reply = f.table.lookup_out(
        &rcu,
        &Lookup {
            af: 2,
            protocol: 17,
            saddr: &rs,
            sport: 53u16.to_be_bytes(),
            daddr: &client,
            dport: 40000u16.to_be_bytes(),
        },
    );
    kexpect!(t, reply.is_some());
    drop(reply);
    drop(rcu);
    // A different client port is a different connection.
    kexpect!(t, f.lookup_in(40001).is_none());
    drop(inbound);

    // One-packet: never hashed, gone with its last reference.
    let ops = f
        .table
        .as_ref()
        .create(f.conn(40002, conn_flags::ONE_PACKET, 100));
    kexpect!(t, ops.is_ok() && f.table.count() == 2);
    drop(ops);
    kexpect!(t, f.table.count() == 1);

    // One-packet on the stack: counted while its slot holds it, its
    // template's reference given back with it, never found.
    let tmpl = f
        .table
        .as_ref()
        .create(f.conn(0, conn_flags::TEMPLATE, 100));
    kexpect!(t, tmpl.is_ok());
    if let Ok(tmpl) = tmpl {
        let mut slot = crate::conn::OnePacket::new();
        let mut n = f.conn(40003, conn_flags::ONE_PACKET, 100);
        n.control = Some(tmpl);
        let c = f.table.as_ref().create_one_packet(&mut slot, n);
        kexpect!(t, c.control().is_some_and(|ctl| ctl.is_template()));
        kexpect!(t, f.table.count() == 3);
        kexpect!(t, f.dest.inactive.load(Ordering::Relaxed) == 2);
        kexpect!(t, f.dest.persist.load(Ordering::Relaxed) == 1);
        kexpect!(t, crate::conn::InUse::OnePacket(c).counted().is_none());
        kexpect!(t, f.lookup_in(40003).is_none());
        drop(slot);
        kexpect!(t, f.table.count() == 2);
        kexpect!(t, f.dest.inactive.load(Ordering::Relaxed) == 1);
    }

    let dest = f.dest.clone();
    drop(f);
    kexpect!(t, dest.inactive.load(Ordering::Relaxed) == 0);
    kexpect!(t, dest.persist.load(Ordering::Relaxed) == 0);
}

/// The table grows with its connections and shrinks when they go, and
/// lookups find every connection after each resize.
fn conn_table_resizes(t: &mut Test) {
    use crate::uapi::conn_flags;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    kexpect!(t, f.table.size() == 256);
    // 300 connections at 16 buckets each want 2^13; the maximum is 2^12.
    // The first three stay in use throughout.
    let mut kept = kernel::alloc::KVec::new();
    let mut held = kernel::alloc::KVec::new();
    for p in 0..300u16 {
        let c = f
            .table
            .as_ref()
            .create(f.conn(20000 + p, conn_flags::MASQ, 100));
        kexpect!(t, c.is_ok());
        if let Ok(c) = c {
            let v = if p < 3 { &mut kept } else { &mut held };
            kexpect!(t, v.push(c, kernel::alloc::flags::GFP_KERNEL).is_ok());
        }
    }
    // Creating queued the work item: wait for it.
    f.table.resize_sync();
    kexpect!(t, f.table.size() == 4096);
    kexpect!(t, f.table.resizes() >= 1);
    let found = (0..300u16)
        .filter(|&p| f.lookup_in(20000 + p).is_some())
        .count();
    kexpect!(t, found == 300);
    let mut listed = 0;
    f.table.for_each(|_| {
        listed += 1;
        true
    });
    kexpect!(t, listed == 300);
    // All but the three go: back to the smallest size.
    for c in held {
        c.expire_now();
    }
    for _ in 0..500 {
        if f.table.count() == 3 {
            break;
        }
        crate::kapi::timer::msleep(10);
    }
    kexpect!(t, f.table.count() == 3);
    f.table.check_size(-4);
    f.table.resize_sync();
    kexpect!(t, f.table.size() == 256);
    kexpect!(t, (0..3u16).all(|p| f.lookup_in(20000 + p).is_some()));
    drop(kept);
}

/// A resize in steps of one old bucket, with a connection created, one
/// expired and live ones looked up between two steps: none is missed,
/// none expired is found; growing, then shrinking.
fn conn_table_resizes_in_steps(t: &mut Test) {
    use crate::uapi::conn_flags;
    const N: usize = 600;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    // 256 connections a bucket: no resize of its own meanwhile.
    f.table.check_size(8);
    let mut held = kernel::alloc::KVec::new();
    for _ in 0..N {
        kexpect!(t, held.push(None, kernel::alloc::flags::GFP_KERNEL).is_ok());
    }
    let port = |i: usize| 20000 + i as u16;
    let (mut made, mut expired, mut steps, mut missed, mut revived) = (0, 0, 0, 0, 0);
    let make = |held: &mut kernel::alloc::KVec<Option<crate::conn::ConnRef>>, i: usize| {
        held.as_mut_slice()[i] = f
            .table
            .as_ref()
            .create(f.conn(port(i), conn_flags::MASQ, 100_000))
            .ok();
    };
    for i in 0..200 {
        make(&mut held, i);
        made += 1;
    }
    for bits in [10, 8] {
        let ok = f.table.resize_to(bits, 1, || {
            steps += 1;
            if made < N {
                make(&mut held, made);
                made += 1;
            }
            // Fifty stay in use to the end.
            if expired + 50 < made {
                if let Some(c) = held.as_mut_slice()[expired].take() {
                    c.expire_now();
                }
                expired += 1;
            }
            // Sixteen live ones each step, all of them every 128 steps
            // (this runs at every module load).
            let all = steps % 128 == 0;
            let from = if all {
                expired
            } else {
                (expired + steps * 16 % 50).min(made)
            };
            let to = if all { made } else { (from + 16).min(made) };
            for i in from..to {
                missed += usize::from(f.lookup_in(port(i)).is_none());
            }
            for i in expired.saturating_sub(3)..expired {
                revived += usize::from(f.lookup_in(port(i)).is_some());
            }
        });
        kexpect!(t, ok);
        kexpect!(t, f.table.size() == 1 << bits);
    }
    // A step between two of the 256, then of the 1024, old buckets.
    kexpect!(t, steps == 255 + 1023);
    kexpect!(t, made == N && expired == N - 50);
    kexpect!(t, missed == 0);
    kexpect!(t, revived == 0);
    kexpect!(t, (expired..made).all(|i| f.lookup_in(port(i)).is_some()));
    drop(held);
}

/// The lazy timer: using a connection moves its deadline, not its timer;
/// the timer, due first, waits for the deadline; a shorter timeout
/// re-arms it at once.
fn conn_timer_follows_use(t: &mut Test) {
    use crate::kapi::abi::hz;
    use crate::kapi::timer::jiffies;
    use crate::uapi::conn_flags;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    let table = &f.table;
    let new = |cport: u16, timeout| f.conn(cport, conn_flags::MASQ, timeout);
    let lookup = |cport: u16| f.lookup_in(cport);
    // KUnit cases run in process context.
    let sleep = crate::kapi::timer::msleep;
    let ms = |jiffies: u32| jiffies * 1000 / hz();

    // Waits (up to 5 s) until the connection of `cport` is gone.
    let gone = |cport: u16| {
        for _ in 0..500 {
            if table.count() == 0 {
                break;
            }
            sleep(10);
        }
        lookup(cport).is_none()
    };

    // A quarter of a second; the first release arms the timer.
    let timeout = (hz() / 4).max(2);
    drop(table.as_ref().create(new(40000, timeout)));
    let due = lookup(40000).and_then(|c| c.timer_due());
    kexpect!(t, due.is_some());
    let due = due.unwrap_or(0);
    // Used again a little later: the deadline moves, the timer stays.
    sleep(ms(timeout) / 4);
    kexpect!(t, lookup(40000).and_then(|c| c.timer_due()) == Some(due));
    // Kept in use, it outlives the first due time: the timer fired and
    // armed itself again for the deadline.
    let mut next = Some(due);
    for _ in 0..300 {
        sleep(10);
        next = lookup(40000).and_then(|c| c.timer_due());
        if next != Some(due) {
            break;
        }
    }
    kexpect!(t, next.is_some_and(|n| n > due));
    // Left idle: gone.
    kexpect!(t, gone(40000));

    // Ten seconds, cut to two jiffies on its next use: the timer moves in.
    drop(table.as_ref().create(new(40001, 10 * hz())));
    if let Some(cp) = lookup(40001) {
        cp.set_timeout(2);
    }
    let soon = lookup(40001).and_then(|c| c.timer_due());
    kexpect!(t, soon.is_some_and(|d| d <= jiffies() + 2));
    kexpect!(t, gone(40001));
}

/// `LOCAL_IN` looks for replies only while a connection may get one
/// there: the table counts them from creation until they are freed.
fn conn_local_replies(t: &mut Test) {
    use crate::conn::LOCAL_REPLY;
    use crate::uapi::conn_flags;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    let table = &f.table;
    drop(table.as_ref().create(f.conn(40000, conn_flags::MASQ, 2)));
    kexpect!(t, table.count() == 1 && !table.local_replies());
    let local = table
        .as_ref()
        .create(f.conn(40001, conn_flags::MASQ | LOCAL_REPLY, 2));
    kexpect!(t, local.is_ok() && table.local_replies());
    drop(local);
    // Both expire after two jiffies; the count goes with the last.
    for _ in 0..500 {
        if table.count() == 0 {
            break;
        }
        crate::kapi::timer::msleep(10);
    }
    kexpect!(t, table.count() == 0 && !table.local_replies());
}

/// FTP's connections: a passive data connection waits with client port
/// 0, found only by the port-0 retry while the table has one, taken
/// once; its copy with the port keeps the control connection's count.
/// The helper binds to TCP NAT connections to port 21 only, with
/// conntrack.
fn conn_ftp_data_and_helper(t: &mut Test) {
    use crate::conn::{Lookup, NO_CPORT};
    use crate::uapi::conn_flags;

    let Some(f) = ConnFixture::new() else {
        kexpect!(t, false);
        return;
    };
    let table = f.table.as_ref();
    let Ok(ctl) = table.create(f.conn(40000, conn_flags::MASQ, 100_000)) else {
        kexpect!(t, false);
        return;
    };
    let mut n = f.conn(0, conn_flags::MASQ | NO_CPORT, 100_000);
    n.control = ctl.counted();
    let waiting = table.create(n);
    kexpect!(t, waiting.is_ok() && ctl.n_control() == 1);
    let (client, vip) = (addr16(ConnFixture::CLIENT), addr16(ConnFixture::VIP));
    let l = Lookup {
        af: 2,
        protocol: 17,
        saddr: &client,
        sport: 40005u16.to_be_bytes(),
        daddr: &vip,
        dport: 53u16.to_be_bytes(),
    };
    kexpect!(t, f.lookup_in(40005).is_none());
    {
        let rcu = crate::kapi::rcu::read_lock();
        let found = f.table.lookup_in_no_cport(&rcu, &l);
        kexpect!(t, found.as_ref().is_some_and(|c| c.cport == [0, 0]));
        if let Some(c) = found {
            kexpect!(t, c.take_no_cport());
            kexpect!(t, !c.take_no_cport());
            let copy = c.with_cport(l.sport);
            kexpect!(t, copy.flags & NO_CPORT == 0);
            c.expire_now();
            kexpect!(t, table.create(copy).is_ok());
        }
        // None left waiting: the retry is not even tried.
        kexpect!(t, f.table.lookup_in_no_cport(&rcu, &l).is_none());
    }
    let filled = f.lookup_in(40005);
    kexpect!(t, filled.as_ref().is_some_and(|c| c.control().is_some()));
    kexpect!(t, ctl.n_control() == 2);
    drop(filled);
    drop(waiting);
    // The placeholder goes; its count on the control connection too.
    for _ in 0..500 {
        if ctl.n_control() == 1 {
            break;
        }
        crate::kapi::timer::msleep(10);
    }
    kexpect!(t, ctl.n_control() == 1);

    // The helper: TCP, NAT, port 21 (ftp_ports' default).
    let tcp = |vport: u16, flags: u32| {
        let mut n = f.conn(41000, flags, 100);
        n.protocol = 6;
        n.vport = vport.to_be_bytes();
        table.create(n).ok()
    };
    let ftp = tcp(21, conn_flags::MASQ);
    kexpect!(t, ftp.as_ref().is_some_and(|c| c.app().is_some()));
    kexpect!(
        t,
        ftp.as_ref()
            .is_some_and(|c| c.flags() & conn_flags::NFCT != 0)
    );
    kexpect!(
        t,
        tcp(80, conn_flags::MASQ).is_some_and(|c| c.app().is_none())
    );
    kexpect!(
        t,
        tcp(21, conn_flags::DROUTE).is_some_and(|c| c.app().is_none())
    );
    kexpect!(
        t,
        tcp(21, conn_flags::TEMPLATE).is_some_and(|c| c.app().is_none())
    );
}

crate::kunit_suite!(
    "ipvs_rs",
    [
        skb_read_headers,
        init_net_state,
        conn_tab_size,
        config_table,
        conn_table_lifecycle,
        conn_table_resizes,
        conn_table_resizes_in_steps,
        conn_timer_follows_use,
        conn_local_replies,
        conn_ftp_data_and_helper
    ]
);
