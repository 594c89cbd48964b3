// SPDX-License-Identifier: GPL-2.0

//! Allocation failure on demand, through the kernel's per-task
//! `/proc/thread-self/fail-nth` (fault injection with failslab and
//! fail_page_alloc set up by `74-faults`): the Nth allocation this task
//! makes (that the fault attributes count) fails, once.
//!
//! - `faults-load KO STRIDE [FIRST]`: loads the module with its FIRST-th
//!   (1st), FIRST+STRIDE-th, ... allocation failing until a load meets no failure. A failed load
//!   must leave no module, no sysctl directory and no "IPVS" family; a
//!   load that succeeds must unload.
//! - `faults-config IFNAME`: a configuration script of services, real
//!   servers, daemons (on IFNAME), timeouts, listings, zeroing and
//!   deletions. Each step is tried with its 1st, 2nd, ... allocation
//!   failing, from the configuration the steps before it make, until it
//!   meets no failure: refused, the configuration must be as before;
//!   accepted, as the step makes it without failures.
//!
//! Both print one line per 25 points and a summary; exit 1 on a
//! violation, listing it.

use super::{attr, cmd, find_attr, message, snapshot, Nl, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use super::{
    errno_name, ATTR_TIMEOUT_UDP, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, GENL_ID_CTRL,
};
use super::{ATTR_DAEMON, ATTR_DEST, ATTR_SERVICE, ATTR_TIMEOUT_TCP, ATTR_TIMEOUT_TCP_FIN};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;

/// Points past which a step's sweep stops (a loop that never meets the
/// end would otherwise run forever).
const MAX_POINTS: u32 = 2000;

/// This thread's `fail-nth`.
struct FailNth(OwnedFd);

impl FailNth {
    fn open() -> Option<Self> {
        // SAFETY: a plain call with a C string; the descriptor moves into
        // an `OwnedFd` at once.
        let fd = unsafe { libc::open(c"/proc/thread-self/fail-nth".as_ptr(), libc::O_RDWR) };
        // SAFETY: `fd` is new and ours.
        (fd >= 0).then(|| Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Makes the `n`th counted allocation from now on fail (0: none).
    fn arm(&self, n: u32) {
        let s = n.to_string();
        // SAFETY: `s` lives through the call.
        let w = unsafe { libc::write(self.0.as_raw_fd(), s.as_ptr().cast(), s.len()) };
        assert_eq!(w, s.len() as isize, "write fail-nth");
    }

    /// Counted allocations still to come before the failure: 0 once it
    /// happened.
    fn left(&self) -> u32 {
        let mut b = [0u8; 16];
        // SAFETY: `b` lives through the call.
        let n = unsafe { libc::pread(self.0.as_raw_fd(), b.as_mut_ptr().cast(), b.len(), 0) };
        assert!(n > 0, "read fail-nth");
        std::str::from_utf8(&b[..n as usize])
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .expect("fail-nth holds a number")
    }
}

fn exists(p: &str) -> bool {
    std::path::Path::new(p).exists()
}

/// Whether generic netlink lists an "IPVS" family. (Asking for it by
/// name would load stock `ip_vs.ko`, which has the family's alias.)
fn ipvs_listed() -> bool {
    let Some(mut nl) = Nl::open() else {
        return false;
    };
    let seq = nl.next_seq();
    let m = message(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        CTRL_CMD_GETFAMILY,
        1,
        &[],
    );
    let Some((_, families)) = nl.exchange(&m, seq, 2000) else {
        return false;
    };
    families.iter().any(|body| {
        find_attr(body, CTRL_ATTR_FAMILY_NAME).is_some_and(|n| n.starts_with(b"IPVS\0"))
    })
}

fn report(
    points: u32,
    what: &str,
    errnos: &BTreeMap<String, u32>,
    violations: &[String],
) -> ExitCode {
    let hist: Vec<_> = errnos.iter().map(|(k, v)| format!("{k}={v}")).collect();
    println!(
        "{what}: {points} faults injected; results {}",
        hist.join(" ")
    );
    if violations.is_empty() {
        return ExitCode::SUCCESS;
    }
    for v in violations.iter().take(20) {
        println!("violation: {v}");
    }
    ExitCode::FAILURE
}

/// `faults-load KO STRIDE`.
pub(crate) fn load(args: &[String]) -> ExitCode {
    let (Some(ko), Some(Ok(stride))) = (args.first(), args.get(1).map(|s| s.parse::<u32>())) else {
        eprintln!("usage: ipvs-nlfuzz faults-load KO STRIDE [FIRST]");
        return ExitCode::from(2);
    };
    let stride = stride.max(1);
    let first = args.get(2).and_then(|s| s.parse::<u32>().ok()).unwrap_or(1);
    let each = std::env::var_os("IPVS_RS_FAULT_EACH").is_some();
    let name = std::path::Path::new(ko)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("ipvs_rs")
        .to_owned();
    let sysfs = format!("/sys/module/{name}");
    let Ok(file) = std::fs::File::open(ko) else {
        eprintln!("cannot open {ko}");
        return ExitCode::from(2);
    };
    let nth = FailNth::open().expect("no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)");
    let cname = CString::new(name.clone()).expect("module name");
    let (mut points, mut violations, mut errnos) = (0u32, Vec::new(), BTreeMap::new());
    let mut n = first.max(1);
    loop {
        if each {
            eprintln!("load: allocation {n}");
        }
        nth.arm(n);
        // SAFETY: a plain system call; `file` is open and the parameter
        // string is a C string.
        let rc =
            unsafe { libc::syscall(libc::SYS_finit_module, file.as_raw_fd(), c"".as_ptr(), 0) };
        // SAFETY: reads the thread's errno.
        let e = if rc == 0 {
            0
        } else {
            unsafe { *libc::__errno_location() }
        };
        let left = nth.left();
        nth.arm(0);
        if e == 0 {
            // What a failed load must not leave is there after a good one
            // (the checks below can see it).
            if !(ipvs_listed() && exists(&sysfs) && exists("/proc/sys/net/ipv4/vs")) {
                violations.push(format!(
                    "loaded with allocation {n} failing, but not all there"
                ));
            }
            // SAFETY: a plain system call with a C string.
            let rc =
                unsafe { libc::syscall(libc::SYS_delete_module, cname.as_ptr(), libc::O_NONBLOCK) };
            if rc != 0 {
                violations.push(format!(
                    "load with allocation {n} failing: loaded, but cannot unload"
                ));
                break;
            }
        } else {
            let mut left_behind = Vec::new();
            if exists(&sysfs) {
                left_behind.push("the module");
            }
            if exists("/proc/sys/net/ipv4/vs") {
                left_behind.push("/proc/sys/net/ipv4/vs");
            }
            if exists("/proc/net/ip_vs") {
                left_behind.push("/proc/net/ip_vs");
            }
            if ipvs_listed() {
                left_behind.push("the IPVS family");
            }
            if !left_behind.is_empty() {
                violations.push(format!(
                    "load with allocation {n} failing: {} but {} left",
                    errno_name(e),
                    left_behind.join(", ")
                ));
                break;
            }
        }
        if left > 0 {
            // The load made fewer allocations: the sweep is complete.
            break;
        }
        points += 1;
        *errnos.entry(errno_name(e)).or_insert(0) += 1;
        if points % 25 == 0 {
            println!("load: {points} faults injected, at allocation {n}");
        }
        if points >= MAX_POINTS {
            violations.push(format!("load: still allocating after {n} allocations"));
            break;
        }
        n += stride;
    }
    println!("load: the last allocation counted is below {n} (stride {stride})");
    report(points, "load", &errnos, &violations)
}

fn u16a(kind: u16, v: u16) -> Vec<u8> {
    attr(kind, &v.to_ne_bytes())
}

fn u32a(kind: u16, v: u32) -> Vec<u8> {
    attr(kind, &v.to_ne_bytes())
}

fn addr16(a: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    match a.parse::<std::net::IpAddr>().expect("address") {
        std::net::IpAddr::V4(v4) => out[..4].copy_from_slice(&v4.octets()),
        std::net::IpAddr::V6(v6) => out = v6.octets(),
    }
    out
}

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
const TCP: u16 = 6;
const UDP: u16 = 17;
const MASQ: u32 = 0;
const TUNNEL: u32 = 2;
const ROUTE: u32 = 3;
const PERSISTENT: u32 = 1;

/// The identifying attributes of a service, nested.
fn svc_id(af: u16, proto: u16, addr: &str, port: u16) -> Vec<u8> {
    let mut v = u16a(1, af);
    v.extend(u16a(2, proto));
    v.extend(attr(3, &addr16(addr)));
    v.extend(attr(4, &port.to_be_bytes()));
    v
}

/// A whole service: identity, scheduler, flags, timeout, netmask.
fn svc_full(id: Vec<u8>, sched: &str, flags: u32, timeout: u32, netmask: u32) -> Vec<u8> {
    let mut v = id;
    v.extend(attr(6, format!("{sched}\0").as_bytes()));
    let mut f = flags.to_ne_bytes().to_vec();
    f.extend(u32::MAX.to_ne_bytes());
    v.extend(attr(7, &f));
    v.extend(u32a(8, timeout));
    v.extend(u32a(9, netmask));
    attr(ATTR_SERVICE, &v)
}

fn dest(addr: &str, port: u16, fwd: u32, weight: u32) -> Vec<u8> {
    let mut v = attr(1, &addr16(addr));
    v.extend(attr(2, &port.to_be_bytes()));
    v.extend(u32a(3, fwd));
    v.extend(u32a(4, weight));
    v.extend(u32a(5, 0));
    v.extend(u32a(6, 0));
    attr(ATTR_DEST, &v)
}

fn daemon(state: u32, ifname: &str, syncid: u32) -> Vec<u8> {
    let mut v = u32a(1, state);
    v.extend(attr(2, format!("{ifname}\0").as_bytes()));
    v.extend(u32a(3, syncid));
    attr(ATTR_DAEMON, &v)
}

fn timeouts(tcp: u32, fin: u32, udp: u32) -> Vec<u8> {
    let mut v = u32a(ATTR_TIMEOUT_TCP, tcp);
    v.extend(u32a(ATTR_TIMEOUT_TCP_FIN, fin));
    v.extend(u32a(ATTR_TIMEOUT_UDP, udp));
    v
}

/// One request of the script.
struct Step {
    what: &'static str,
    command: u8,
    attrs: Vec<u8>,
    dump: bool,
}

fn script(ifname: &str) -> Vec<Step> {
    let web = || svc_id(AF_INET, TCP, "10.0.0.1", 80);
    let dns6 = || svc_id(AF_INET6, UDP, "fd00::1", 53);
    let mut fwm = u16a(1, AF_INET);
    fwm.extend(u32a(5, 7));
    let step = |what, command, attrs, dump| Step {
        what,
        command,
        attrs,
        dump,
    };
    let with = |a: Vec<u8>, b: Vec<u8>| {
        let mut v = a;
        v.extend(b);
        v
    };
    vec![
        step(
            "add a TCP service",
            cmd::NEW_SERVICE,
            svc_full(web(), "rr", 0, 0, u32::MAX),
            false,
        ),
        step(
            "add a persistent IPv6 UDP service",
            cmd::NEW_SERVICE,
            svc_full(dns6(), "wlc", PERSISTENT, 300, 128),
            false,
        ),
        step(
            "add a fwmark service",
            cmd::NEW_SERVICE,
            svc_full(fwm, "mh", 0, 0, u32::MAX),
            false,
        ),
        step(
            "add a NAT real server",
            cmd::NEW_DEST,
            with(
                attr(ATTR_SERVICE, &web()),
                dest("192.168.1.11", 80, MASQ, 1),
            ),
            false,
        ),
        step(
            "add a tunnel real server",
            cmd::NEW_DEST,
            with(
                attr(ATTR_SERVICE, &web()),
                dest("192.168.1.12", 80, TUNNEL, 2),
            ),
            false,
        ),
        step(
            "add an IPv6 real server",
            cmd::NEW_DEST,
            with(attr(ATTR_SERVICE, &dns6()), dest("fd00::2", 53, ROUTE, 1)),
            false,
        ),
        step(
            "change a scheduler",
            cmd::SET_SERVICE,
            svc_full(web(), "wrr", 0, 0, u32::MAX),
            false,
        ),
        step(
            "change a weight",
            cmd::SET_DEST,
            with(
                attr(ATTR_SERVICE, &web()),
                dest("192.168.1.11", 80, MASQ, 5),
            ),
            false,
        ),
        step(
            "start a master daemon",
            cmd::NEW_DAEMON,
            daemon(1, ifname, 5),
            false,
        ),
        step(
            "start a backup daemon",
            cmd::NEW_DAEMON,
            daemon(2, ifname, 5),
            false,
        ),
        step(
            "set timeouts",
            cmd::SET_CONFIG,
            timeouts(100, 20, 30),
            false,
        ),
        step("list services", cmd::GET_SERVICE, Vec::new(), true),
        step(
            "list real servers",
            cmd::GET_DEST,
            attr(ATTR_SERVICE, &web()),
            true,
        ),
        step("list daemons", cmd::GET_DAEMON, Vec::new(), true),
        step("zero the counters", cmd::ZERO, Vec::new(), false),
        step(
            "delete a real server",
            cmd::DEL_DEST,
            with(
                attr(ATTR_SERVICE, &web()),
                dest("192.168.1.12", 80, TUNNEL, 0),
            ),
            false,
        ),
        step(
            "delete a service",
            cmd::DEL_SERVICE,
            attr(ATTR_SERVICE, &dns6()),
            false,
        ),
        step("flush", cmd::FLUSH, Vec::new(), false),
    ]
}

/// Sends `s`: its errno (0: done), or `None` without an answer.
fn send(nl: &mut Nl, family: u16, s: &Step) -> Option<i32> {
    let seq = nl.next_seq();
    let mut flags = NLM_F_REQUEST | NLM_F_ACK;
    if s.dump {
        flags |= NLM_F_DUMP;
    }
    let m = message(family, flags, seq, s.command, 1, &s.attrs);
    nl.exchange(&m, seq, 5000).map(|(e, _)| e)
}

/// Back to nothing configured, with stock's timeouts, then the first
/// `upto` steps (none may fail).
fn replay(nl: &mut Nl, family: u16, steps: &[Step], upto: usize) -> Result<(), String> {
    let _ = nl.plain(family, cmd::FLUSH, &[], false);
    for state in [1, 2] {
        let _ = nl.plain(
            family,
            cmd::DEL_DAEMON,
            &attr(ATTR_DAEMON, &u32a(1, state)),
            false,
        );
    }
    let _ = nl.plain(family, cmd::SET_CONFIG, &timeouts(900, 120, 300), false);
    for s in &steps[..upto] {
        match send(nl, family, s) {
            Some(0) => {}
            e => return Err(format!("\"{}\" without faults: {e:?}", s.what)),
        }
    }
    Ok(())
}

/// `faults-config IFNAME`.
pub(crate) fn config(args: &[String]) -> ExitCode {
    let Some(ifname) = args.first() else {
        eprintln!("usage: ipvs-nlfuzz faults-config IFNAME");
        return ExitCode::from(2);
    };
    let mut nl = Nl::open().expect("netlink socket");
    let Some(family) = nl.resolve() else {
        eprintln!("no IPVS family");
        return ExitCode::FAILURE;
    };
    let nth = FailNth::open().expect("no /proc/thread-self/fail-nth (CONFIG_FAULT_INJECTION)");
    let steps = script(ifname);
    let (mut points, mut violations, mut errnos) = (0u32, Vec::new(), BTreeMap::new());
    for (i, s) in steps.iter().enumerate() {
        // Without faults: from `before`, the step makes `after`.
        if let Err(e) = replay(&mut nl, family, &steps, i) {
            violations.push(e);
            break;
        }
        let before = snapshot(&mut nl, family);
        if send(&mut nl, family, s) != Some(0) {
            violations.push(format!("\"{}\" fails without faults", s.what));
            break;
        }
        let after = snapshot(&mut nl, family);
        let mut here = 0;
        for n in 1..=MAX_POINTS {
            if let Err(e) = replay(&mut nl, family, &steps, i) {
                violations.push(e);
                break;
            }
            nth.arm(n);
            let e = send(&mut nl, family, s);
            let left = nth.left();
            nth.arm(0);
            let now = snapshot(&mut nl, family);
            if left > 0 {
                // No allocation failed: the step is covered.
                if e != Some(0) || now != after {
                    violations.push(format!("\"{}\" differs without a fault ({e:?})", s.what));
                }
                break;
            }
            here += 1;
            let name = e.map_or("no answer".to_owned(), errno_name);
            *errnos.entry(name.clone()).or_insert(0) += 1;
            let ok = match e {
                Some(0) => now == after,
                Some(_) => now == before,
                // The answer was what failed: either is consistent.
                None => now == before || now == after,
            };
            if !ok {
                violations.push(format!(
                    "\"{}\" with allocation {n} failing: {name}, and the configuration is {}",
                    s.what,
                    if e == Some(0) {
                        "not what it asked for"
                    } else {
                        "changed"
                    }
                ));
            }
            if n == MAX_POINTS {
                violations.push(format!("\"{}\": still allocating after {n}", s.what));
            }
        }
        points += here;
        println!("step {i} \"{}\": {here} faults injected", s.what);
    }
    let _ = replay(&mut nl, family, &steps, 0);
    report(points, "config", &errnos, &violations)
}
