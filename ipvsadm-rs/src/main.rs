//! ipvsadm-rs: configure IPVS (stock `ip_vs.ko` or `ipvs_rs.ko`) the way
//! ipvsadm does, with machine-readable output and clear errors on top.

mod attr;
mod cli;
mod format;
mod model;
mod names;
mod netlink;
mod restore;
#[path = "../../src/uapi.rs"]
#[allow(dead_code)]
mod uapi;

use attr::Attr;
use clap::{CommandFactory, Parser};
use cli::{Cli, Cmd, Request};
use format::Format;
use model::{Conn, Daemon, Dest, Info, Service, Timeouts};
use netlink::{Error, Ipvs};
use std::net::IpAddr;
use std::process::ExitCode;
use uapi::{cmd, cmd_attr, daemon_attr, dest_attr, svc_attr};

/// Why a run failed: usage (exit 2) or the kernel/system (exit 1).
pub enum Failure {
    Usage(String),
    Run(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Run(e)
    }
}

impl From<cli::Usage> for Failure {
    fn from(u: cli::Usage) -> Self {
        Failure::Usage(u.0)
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // One line, ipvsadm's exit status for usage errors.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("ipvsadm-rs: {}", first.trim_start_matches("error: "));
            eprintln!("Try `ipvsadm-rs -h' for more information.");
            return ExitCode::from(2);
        }
    };
    if cli.help {
        let _ = Cli::command().print_long_help();
        return ExitCode::SUCCESS;
    }
    if cli.version {
        println!(
            "ipvsadm-rs {} (ipvsadm v1.31 compatible, IPVS v1.2.1)",
            env!("CARGO_PKG_VERSION")
        );
        return ExitCode::SUCCESS;
    }
    if cli.man {
        return match man_page(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ipvsadm-rs: cannot write the manual page: {e}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(shell) = cli.completions {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "ipvsadm-rs",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("ipvsadm-rs: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("ipvsadm-rs: {e}");
            ExitCode::from(1)
        }
    }
}

/// The manual page: clap's rendering of the options (the `--help` text),
/// then what ipvsadm's manual adds: exit status, files, see also.
fn man_page(out: &mut dyn std::io::Write) -> std::io::Result<()> {
    clap_mangen::Man::new(Cli::command().version(env!("CARGO_PKG_VERSION")))
        .section("8")
        .manual("System Manager's Manual")
        .render(out)?;
    out.write_all(
        br#".SH "EXIT STATUS"
0 on success; 1 when the kernel refuses a request (the message gives its
reason, with the kernel's extended acknowledgement text when there is
one); 2 on a usage error. \fB\-R\fR names the line of the first error.
.SH FILES
.TP
/proc/net/ip_vs_conn
the connections \fB\-Lc\fR lists (everything else comes over generic
netlink, family IPVS).
.SH "SEE ALSO"
ipvsadm(8), ipvsadm\-save(8), ipvsadm\-restore(8); Documentation/ipvsadm\-rs.rst
(the \fB\-\-json\fR schema).
"#,
    )
}

fn format_of(cli: &Cli) -> Format {
    Format {
        numeric: cli.numeric,
        rule: false,
        stats: cli.stats,
        rate: cli.rate,
        thresholds: cli.thresholds,
        persistent_conn: cli.persistent_conn,
        nosort: cli.nosort,
        exact: cli.exact,
        tun_info: cli.tun_info,
    }
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let req = cli.request()?;
    let mut ipvs = Ipvs::connect()?;
    let fmt = format_of(cli);
    let names: &dyn format::Names = if fmt.numeric {
        &format::Numeric
    } else {
        &names::System
    };
    match req.cmd {
        Cmd::List if cli.connection => {
            let conns = read_conns().map_err(Error::Io)?;
            if cli.json {
                print_json(&serde_json::json!({ "connections": conns }));
            } else {
                print!("{}", format::conns(&conns, &fmt, names));
            }
        }
        Cmd::List if cli.timeout => {
            let t = get_timeouts(&mut ipvs)?;
            if cli.json {
                print_json(&serde_json::json!({ "timeouts": t }));
            } else {
                print!("{}", format::timeouts(&t));
            }
        }
        Cmd::List if cli.daemon => {
            let d = get_daemons(&mut ipvs)?;
            if cli.json {
                print_json(&serde_json::json!({ "daemons": d }));
            } else {
                print!("{}", format::daemons(&d));
            }
        }
        Cmd::List if req.has_service => {
            let mut svc = get_service(&mut ipvs, &req)?;
            format::sort(std::slice::from_mut(&mut svc), &fmt);
            if cli.json {
                print_json(&serde_json::json!({ "services": [svc] }));
            } else {
                print!("{}", format::list_one(&svc, &fmt, names));
            }
        }
        Cmd::List | Cmd::Save => {
            let (info, mut services) = read_table(&mut ipvs)?;
            let fmt = Format {
                rule: req.cmd == Cmd::Save,
                ..fmt
            };
            format::sort(&mut services, &fmt);
            if cli.json {
                print_json(&serde_json::json!({ "info": info, "services": services }));
            } else {
                print!("{}", format::list(&info, &services, &fmt, names));
            }
        }
        Cmd::Restore => restore::run(&mut ipvs, cli.json)?,
        _ => {
            let (c, attrs) = message(&req);
            ipvs.request(c, attrs)?;
        }
    }
    Ok(())
}

fn print_json(v: &serde_json::Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(v).expect("JSON values serialize")
    );
}

/// An address as the 16 bytes of `union nf_inet_addr`.
pub fn addr_bytes(a: Option<IpAddr>) -> Vec<u8> {
    let mut b = vec![0u8; 16];
    match a {
        Some(IpAddr::V4(x)) => b[..4].copy_from_slice(&x.octets()),
        Some(IpAddr::V6(x)) => b.copy_from_slice(&x.octets()),
        None => {}
    }
    b
}

/// The service attributes of a request (`ipvs_nl_fill_service_attr`).
fn service_attrs(r: &Request, full: bool) -> Attr {
    let mut v = vec![Attr::u16(svc_attr::AF, r.af)];
    if r.fwmark != 0 {
        v.push(Attr::u32(svc_attr::FWMARK, r.fwmark));
    } else {
        v.push(Attr::u16(svc_attr::PROTOCOL, r.protocol));
        v.push(Attr::bytes(svc_attr::ADDR, addr_bytes(r.addr)));
        v.push(Attr::bytes(svc_attr::PORT, r.port.to_be_bytes().to_vec()));
    }
    if full {
        v.push(Attr::string(svc_attr::SCHED_NAME, &r.sched));
        if !r.pe.is_empty() {
            v.push(Attr::string(svc_attr::PE_NAME, &r.pe));
        }
        let mut flags = r.flags.to_ne_bytes().to_vec();
        flags.extend_from_slice(&u32::MAX.to_ne_bytes());
        v.push(Attr::bytes(svc_attr::FLAGS, flags));
        v.push(Attr::u32(svc_attr::TIMEOUT, r.timeout));
        v.push(Attr::u32(svc_attr::NETMASK, r.netmask));
    }
    Attr::nested(cmd_attr::SERVICE, v)
}

/// The real server attributes of a request (`ipvs_nl_fill_dest_attr`).
fn dest_attrs(r: &Request, full: bool) -> Attr {
    let (af, addr, port) = r.dest.expect("checked by cli: -r is compulsory");
    let mut v = vec![
        Attr::bytes(dest_attr::ADDR, addr_bytes(Some(addr))),
        Attr::bytes(dest_attr::PORT, port.to_be_bytes().to_vec()),
        Attr::u16(dest_attr::ADDR_FAMILY, af),
    ];
    if full {
        v.push(Attr::u32(dest_attr::FWD_METHOD, r.fwd));
        v.push(Attr::u32(dest_attr::WEIGHT, r.weight as u32));
        v.push(Attr::u32(dest_attr::U_THRESH, r.u_threshold));
        v.push(Attr::u32(dest_attr::L_THRESH, r.l_threshold));
        v.push(Attr::bytes(dest_attr::TUN_TYPE, vec![r.tun_type]));
        v.push(Attr::bytes(
            dest_attr::TUN_PORT,
            r.tun_port.to_be_bytes().to_vec(),
        ));
        v.push(Attr::u16(dest_attr::TUN_FLAGS, r.tun_flags));
    }
    Attr::nested(cmd_attr::DEST, v)
}

/// The netlink command and attributes for a configuration request.
pub fn message(r: &Request) -> (u8, Vec<Attr>) {
    match r.cmd {
        Cmd::Add => (cmd::NEW_SERVICE, vec![service_attrs(r, true)]),
        Cmd::Edit => (cmd::SET_SERVICE, vec![service_attrs(r, true)]),
        Cmd::Del => (cmd::DEL_SERVICE, vec![service_attrs(r, false)]),
        Cmd::AddDest => (
            cmd::NEW_DEST,
            vec![service_attrs(r, false), dest_attrs(r, true)],
        ),
        Cmd::EditDest => (
            cmd::SET_DEST,
            vec![service_attrs(r, false), dest_attrs(r, true)],
        ),
        Cmd::DelDest => (
            cmd::DEL_DEST,
            vec![service_attrs(r, false), dest_attrs(r, false)],
        ),
        Cmd::Flush => (cmd::FLUSH, vec![]),
        Cmd::Zero if r.has_service => (cmd::ZERO, vec![service_attrs(r, false)]),
        Cmd::Zero => (cmd::ZERO, vec![]),
        Cmd::Timeout => (
            cmd::SET_CONFIG,
            vec![
                Attr::u32(cmd_attr::TIMEOUT_TCP, r.timeouts[0]),
                Attr::u32(cmd_attr::TIMEOUT_TCP_FIN, r.timeouts[1]),
                Attr::u32(cmd_attr::TIMEOUT_UDP, r.timeouts[2]),
            ],
        ),
        Cmd::StartDaemon | Cmd::StopDaemon => {
            let mut d = vec![Attr::u32(daemon_attr::STATE, r.daemon_state)];
            if r.cmd == Cmd::StartDaemon {
                d.push(Attr::string(daemon_attr::MCAST_IFN, &r.mcast_ifn));
                d.push(Attr::u32(daemon_attr::SYNC_ID, r.syncid));
                // As libipvs: only what was given.
                if r.sync_maxlen != 0 {
                    d.push(Attr::u16(daemon_attr::SYNC_MAXLEN, r.sync_maxlen));
                }
                if r.mcast_port != 0 {
                    d.push(Attr::u16(daemon_attr::MCAST_PORT, r.mcast_port));
                }
                if r.mcast_ttl != 0 {
                    d.push(Attr::bytes(daemon_attr::MCAST_TTL, vec![r.mcast_ttl]));
                }
                match r.mcast_group {
                    Some(IpAddr::V4(g)) => {
                        d.push(Attr::bytes(daemon_attr::MCAST_GROUP, g.octets().to_vec()))
                    }
                    Some(IpAddr::V6(g)) => {
                        d.push(Attr::bytes(daemon_attr::MCAST_GROUP6, g.octets().to_vec()))
                    }
                    None => {}
                }
                for p in &r.sync_peers {
                    let b = match p {
                        IpAddr::V4(a) => a.octets().to_vec(),
                        IpAddr::V6(a) => a.octets().to_vec(),
                    };
                    d.push(Attr::bytes(daemon_attr::RS_PEER, b));
                }
            }
            let c = if r.cmd == Cmd::StartDaemon {
                cmd::NEW_DAEMON
            } else {
                cmd::DEL_DAEMON
            };
            (c, vec![Attr::nested(cmd_attr::DAEMON, d)])
        }
        Cmd::List | Cmd::Save | Cmd::Restore => unreachable!("listings are not messages"),
    }
}

fn get_timeouts(ipvs: &mut Ipvs) -> Result<Timeouts, Error> {
    let r = ipvs.request(cmd::GET_CONFIG, vec![])?;
    Ok(Timeouts::parse(
        &r.first()
            .ok_or_else(|| Error::Decode("empty GET_CONFIG reply".into()))?
            .attrs,
    ))
}

fn get_daemons(ipvs: &mut Ipvs) -> Result<Vec<Daemon>, Error> {
    let mut out = Vec::new();
    for m in ipvs.dump(cmd::GET_DAEMON, vec![])? {
        if let Some(n) = attr::find(&m.attrs, cmd_attr::DAEMON) {
            if let Some(d) = Daemon::parse(&n.children()?) {
                out.push(d);
            }
        }
    }
    Ok(out)
}

fn get_dests(ipvs: &mut Ipvs, svc: &mut Service) -> Result<(), Error> {
    let key = Attr::nested(cmd_attr::SERVICE, svc.key_attrs());
    for m in ipvs.dump(cmd::GET_DEST, vec![key])? {
        let Some(nest) = attr::find(&m.attrs, cmd_attr::DEST) else {
            continue;
        };
        if let Some(d) = Dest::parse(&nest.children()?, svc.af) {
            svc.dests.push(d);
        }
    }
    Ok(())
}

fn get_service(ipvs: &mut Ipvs, r: &Request) -> Result<Service, Error> {
    let reply = ipvs.request(cmd::GET_SERVICE, vec![service_attrs(r, false)])?;
    let mut svc = reply
        .first()
        .and_then(|m| attr::find(&m.attrs, cmd_attr::SERVICE))
        .and_then(|n| n.children().ok())
        .and_then(|a| Service::parse(&a))
        .ok_or_else(|| Error::Decode("GET_SERVICE reply lacks the service".into()))?;
    get_dests(ipvs, &mut svc)?;
    Ok(svc)
}

/// Reads the whole table: info, services and their real servers.
pub fn read_table(ipvs: &mut Ipvs) -> Result<(Info, Vec<Service>), Error> {
    let reply = ipvs.request(cmd::GET_INFO, vec![])?;
    let info = reply
        .first()
        .and_then(|m| Info::parse(&m.attrs))
        .ok_or_else(|| Error::Decode("GET_INFO reply lacks version or size".into()))?;
    let mut services = Vec::new();
    for m in ipvs.dump(cmd::GET_SERVICE, vec![])? {
        let Some(nest) = attr::find(&m.attrs, cmd_attr::SERVICE) else {
            continue;
        };
        let Some(svc) = Service::parse(&nest.children()?) else {
            continue;
        };
        services.push(svc);
    }
    for svc in &mut services {
        get_dests(ipvs, svc)?;
    }
    Ok((info, services))
}

fn read_conns() -> std::io::Result<Vec<Conn>> {
    let text = std::fs::read_to_string("/proc/net/ip_vs_conn")?;
    Ok(text.lines().skip(1).filter_map(Conn::parse).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_documents_every_option() {
        let mut page = Vec::new();
        man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        assert!(page.starts_with(".ie"), "roff preamble");
        assert!(page.contains(".TH ipvsadm-rs 8"));
        for section in [
            "NAME",
            "SYNOPSIS",
            "OPTIONS",
            "\"EXIT STATUS\"",
            "\"SEE ALSO\"",
        ] {
            assert!(page.contains(&format!(".SH {section}")), "{section}");
        }
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            // roff escapes the dashes.
            if let Some(long) = arg.get_long() {
                let roff = format!("\\fB\\-\\-{}\\fR", long.replace('-', "\\-"));
                assert!(page.contains(&roff), "--{long} missing");
            }
            if let Some(short) = arg.get_short() {
                assert!(
                    page.contains(&format!("\\fB\\-{short}")),
                    "-{short} missing"
                );
            }
            assert!(
                arg.get_help().is_some(),
                "{} has no help text",
                arg.get_id()
            );
        }
    }
}
