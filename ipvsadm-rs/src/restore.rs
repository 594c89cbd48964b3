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
    let argv = std::iter::once("ipvsadm-rs").chain(words.iter().copied());
    let cli = Cli::try_parse_from(argv).map_err(|e| {
        let t = e.to_string();
        t.lines()
            .next()
            .unwrap_or("invalid arguments")
            .trim_start_matches("error: ")
            .to_string()
    })?;
    let r = cli.request().map_err(|u| u.0)?;
    if matches!(r.cmd, Cmd::List | Cmd::Save | Cmd::Restore) {
        return Err("only configuration commands can be restored".into());
    }
    Ok(Some(message(&r)))
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
}
