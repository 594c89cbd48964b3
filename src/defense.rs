// SPDX-License-Identifier: GPL-2.0

//! Memory-pressure defense (stock's `update_defense_level`, `ip_vs_todrop`,
//! `todrop_entry`): when free memory falls below `amemthresh` pages, the
//! `drop_entry`, `drop_packet` and `secure_tcp` modes 1 switch themselves
//! to 2 (and back when memory returns); mode 3 is always on, 0 never.
//!
//! Pure logic (no `kernel` crate): the module feeds it the knobs and the
//! free memory every second and on writes to the three mode knobs.

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The knobs the defense reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Knobs {
    /// `drop_entry`: 0-3.
    pub(crate) drop_entry: i32,
    /// `drop_packet`: 0-3.
    pub(crate) drop_packet: i32,
    /// `secure_tcp`: 0-3.
    pub(crate) secure_tcp: i32,
    /// `amemthresh`, pages.
    pub(crate) amemthresh: i32,
    /// `am_droprate`: one in this many new connections dropped in
    /// `drop_packet` mode 3.
    pub(crate) am_droprate: i32,
}

impl Knobs {
    /// The knobs as `l` leaves them: its modes, the same thresholds.
    pub(crate) fn after(&self, l: &Level) -> Self {
        Self {
            drop_entry: l.drop_entry,
            drop_packet: l.drop_packet,
            secure_tcp: l.secure_tcp,
            ..*self
        }
    }
}

/// What one assessment decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Level {
    /// The three mode knobs afterwards (1 and 2 switch to each other).
    pub(crate) drop_entry: i32,
    /// As above.
    pub(crate) drop_packet: i32,
    /// As above.
    pub(crate) secure_tcp: i32,
    /// Whether entries are dropped at random every second.
    pub(crate) dropping_entries: bool,
    /// One new connection in this many is dropped; 0: none.
    pub(crate) drop_rate: i32,
    /// The drop counter restarts at the rate (modes 1 and 2 under
    /// pressure; mode 3 keeps counting down).
    pub(crate) restart_counter: bool,
    /// Whether TCP follows the state table against SYN floods
    /// (`tcp_states_dos`).
    pub(crate) secure_tcp_table: bool,
}

/// A mode knob that switches itself: 1 becomes 2 under pressure, 2 goes
/// back to 1 without; returns the new value and whether it acts.
fn auto(mode: i32, nomem: bool) -> (i32, bool) {
    match mode {
        1 | 2 if nomem => (2, true),
        1 | 2 => (1, false),
        3 => (3, true),
        m => (m, false),
    }
}

/// Assesses the knobs with `avail` pages of free and buffer memory
/// (`update_defense_level`).
pub(crate) fn assess(k: &Knobs, avail: i64) -> Level {
    let thresh = i64::from(k.amemthresh.max(0));
    let nomem = avail < thresh;
    let (drop_entry, dropping_entries) = auto(k.drop_entry, nomem);
    let (drop_packet, dropping) = auto(k.drop_packet, nomem);
    let (drop_rate, restart_counter) = match drop_packet {
        // `avail < thresh` here: the divisor is positive, the quotient
        // at most `thresh`.
        2 if dropping => {
            let rate = thresh.checked_div(thresh - avail).unwrap_or(1);
            (i32::try_from(rate).unwrap_or(i32::MAX), true)
        }
        3 => (k.am_droprate, false),
        _ => (0, false),
    };
    let (secure_tcp, secure_tcp_table) = auto(k.secure_tcp, nomem);
    Level {
        drop_entry,
        drop_packet,
        secure_tcp,
        dropping_entries,
        drop_rate,
        restart_counter,
        secure_tcp_table,
    }
}

/// The packet path's side of the defense: which new connections to drop
/// (`ip_vs_todrop`) and which TCP state table to follow.
#[derive(Debug, Default)]
pub(crate) struct Defense {
    rate: AtomicI32,
    counter: AtomicI32,
    entries: AtomicBool,
    secure_tcp: AtomicBool,
}

impl Defense {
    /// Applies an assessment.
    pub(crate) fn apply(&self, l: &Level) {
        if l.restart_counter {
            self.counter.store(l.drop_rate, Ordering::Relaxed);
        }
        self.rate.store(l.drop_rate, Ordering::Relaxed);
        self.entries.store(l.dropping_entries, Ordering::Relaxed);
        self.secure_tcp.store(l.secure_tcp_table, Ordering::Relaxed);
    }

    /// Whether to drop the packet that would start a new connection: one
    /// in every drop rate (`ip_vs_todrop`).
    pub(crate) fn todrop(&self) -> bool {
        let rate = self.rate.load(Ordering::Relaxed);
        if rate == 0 {
            return false;
        }
        if self.counter.fetch_sub(1, Ordering::Relaxed) - 1 > 0 {
            return false;
        }
        self.counter.store(rate, Ordering::Relaxed);
        true
    }

    /// Whether connections are dropped at random every second.
    pub(crate) fn dropping_entries(&self) -> bool {
        self.entries.load(Ordering::Relaxed)
    }

    /// Whether TCP follows the state table against SYN floods.
    pub(crate) fn secure_tcp(&self) -> bool {
        self.secure_tcp.load(Ordering::Relaxed)
    }
}

/// What the random drop sees of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry {
    /// A persistence template: `assured` once a connection of it got an
    /// answer; `one_packet` if its service schedules every packet.
    Template { assured: bool, one_packet: bool },
    /// A TCP or SCTP connection still opening (SYN_RECV, SYNACK; INIT1,
    /// INIT): the flood's.
    Opening,
    /// An established TCP or SCTP connection.
    Established,
    /// A TCP or SCTP connection in another state: kept.
    Other,
    /// UDP and the rest.
    Datagram,
}

/// How much of the table the random drop visits a second: a 32nd.
pub(crate) const SCAN_SHIFT: u32 = 5;

/// Seconds a connection must have been idle before the random drop may
/// take it (established, datagram and one-packet templates).
pub(crate) const IDLE_SECS: u64 = 60;

/// The random drop's pace per client packet count (`todrop_entry`): a
/// connection idle long enough that saw `n` client packets (0..=8) goes
/// every `n`-th time one is considered; 0 never.
#[derive(Debug, Default)]
pub(crate) struct EntryDropper {
    counters: [AtomicI32; 9],
}

impl EntryDropper {
    /// Whether to drop an entry seen as `e`, idle for `idle` jiffies of
    /// `hz` a second, with `in_pkts` client packets
    /// (`ip_vs_random_dropentry`); `in_use`: it controls connections.
    pub(crate) fn verdict(&self, e: Entry, in_use: bool, idle: u64, hz: u64, in_pkts: i32) -> bool {
        if in_use {
            return false;
        }
        match e {
            Entry::Template {
                one_packet: false,
                assured,
            } => !assured,
            Entry::Opening => true,
            Entry::Other => false,
            Entry::Template { .. } | Entry::Established | Entry::Datagram => {
                self.todrop(idle, hz, in_pkts)
            }
        }
    }

    /// `todrop_entry`.
    fn todrop(&self, idle: u64, hz: u64, in_pkts: i32) -> bool {
        if idle < IDLE_SECS * hz {
            return false;
        }
        let Ok(i) = usize::try_from(in_pkts) else {
            return false;
        };
        let Some(counter) = self.counters.get(i) else {
            return false;
        };
        // The rate of `i` packets is `i`.
        let rate = in_pkts;
        if rate == 0 || counter.fetch_sub(1, Ordering::Relaxed) - 1 > 0 {
            return false;
        }
        counter.store(rate, Ordering::Relaxed);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn knobs(drop_entry: i32, drop_packet: i32, secure_tcp: i32) -> Knobs {
        Knobs {
            drop_entry,
            drop_packet,
            secure_tcp,
            amemthresh: 1024,
            am_droprate: 10,
        }
    }

    #[test]
    fn modes_one_and_two_follow_memory() {
        // Plenty: 1 stays 1 and does nothing; 2 falls back to 1.
        for m in [1, 2] {
            let l = assess(&knobs(m, m, m), 5000);
            assert_eq!((l.drop_entry, l.drop_packet, l.secure_tcp), (1, 1, 1));
            assert!(!l.dropping_entries && !l.secure_tcp_table);
            assert_eq!(l.drop_rate, 0);
        }
        // Short: both become 2 and act.
        for m in [1, 2] {
            let l = assess(&knobs(m, m, m), 1000);
            assert_eq!((l.drop_entry, l.drop_packet, l.secure_tcp), (2, 2, 2));
            assert!(l.dropping_entries && l.secure_tcp_table && l.restart_counter);
            // 1024 / (1024 - 1000)
            assert_eq!(l.drop_rate, 42);
        }
    }

    #[test]
    fn modes_zero_and_three_ignore_memory() {
        for avail in [0, 5000] {
            let l = assess(&knobs(0, 0, 0), avail);
            assert_eq!((l.drop_entry, l.drop_packet, l.secure_tcp), (0, 0, 0));
            assert!(!l.dropping_entries && !l.secure_tcp_table);
            assert_eq!(l.drop_rate, 0);
            let l = assess(&knobs(3, 3, 3), avail);
            assert_eq!((l.drop_entry, l.drop_packet, l.secure_tcp), (3, 3, 3));
            assert!(l.dropping_entries && l.secure_tcp_table && !l.restart_counter);
            assert_eq!(l.drop_rate, 10);
        }
    }

    #[test]
    fn negative_threshold_is_zero() {
        let mut k = knobs(1, 1, 1);
        k.amemthresh = -5;
        let l = assess(&k, 0);
        assert_eq!(l.drop_entry, 1);
        // Nearly nothing left: every new connection goes.
        k.amemthresh = i32::MAX;
        assert_eq!(assess(&k, 0).drop_rate, 1);
        assert_eq!(assess(&k, i64::from(i32::MAX) - 1).drop_rate, i32::MAX);
    }

    #[test]
    fn todrop_takes_one_in_rate() {
        let d = Defense::default();
        assert!(!d.todrop());
        // Mode 3 keeps the counter: the first new connection goes at once.
        d.apply(&assess(&knobs(0, 3, 0), 5000));
        let dropped: Vec<usize> = (0..30).filter(|_| d.todrop()).collect();
        assert_eq!(dropped.len(), 3);
        let d = Defense::default();
        d.apply(&assess(&knobs(0, 3, 0), 5000));
        let at: Vec<usize> = (0..30).filter(|_| d.todrop()).collect();
        assert_eq!(at, [0, 10, 20]);
        // Modes 1/2 restart it: the rate-th goes first.
        let d = Defense::default();
        d.apply(&assess(&knobs(0, 1, 0), 1020));
        let at: Vec<usize> = (0..600).filter(|_| d.todrop()).collect();
        assert_eq!(at, [255, 511]);
        d.apply(&assess(&knobs(0, 2, 0), 5000));
        assert!(!(0..100).any(|_| d.todrop()));
    }

    #[test]
    fn random_drop_as_stock() {
        let d = EntryDropper::default();
        let hz = 100;
        let idle = 61 * hz;
        let t = |assured, one_packet| Entry::Template {
            assured,
            one_packet,
        };
        assert!(d.verdict(t(false, false), false, 0, hz, 0));
        assert!(!d.verdict(t(true, false), false, idle, hz, 0));
        assert!(!d.verdict(t(false, false), true, idle, hz, 0));
        assert!(d.verdict(Entry::Opening, false, 0, hz, 1));
        assert!(!d.verdict(Entry::Other, false, idle, hz, 1));
        // Recently used: kept whatever its count.
        assert!(!d.verdict(Entry::Datagram, false, 59 * hz, hz, 1));
        // Idle: one client packet goes every time, none never, more than
        // eight never, n packets every n-th time.
        assert!((0..5).all(|_| d.verdict(Entry::Datagram, false, idle, hz, 1)));
        assert!(!(0..5).any(|_| d.verdict(Entry::Established, false, idle, hz, 0)));
        assert!(!(0..5).any(|_| d.verdict(Entry::Established, false, idle, hz, 9)));
        assert!(!(0..5).any(|_| d.verdict(Entry::Datagram, false, idle, hz, -1)));
        let at: Vec<usize> = (0..9)
            .filter(|_| d.verdict(Entry::Established, false, idle, hz, 3))
            .collect();
        // A fresh counter (0) goes at once, then every third.
        assert_eq!(at, [0, 3, 6]);
        assert!(!d.verdict(t(true, true), false, idle, hz, 0));
        assert!(d.verdict(t(true, true), false, idle, hz, 2));
    }
}
