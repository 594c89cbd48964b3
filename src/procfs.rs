// SPDX-License-Identifier: GPL-2.0

//! `/proc/net/ip_vs`, `ip_vs_stats`, `ip_vs_conn`, `ip_vs_conn_sync` and
//! `ip_vs_sync_stats`.

use crate::kapi::net::Net;
use crate::kapi::proc::{SeqOut, Show};
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

/// `/proc/net/ip_vs_conn`: connections and templates.
pub(crate) struct Conn;

impl Show for Conn {
    const NAME: &'static CStr = c"ip_vs_conn";

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        out.write_str(listing::IP_VS_CONN_HEADER)?;
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        let hz = crate::kapi::abi::hz();
        let mut res = Ok(());
        ipvs.conns.for_each(|c| {
            res = listing::conn_line(out, &row(c, hz));
            res.is_ok()
        });
        res
    }
}

/// `/proc/net/ip_vs_conn_sync`.
pub(crate) struct ConnSync;

impl Show for ConnSync {
    const NAME: &'static CStr = c"ip_vs_conn_sync";

    fn show(net: &Net, out: &mut SeqOut) -> core::fmt::Result {
        out.write_str(listing::IP_VS_CONN_SYNC_HEADER)?;
        let Some(ipvs) = IpvsNet::get(net) else {
            return Ok(());
        };
        let hz = crate::kapi::abi::hz();
        let mut res = Ok(());
        ipvs.conns.for_each(|c| {
            res = listing::conn_sync_line(out, &row(c, hz), c.synced());
            res.is_ok()
        });
        res
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
    listing::ConnRow {
        af: c.af,
        protocol: c.protocol,
        client: (&c.caddr, c.cport),
        virt: (&c.vaddr, c.vport),
        dest: (&c.daddr, c.dport),
        state: c.state_name(),
        expires: c.expires_in(hz),
        pe: c.pe_data.as_deref().map(|d| ("sip", d)),
    }
}
