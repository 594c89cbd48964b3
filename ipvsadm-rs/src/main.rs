//! ipvsadm-rs: configure IPVS (stock `ip_vs.ko` or `ipvs_rs.ko`) the way
//! ipvsadm does, with machine-readable output and clear errors on top.

mod attr;
mod format;
mod model;
mod netlink;
#[path = "../../src/uapi.rs"]
#[allow(dead_code)]
mod uapi;

use clap::Parser;
use model::{Dest, Info, Service};
use netlink::{Error, Ipvs};
use std::process::ExitCode;
use uapi::{cmd, cmd_attr};

/// Command line, ipvsadm style: one command flag plus options.
#[derive(Parser, Debug)]
#[command(
    name = "ipvsadm-rs",
    version,
    about = "Linux Virtual Server administration (ipvsadm-compatible)"
)]
struct Cli {
    /// List the virtual server table
    #[arg(short = 'L', long = "list", visible_short_alias = 'l')]
    list: bool,
    /// Clear the whole table
    #[arg(short = 'C', long = "clear")]
    clear: bool,
    /// Zero the packet, byte and rate counters
    #[arg(short = 'Z', long = "zero")]
    zero: bool,
    /// Numeric output of addresses and ports
    #[arg(short = 'n', long = "numeric")]
    numeric: bool,
    /// Print listings as JSON (schema: Documentation/ipvsadm-rs.rst)
    #[arg(long = "json")]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ipvsadm-rs: {e}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<(), Error> {
    let mut ipvs = Ipvs::connect()?;
    if cli.clear {
        ipvs.request(cmd::FLUSH, vec![])?;
    } else if cli.zero {
        ipvs.request(cmd::ZERO, vec![])?;
    } else {
        // -L is the default command, as with ipvsadm.
        let (info, services) = read_table(&mut ipvs)?;
        if cli.json {
            let doc = serde_json::json!({ "info": info, "services": services });
            println!(
                "{}",
                serde_json::to_string_pretty(&doc).expect("serializable")
            );
        } else {
            print!("{}", format::list(&info, &services));
        }
    }
    Ok(())
}

fn read_table(ipvs: &mut Ipvs) -> Result<(Info, Vec<Service>), Error> {
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
    services.sort_by_key(|s| (s.fwmark, s.af, s.protocol, s.addr, s.port));
    for svc in &mut services {
        let key = attr::Attr::nested(cmd_attr::SERVICE, svc.key_attrs());
        for m in ipvs.dump(cmd::GET_DEST, vec![key])? {
            let Some(nest) = attr::find(&m.attrs, cmd_attr::DEST) else {
                continue;
            };
            if let Some(d) = Dest::parse(&nest.children()?, svc.af) {
                svc.dests.push(d);
            }
        }
        svc.dests.sort_by_key(|d| (d.addr, d.port));
    }
    Ok((info, services))
}
