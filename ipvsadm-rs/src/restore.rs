//! `-R`: apply rules in the `-S` format from stdin, all or nothing.
//!
//! Every line is parsed before anything is sent, so a typo changes nothing.
//! The commands then go to the kernel pipelined (many requests ahead of
//! their acks). If the kernel refuses one, the table is put back as it was
//! before the restore (services, real servers, timeouts) and the line is
//! reported.

use crate::attr::Attr;
use crate::cli::{Cli, Cmd};
use crate::model::Service;
use crate::netlink::{Error, Ipvs};
use crate::uapi::{cmd, cmd_attr, dest_attr, svc_attr};
use crate::{addr_bytes, message, read_table, Failure};
use clap::Parser;
use std::io::BufRead;

/// Parses one `-S` line into a netlink message.
pub fn parse_line(line: &str) -> Result<Option<(u8, Vec<Attr>)>, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words.is_empty() || words[0].starts_with('#') {
        return Ok(None);
    }
    if let Some(cli) = parse_saved(&words) {
        return finish(&cli);
    }
    let argv = std::iter::once("ipvsadm-rs").chain(words.iter().copied());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let t = e.to_string();
        t.lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_string()
    })?;
    finish(&cli)
}

/// The message of a parsed line.
fn finish(cli: &Cli) -> Result<Option<(u8, Vec<Attr>)>, String> {
    let r = cli.request().map_err(|u| u.0)?;
    if matches!(r.cmd, Cmd::List | Cmd::Save | Cmd::Restore) {
        return Err("only configuration commands can be restored".into());
    }
    Ok(Some(message(&r)))
}

/// A line in the form `-S` writes (`-A`/`-a`, a service, then the
/// options of the save format, each once, values not starting with `-`),
/// read without clap: its general matching costs tens of microseconds a
/// line, most of a 110k-line restore. `None` for anything else, which
/// clap then parses (and reports, if it is wrong).
fn parse_saved(words: &[&str]) -> Option<Cli> {
    let mut cli = Cli::default();
    let mut it = words.iter().copied().peekable();
    let mut seen = Vec::with_capacity(words.len());
    while let Some(w) = it.next() {
        if seen.contains(&w) {
            return None;
        }
        seen.push(w);
        let flag = |f: &mut bool| *f = true;
        let mut value = |v: &mut Option<String>| -> Option<()> {
            let next = it.next().filter(|n| !n.starts_with('-'))?;
            *v = Some(next.to_string());
            Some(())
        };
        match w {
            "-A" => flag(&mut cli.add_service),
            "-a" => flag(&mut cli.add_server),
            "-t" => value(&mut cli.tcp)?,
            "-u" => value(&mut cli.udp)?,
            "--sctp-service" => value(&mut cli.sctp)?,
            "-f" => value(&mut cli.fwmark)?,
            "-6" => flag(&mut cli.ipv6),
            "-s" => value(&mut cli.scheduler)?,
            "-M" => value(&mut cli.netmask)?,
            "--pe" => value(&mut cli.pe)?,
            "-b" => value(&mut cli.sched_flags)?,
            "-o" => flag(&mut cli.ops),
            "-r" => value(&mut cli.real_server)?,
            "-g" => flag(&mut cli.gatewaying),
            "-i" => flag(&mut cli.ipip),
            "-m" => flag(&mut cli.masquerading),
            "-w" => value(&mut cli.weight)?,
            "-x" => value(&mut cli.u_threshold)?,
            "-y" => value(&mut cli.l_threshold)?,
            "--tun-type" => value(&mut cli.tun_type)?,
            "--tun-port" => value(&mut cli.tun_port)?,
            "--tun-nocsum" => flag(&mut cli.tun_nocsum),
            "--tun-csum" => flag(&mut cli.tun_csum),
            "--tun-remcsum" => flag(&mut cli.tun_remcsum),
            // An optional timeout, as clap reads `-p`.
            "-p" => {
                let t = it.next_if(|n| !n.starts_with('-')).unwrap_or("");
                cli.persistent = Some(t.to_string());
            }
            _ => return None,
        }
    }
    Some(cli)
}

fn snapshot(ipvs: &mut Ipvs) -> Result<Vec<(u8, Vec<Attr>)>, Error> {
    let (_, services) = read_table(ipvs)?;
    let t = ipvs.request(cmd::GET_CONFIG, vec![])?;
    let mut msgs = vec![(cmd::FLUSH, vec![])];
    if let Some(m) = t.first() {
        msgs.push((cmd::SET_CONFIG, m.attrs.clone()));
    }
    msgs.extend(services_messages(&services));
    Ok(msgs)
}

/// The messages that create `services` with their real servers.
fn services_messages(services: &[Service]) -> Vec<(u8, Vec<Attr>)> {
    let mut msgs = Vec::new();
    for s in services {
        let mut a = s.key_attrs();
        a.push(Attr::bytes(
            svc_attr::SCHED_NAME,
            [s.scheduler.as_bytes(), b"\0"].concat(),
        ));
        if !s.pe_name.is_empty() {
            a.push(Attr::bytes(
                svc_attr::PE_NAME,
                [s.pe_name.as_bytes(), b"\0"].concat(),
            ));
        }
        let mut flags = s.flags.to_ne_bytes().to_vec();
        flags.extend_from_slice(&u32::MAX.to_ne_bytes());
        a.push(Attr::bytes(svc_attr::FLAGS, flags));
        a.push(Attr::u32(svc_attr::TIMEOUT, s.timeout));
        a.push(Attr::u32(svc_attr::NETMASK, s.netmask));
        msgs.push((cmd::NEW_SERVICE, vec![Attr::nested(cmd_attr::SERVICE, a)]));
        // Stock inserts real servers at the head: add them oldest first.
        for d in s.dests.iter().rev() {
            let da = vec![
                Attr::bytes(dest_attr::ADDR, addr_bytes(d.addr)),
                Attr::bytes(dest_attr::PORT, d.port.to_be_bytes().to_vec()),
                Attr::u16(dest_attr::ADDR_FAMILY, d.af),
                Attr::u32(dest_attr::FWD_METHOD, d.fwd_method),
                Attr::u32(dest_attr::WEIGHT, d.weight as u32),
                Attr::u32(dest_attr::U_THRESH, d.u_threshold),
                Attr::u32(dest_attr::L_THRESH, d.l_threshold),
                Attr::bytes(dest_attr::TUN_TYPE, vec![d.tun_type]),
                Attr::bytes(dest_attr::TUN_PORT, d.tun_port.to_be_bytes().to_vec()),
                Attr::u16(dest_attr::TUN_FLAGS, d.tun_flags),
            ];
            msgs.push((
                cmd::NEW_DEST,
                vec![
                    Attr::nested(cmd_attr::SERVICE, s.key_attrs()),
                    Attr::nested(cmd_attr::DEST, da),
                ],
            ));
        }
    }
    msgs
}

/// A `--json` listing, for `-R --json`.
#[derive(serde::Deserialize)]
struct Document {
    services: Vec<Service>,
}

/// Runs `-R` on stdin: the `-S` format, or with `json` the document of
/// `-L --json`.
pub fn run(ipvs: &mut Ipvs, json: bool) -> Result<(), Failure> {
    let mut msgs = Vec::new();
    let mut lines = Vec::new();
    if json {
        let doc: Document = serde_json::from_reader(std::io::stdin().lock()).map_err(|e| {
            Failure::Usage(format!(
                "stdin is not an ipvsadm-rs JSON listing: {e}; nothing was applied"
            ))
        })?;
        for (i, m) in services_messages(&doc.services).into_iter().enumerate() {
            msgs.push(m);
            lines.push(i + 1);
        }
    }
    for (n, line) in std::io::stdin()
        .lock()
        .lines()
        .enumerate()
        .take_while(|_| !json)
    {
        let line = line.map_err(Error::Io)?;
        match parse_line(&line) {
            Ok(Some(m)) => {
                msgs.push(m);
                lines.push(n + 1);
            }
            Ok(None) => {}
            Err(e) => {
                return Err(Failure::Usage(format!(
                    "line {}: {e}; nothing was applied",
                    n + 1
                )))
            }
        }
    }
    let before = snapshot(ipvs)?;
    let Err((i, e)) = ipvs.batch(&msgs) else {
        return Ok(());
    };
    let line = lines[i.min(lines.len() - 1)];
    let what = if json { "request" } else { "line" };
    let undo = ipvs.batch(&before);
    Err(Failure::Run(match undo {
        Ok(()) => Error::Context(format!(
            "{what} {line}: {e}; the table was restored to its state before -R"
        )),
        Err((_, u)) => Error::Context(format!("{what} {line}: {e}; rolling back failed too: {u}")),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn save_lines_parse() {
        let (c, a) = parse_line("-A -t 10.0.0.1:80 -s rr -p 300")
            .unwrap()
            .unwrap();
        assert_eq!(c, cmd::NEW_SERVICE);
        assert_eq!(a.len(), 1);
        let (c, _) = parse_line("-a -t 10.0.0.1:80 -r 192.168.0.2:80 -m -w 1")
            .unwrap()
            .unwrap();
        assert_eq!(c, cmd::NEW_DEST);
        assert_eq!(parse_line("   ").unwrap(), None);
        assert_eq!(parse_line("# comment").unwrap(), None);
        assert!(parse_line("-L -n").is_err());
        assert!(parse_line("-A -t 10.0.0.1:80 -w 3")
            .unwrap_err()
            .contains("Illegal 'weight'"));
    }

    /// The fast path reads what clap reads, and leaves the rest to it.
    #[test]
    fn saved_lines_read_as_clap_reads_them() {
        let clap = |l: &str| {
            let argv = std::iter::once("ipvsadm-rs").chain(l.split_whitespace());
            Cli::try_parse_from(argv).ok()
        };
        let same = [
            "-A -t 10.0.0.1:80 -s rr",
            "-A -t 10.0.0.1:80 -s wlc -p 300 -M 255.255.255.0",
            "-A -u 10.0.0.5:5060 -s sed -o",
            "-A -u 10.0.0.6:5060 -s rr -p 120 --pe sip",
            "-A -f 7 -s wrr -p",
            "-A -f 8 -6 -s lc -p 60 -M 64",
            "-A -t [2001:db8::1]:443 -s nq -b flag-1,flag-2",
            "-A --sctp-service 10.0.0.1:9 -s wlc",
            "-A -t 10.0.0.1:80 -s rr -p -M 255.255.0.0",
            "-a -t 10.0.0.1:80 -r 192.168.0.2:8080 -m -w 1",
            "-a -t 10.0.0.1:80 -r 192.168.0.3:80 -g -w 3 -x 200 -y 100",
            "-a -u 10.0.0.1:53 -r 192.168.0.2:53 -i -w 2",
            "-a -f 7 -r 192.168.0.4:0 -i --tun-type gue --tun-port 6080 --tun-csum -w 1",
            "-a -f 7 -r 192.168.0.5:0 -i --tun-type gre --tun-nocsum --tun-remcsum -w 1",
            "-a -t [2001:db8::1]:443 -r [2001:db8::2]:8443 -m -w 5",
        ];
        for l in same {
            let words: Vec<&str> = l.split_whitespace().collect();
            let fast = parse_saved(&words).unwrap_or_else(|| panic!("not read: {l}"));
            let slow = clap(l).unwrap_or_else(|| panic!("clap refuses: {l}"));
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{l}");
        }
        // Outside the save format: clap's to read (and to report).
        for l in [
            "-A -t 10.0.0.1:80 -s rr -s wrr",
            "-a -t 10.0.0.1:80 -r 192.168.0.2 -w -1",
            "-A -t 10.0.0.1:80 --scheduler rr",
            "-A -t10.0.0.1:80",
            "-L -n",
            "-a -t 10.0.0.1:80 -r",
        ] {
            let words: Vec<&str> = l.split_whitespace().collect();
            assert!(parse_saved(&words).is_none(), "{l}");
        }
    }
}
