// SPDX-License-Identifier: GPL-2.0

//! SCTP association states as the director sees them: stock IPVS's
//! machine (`ip_vs_proto_sctp.c`, `sctp_states`), driven by the first
//! chunk of each packet. Pure code, host-tested.

use crate::state::Dir;

/// SCTP connection states, in stock's numbering (`IP_VS_SCTP_S_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Sctp {
    /// Nothing seen yet.
    None = 0,
    /// First INIT from the client, no INIT-ACK yet.
    Init1,
    /// INIT retransmitted.
    Init,
    /// The server's INIT-ACK sent.
    CookieSent,
    /// The client's COOKIE-ECHO sent.
    CookieReplied,
    /// The server sent INIT (it opens the association).
    CookieWait,
    /// The client answered the server's INIT.
    Cookie,
    /// The server's COOKIE-ECHO sent.
    CookieEchoed,
    /// Established.
    Established,
    /// SHUTDOWN sent by the server.
    ShutdownSent,
    /// SHUTDOWN sent by the client.
    ShutdownReceived,
    /// SHUTDOWN-ACK sent.
    ShutdownAckSent,
    /// INIT answered with ABORT.
    Rejected,
    /// Closed.
    Closed,
}

use Sctp::{
    Closed as CL, Cookie as CO, CookieEchoed as CE, CookieReplied as CR, CookieSent as CS,
    CookieWait as CW, Established as ES, Init as IN, Init1 as I1, None as NO, Rejected as RJ,
    ShutdownAckSent as SA, ShutdownReceived as SR, ShutdownSent as SS,
};

/// `(60 + 1)` seconds: the longest retransmission timeout plus one.
const MAX_RTO: u32 = 61;

impl Sctp {
    /// Name as `/proc/net/ip_vs_conn` prints it.
    pub(crate) fn name(self) -> &'static str {
        [
            "NONE",
            "INIT1",
            "INIT",
            "C-SENT",
            "C-REPLIED",
            "C-WAIT",
            "COOKIE",
            "C-ECHOED",
            "ESTABLISHED",
            "S-SENT",
            "S-RECEIVED",
            "S-ACK-SENT",
            "REJECTED",
            "CLOSED",
        ][self as usize]
    }

    /// Stock timeout of the state, seconds (stock has no knob for them).
    pub(crate) fn timeout(self) -> u32 {
        match self {
            NO => 2,
            I1 | RJ => 4,
            ES => 15 * 60,
            _ => MAX_RTO,
        }
    }

    /// The state numbered `i`; out-of-range numbers read as `Closed`.
    pub(crate) fn from_index(i: u8) -> Self {
        [NO, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL]
            .get(usize::from(i))
            .copied()
            .unwrap_or(CL)
    }

    /// Whether the real server counts the connection as active.
    pub(crate) fn active(self) -> bool {
        self == ES
    }
}

/// Bytes of the SCTP common header: ports, verification tag, checksum.
pub(crate) const COMMON_HDR: usize = 12;

/// SCTP chunk types that matter here (RFC 9260, 3.2).
pub(crate) mod chunk {
    pub(crate) const INIT: u8 = 1;
    pub(crate) const INIT_ACK: u8 = 2;
    pub(crate) const ABORT: u8 = 6;
    pub(crate) const SHUTDOWN: u8 = 7;
    pub(crate) const SHUTDOWN_ACK: u8 = 8;
    pub(crate) const ERROR: u8 = 9;
    pub(crate) const COOKIE_ECHO: u8 = 10;
    pub(crate) const COOKIE_ACK: u8 = 11;
    pub(crate) const SHUTDOWN_COMPLETE: u8 = 14;
}

/// What a packet's chunks mean to the machine (`IP_VS_SCTP_*` events).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// DATA, SACK, HEARTBEAT and anything unknown.
    Data = 0,
    Init,
    InitAck,
    CookieEcho,
    CookieAck,
    Shutdown,
    ShutdownAck,
    ShutdownComplete,
    Error,
    Abort,
}

impl Event {
    /// The event of a packet whose first chunk is `first`; `second` is the
    /// type of the chunk after it, if any. An ABORT bundled right after a
    /// COOKIE-ECHO or COOKIE-ACK counts as the ABORT.
    pub(crate) fn of(first: u8, second: Option<u8>) -> Self {
        use Event::*;
        if matches!(first, chunk::COOKIE_ECHO | chunk::COOKIE_ACK) && second == Some(chunk::ABORT) {
            return Abort;
        }
        match first {
            chunk::INIT => Init,
            chunk::INIT_ACK => InitAck,
            chunk::ABORT => Abort,
            chunk::SHUTDOWN => Shutdown,
            chunk::SHUTDOWN_ACK => ShutdownAck,
            chunk::ERROR => Error,
            chunk::COOKIE_ECHO => CookieEcho,
            chunk::COOKIE_ACK => CookieAck,
            chunk::SHUTDOWN_COMPLETE => ShutdownComplete,
            _ => Data,
        }
    }
}

type Table = [[Sctp; 14]; 10];

/// Rows: events in [`Event`] order; columns: states in [`Sctp`] order.
#[rustfmt::skip]
const INPUT: Table = [
    /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* i   */ [I1, IN, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, IN, IN],
    /* i_a */ [CW, CW, CW, CS, CR, CO, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* c_e */ [CR, IN, IN, CR, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* c_a */ [ES, I1, IN, CS, CR, CW, CO, ES, ES, SS, SR, SA, RJ, CL],
    /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
    /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, ES, CL, SR, CL, RJ, CL],
    /* s_c */ [CL, CL, CL, CS, CR, CW, CO, CE, ES, SS, SR, CL, RJ, CL],
    /* err */ [CL, I1, IN, CS, CR, CW, CO, CL, ES, SS, SR, SA, RJ, CL],
    /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
];

#[rustfmt::skip]
const OUTPUT: Table = [
    /* d   */ [ES, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* i   */ [CW, CW, CW, CW, CW, CW, CW, CW, ES, CW, CW, CW, CW, CW],
    /* i_a */ [CS, CS, CS, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* c_e */ [CE, CE, CE, CE, CE, CE, CE, CE, ES, SS, SR, SA, RJ, CL],
    /* c_a */ [ES, ES, ES, ES, ES, ES, ES, ES, ES, SS, SR, SA, RJ, CL],
    /* s   */ [SS, SS, SS, SS, SS, SS, SS, SS, SS, SS, SR, SA, RJ, CL],
    /* s_a */ [SA, SA, SA, SA, SA, CW, CO, CE, ES, SA, SA, SA, RJ, CL],
    /* s_c */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* err */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* ab  */ [CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL, CL],
];

/// Input while no reply has been seen (replies bypass the director).
#[rustfmt::skip]
const INPUT_ONLY: Table = [
    /* d   */ [ES, I1, IN, CS, CR, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* i   */ [I1, IN, IN, IN, IN, IN, CO, CE, ES, SS, SR, SA, IN, IN],
    /* i_a */ [CE, CE, CE, CE, CE, CE, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* c_e */ [ES, ES, ES, ES, ES, ES, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* c_a */ [ES, I1, IN, ES, ES, CW, ES, ES, ES, SS, SR, SA, RJ, CL],
    /* s   */ [SR, I1, IN, CS, CR, CW, CO, CE, SR, SS, SR, SA, RJ, CL],
    /* s_a */ [CL, IN, IN, CS, CR, CW, CO, CE, CL, CL, SR, CL, RJ, CL],
    /* s_c */ [CL, CL, CL, CL, CL, CW, CO, CE, ES, SS, CL, CL, RJ, CL],
    /* err */ [CL, I1, IN, CS, CR, CW, CO, CE, ES, SS, SR, SA, RJ, CL],
    /* ab  */ [CL, CL, CL, CL, CL, RJ, CL, CL, CL, CL, CL, CL, CL, CL],
];

/// The per-connection part of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SctpConn {
    /// Current state.
    pub(crate) state: Sctp,
    /// No reply seen yet (`IP_VS_CONN_F_NOOUTPUT`).
    pub(crate) no_output: bool,
}

impl SctpConn {
    /// Feeds one packet (stock `set_sctp_state`); returns the new state.
    pub(crate) fn on_packet(&mut self, dir: Dir, event: Event) -> Sctp {
        let table = match dir {
            Dir::Output => {
                self.no_output = false;
                &OUTPUT
            }
            Dir::Input if self.no_output => &INPUT_ONLY,
            Dir::Input => &INPUT,
        };
        self.state = table[event as usize][self.state as usize];
        self.state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(no_output: bool) -> SctpConn {
        SctpConn {
            state: NO,
            no_output,
        }
    }

    #[test]
    fn index_round_trip() {
        for i in 0..14u8 {
            assert_eq!(Sctp::from_index(i) as u8, i);
        }
        assert_eq!(Sctp::from_index(99), CL);
    }

    #[test]
    fn nat_association_setup_and_shutdown() {
        let mut c = conn(false);
        assert_eq!(c.on_packet(Dir::Input, Event::Init), I1);
        assert_eq!(c.state.timeout(), 4);
        assert_eq!(c.on_packet(Dir::Output, Event::InitAck), CS);
        assert_eq!(c.on_packet(Dir::Input, Event::CookieEcho), CR);
        assert_eq!(c.on_packet(Dir::Output, Event::CookieAck), ES);
        assert!(c.state.active());
        assert_eq!(c.state.timeout(), 900);
        assert_eq!(c.on_packet(Dir::Input, Event::Data), ES);
        assert_eq!(c.on_packet(Dir::Input, Event::Shutdown), SR);
        assert!(!c.state.active());
        assert_eq!(c.on_packet(Dir::Output, Event::ShutdownAck), SA);
        assert_eq!(c.on_packet(Dir::Input, Event::ShutdownComplete), CL);
        assert_eq!(c.state.name(), "CLOSED");
    }

    #[test]
    fn direct_routing_sees_input_only() {
        let mut c = conn(true);
        assert_eq!(c.on_packet(Dir::Input, Event::Init), I1);
        assert_eq!(c.on_packet(Dir::Input, Event::CookieEcho), ES);
        assert_eq!(c.on_packet(Dir::Input, Event::Data), ES);
        assert!(c.no_output);
    }

    #[test]
    fn abort_rejects_or_closes() {
        let mut c = conn(false);
        c.on_packet(Dir::Input, Event::Init);
        assert_eq!(c.on_packet(Dir::Output, Event::Abort), RJ);
        assert_eq!(c.state.timeout(), 4);
        // A new INIT after the rejection starts over.
        assert_eq!(c.on_packet(Dir::Input, Event::Init), IN);
    }

    #[test]
    fn events_from_chunks() {
        assert_eq!(Event::of(0, None), Event::Data);
        assert_eq!(Event::of(1, Some(0)), Event::Init);
        assert_eq!(Event::of(3, None), Event::Data);
        assert_eq!(Event::of(14, None), Event::ShutdownComplete);
        assert_eq!(Event::of(10, Some(6)), Event::Abort);
        assert_eq!(Event::of(10, Some(0)), Event::CookieEcho);
        assert_eq!(Event::of(200, None), Event::Data);
    }
}
