// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/ip_vs`, `ip_vs_stats`, `ip_vs_conn`, `ip_vs_conn_sync` and
//! `ip_vs_sync_stats`.

use crate::kapi::net::Net;
use crate::kapi::proc::{SeqOut, Show, Walk, WalkOps};
use crate::listing;
use crate::netns::IpvsNet;
use core::ffi::CStr;
use core::fmt::Write;

/// `/proc/net/ip_vs`: services and real servers.
pub(crate) struct Info;

impl Show for Info {
    const NAME: &'static CStr = c"ip_vs";

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        let size = ipvs.conns.size();
        let table = ipvs.config.lock();
        listing::ip_vs(out, &table, size, crate::kapi::abi::hz())
    }
}

/// `/proc/net/ip_vs_stats`: totals.
pub(crate) struct Stats;

impl Show for Stats {
    const NAME: &'static CStr = c"ip_vs_stats";

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        let totals = listing::Totals {
            counts: ipvs.totals.snapshot().as_array(),
            rates: ipvs.totals.rates(),
        };
        listing::ip_vs_stats(out, &totals)
    }
}

/// `/proc/net/ip_vs_conn`: connections and templates, listed in parts
/// (a range of the table each; stock's seq_file iterator).
pub(crate) struct Conn;

impl Walk for Conn {
    const NAME: &'static CStr = c"ip_vs_conn";

    fn header(_net: &Net, out: &mut SeqOut) {
        let _ = out.write_str(listing::IP_VS_CONN_HEADER);
    }

    fn records(net: &Net, pos: u64, out: &mut SeqOut) -> Option<u64> {
        let ipvs = IpvsNet::get(net)?;
        let hz = crate::kapi::abi::hz();
        // `false`: the walk ends with the range of this connection.
        ipvs.conns.walk_from(pos, |c| {
            let _ = listing::conn_line(out, &row(c, hz));
            false
        })
    }
}

/// The callbacks of `/proc/net/ip_vs_conn`.
pub(crate) static CONN: WalkOps = WalkOps::new::<Conn>();

/// `/proc/net/ip_vs_conn_sync`, listed as `ip_vs_conn`.
pub(crate) struct ConnSync;

impl Walk for ConnSync {
    const NAME: &'static CStr = c"ip_vs_conn_sync";

    fn header(_net: &Net, out: &mut SeqOut) {
        let _ = out.write_str(listing::IP_VS_CONN_SYNC_HEADER);
    }

    fn records(net: &Net, pos: u64, out: &mut SeqOut) -> Option<u64> {
        let ipvs = IpvsNet::get(net)?;
        let hz = crate::kapi::abi::hz();
        ipvs.conns.walk_from(pos, |c| {
            let _ = listing::conn_sync_line(out, &row(c, hz), c.synced());
            false
        })
    }
}

/// The callbacks of `/proc/net/ip_vs_conn_sync`.
pub(crate) static CONN_SYNC: WalkOps = WalkOps::new::<ConnSync>();

/// `/proc/net/ip_vs_status`: the tables' sizes and the connection
/// table's chains, in upstream's format (without its estimator kthread
/// lines: the estimator is a timer here). Root only, as upstream: a read
/// walks every bucket.
pub(crate) struct Status;

impl Show for Status {
    const NAME: &'static CStr = c"ip_vs_status";
    const MODE: u16 = 0o440;

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        let (bits, lfactor) = ipvs.conns.sizing();
        let n = ipvs.conns.count();
        writeln!(out, "Conns:\t{n}")?;
        writeln!(
            out,
            "Conn buckets:\t{} ({bits} bits, lfactor {lfactor})",
            1u32 << bits
        )?;
        if n != 0 {
            let counts = ipvs.conns.chain_lengths();
            let sum: u32 = counts.iter().sum();
            let used = sum - counts[0];
            let pct = |v: u32, of: u32| u64::from(v) * 100 / u64::from(of.max(1));
            writeln!(
                out,
                "Conn buckets empty:\t{} ({}%)",
                counts[0],
                pct(counts[0], sum)
            )?;
            for (len, &c) in counts.iter().enumerate().skip(1).filter(|(_, &c)| c != 0) {
                writeln!(out, "Conn buckets len-{len}:\t{c} ({}%)", pct(c, used))?;
            }
        }
        let table = ipvs.config.lock();
        let (slots, svc_lfactor) = table.index_size();
        writeln!(out, "Services:\t{}", table.services().len())?;
        writeln!(
            out,
            "Service buckets:\t{slots} ({} bits, lfactor {svc_lfactor})",
            slots.trailing_zeros() * u32::from(slots != 0)
        )
    }
}

/// `/proc/net/ip_vs_sync_stats` (ipvs_rs only): what the sync daemons
/// sent, received and dropped.
pub(crate) struct SyncStats;

impl Show for SyncStats {
    const NAME: &'static CStr = c"ip_vs_sync_stats";

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        for (name, v) in ipvs.sync.stats.list() {
            writeln!(out, "{name:<16} {v}")?;
        }
        writeln!(out, "{:<16} {}", "queued_msgs", ipvs.sync.queued())?;
        Ok(())
    }
}

fn row(c: &crate::conn::Conn, hz: u32) -> listing::ConnRow<'_> {
    let [cport, vport, dport] = c.listed_ports();
    listing::ConnRow {
        af: c.af,
        protocol: c.protocol,
        client: (&c.caddr, cport),
        virt: (&c.vaddr, vport),
        dest: (&c.daddr, dport),
        state: c.state_name(),
        expires: c.expires_in(hz),
        pe: c.pe_data.as_deref().map(|d| ("sip", d)),
    }
}
