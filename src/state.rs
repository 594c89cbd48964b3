// SPDX-License-Identifier: GPL-2.0

//! Connection states and their timeouts: the TCP state machine of stock
//! IPVS (`ip_vs_proto_tcp.c`, `tcp_states` and `tcp_states_dos`) and the
//! single UDP state. Pure code, host-tested; the connection table drives
//! it packet by packet.

/// TCP connection states, in stock's numbering (`IP_VS_TCP_S_*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Tcp {
    /// Nothing seen yet.
    None = 0,
    /// Established.
    Established,
    /// SYN sent by the real server side.
    SynSent,
    /// SYN received from the client.
    SynRecv,
    /// FIN seen.
    FinWait,
    /// Both sides closed.
    TimeWait,
    /// Reset or closed.
    Close,
    /// Client closed.
    CloseWait,
    /// Last ACK pending.
    LastAck,
    /// Listen.
    Listen,
    /// SYN+ACK (only under `secure_tcp`).
    SynAck,
}

use Tcp::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    None as NO, SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
};

impl Tcp {
    /// Name as `/proc/net/ip_vs_conn` prints it.
    pub(crate) fn name(self) -> &'static str {
        [
            "NONE",
            "ESTABLISHED",
            "SYN_SENT",
            "SYN_RECV",
            "FIN_WAIT",
            "TIME_WAIT",
            "CLOSE",
            "CLOSE_WAIT",
            "LAST_ACK",
            "LISTEN",
            "SYNACK",
        ][self as usize]
    }

    /// Stock default timeout of the state, seconds.
    pub(crate) fn default_timeout(self) -> u32 {
        [
            2,
            15 * 60,
            2 * 60,
            60,
            2 * 60,
            2 * 60,
            10,
            60,
            30,
            2 * 60,
            120,
        ][self as usize]
    }

    /// The state numbered `i` (`IP_VS_TCP_S_*`); out-of-range numbers
    /// read as `Close`.
    pub(crate) fn from_index(i: u8) -> Self {
        [NO, ES, SS, SR, FW, TW, CL, CW, LA, LI, SA]
            .get(usize::from(i))
            .copied()
            .unwrap_or(CL)
    }

    /// Whether a connection in this state counts as active for its real
    /// server (stock `tcp_state_active_table`).
    pub(crate) fn active(self) -> bool {
        matches!(self, ES | SS | SR | SA)
    }
}

/// Which way a packet goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dir {
    /// Client to real server.
    Input,
    /// Real server to client (seen only with NAT).
    Output,
}

/// The TCP flags that drive the machine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Flags {
    /// SYN.
    pub(crate) syn: bool,
    /// FIN.
    pub(crate) fin: bool,
    /// ACK.
    pub(crate) ack: bool,
    /// RST.
    pub(crate) rst: bool,
}

impl Flags {
    /// From the flags byte of a TCP header (offset 13).
    pub(crate) fn from_byte(b: u8) -> Self {
        Self {
            fin: b & 0x01 != 0,
            syn: b & 0x02 != 0,
            rst: b & 0x04 != 0,
            ack: b & 0x10 != 0,
        }
    }

    /// Row of the state table (stock `tcp_state_idx`): RST wins, then SYN,
    /// FIN, ACK; nothing set leaves the state alone.
    fn row(self) -> Option<usize> {
        if self.rst {
            Some(3)
        } else if self.syn {
            Some(0)
        } else if self.fin {
            Some(1)
        } else if self.ack {
            Some(2)
        } else {
            None
        }
    }
}

type Table = [[Tcp; 11]; 12];

/// `tcp_states`: input rows, output rows, input-only rows (connections
/// whose replies the director never sees: DR and tunnel).
#[rustfmt::skip]
const STATES: Table = [
    // INPUT:  sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
    // OUTPUT
    /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    // INPUT-ONLY
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// `tcp_states_dos`, used while `secure_tcp` defends against SYN floods.
#[rustfmt::skip]
const STATES_DOS: Table = [
    // INPUT:  sNO sES sSS sSR sFW sTW sCL sCW sLA sLI sSA
    /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
    /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
    /*ack*/ [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    // OUTPUT
    /*syn*/ [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
    /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
    /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
    // INPUT-ONLY
    /*syn*/ [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
    /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
    /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
    /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
];

/// The per-connection part of the machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TcpConn {
    /// Current state.
    pub(crate) state: Tcp,
    /// No reply seen yet (`IP_VS_CONN_F_NOOUTPUT`): until one is, input
    /// packets use the input-only rows.
    pub(crate) no_output: bool,
}

impl TcpConn {
    /// A new connection; `no_output` for forwarding methods whose replies
    /// bypass the director (everything but NAT).
    #[cfg(test)]
    pub(crate) fn new(no_output: bool) -> Self {
        Self {
            state: NO,
            no_output,
        }
    }

    /// Feeds one packet (stock `set_tcp_state`); returns the new state.
    pub(crate) fn on_packet(&mut self, dir: Dir, flags: Flags, secure_tcp: bool) -> Tcp {
        let mut off = match dir {
            Dir::Input => 0,
            Dir::Output => 4,
        };
        if self.no_output {
            if dir == Dir::Output {
                self.no_output = false;
            } else {
                off = 8;
            }
        }
        let table = if secure_tcp { &STATES_DOS } else { &STATES };
        self.state = match flags.row() {
            Some(row) => table[off + row][self.state as usize],
            None => CL,
        };
        self.state
    }
}

/// The one UDP state and its stock timeout, seconds.
pub(crate) const UDP_TIMEOUT: u32 = 5 * 60;

#[cfg(test)]
mod tests {
    use super::*;

    const SYN: Flags = Flags {
        syn: true,
        fin: false,
        ack: false,
        rst: false,
    };
    const SYNACK: Flags = Flags {
        syn: true,
        fin: false,
        ack: true,
        rst: false,
    };
    const ACK: Flags = Flags {
        syn: false,
        fin: false,
        ack: true,
        rst: false,
    };
    const FINACK: Flags = Flags {
        syn: false,
        fin: true,
        ack: true,
        rst: false,
    };
    const RST: Flags = Flags {
        syn: false,
        fin: false,
        ack: false,
        rst: true,
    };

    #[test]
    fn index_round_trip() {
        for i in 0..11u8 {
            assert_eq!(Tcp::from_index(i) as u8, i);
        }
        assert_eq!(Tcp::from_index(200), CL);
    }

    #[test]
    fn nat_handshake_and_close() {
        let mut c = TcpConn::new(false);
        assert_eq!(c.on_packet(Dir::Input, SYN, false), SR);
        assert!(c.state.active());
        assert_eq!(c.on_packet(Dir::Output, SYNACK, false), SR);
        assert_eq!(c.on_packet(Dir::Input, ACK, false), ES);
        assert!(c.state.active());
        assert_eq!(c.on_packet(Dir::Input, FINACK, false), CW);
        assert!(!c.state.active());
        assert_eq!(c.on_packet(Dir::Output, FINACK, false), TW);
        assert_eq!(c.state.default_timeout(), 120);
    }

    #[test]
    fn direct_routing_sees_input_only() {
        let mut c = TcpConn::new(true);
        assert_eq!(c.on_packet(Dir::Input, SYN, false), SR);
        assert_eq!(c.on_packet(Dir::Input, ACK, false), ES);
        // Input-only FIN goes to FIN_WAIT, not CLOSE_WAIT.
        assert_eq!(c.on_packet(Dir::Input, FINACK, false), FW);
        assert_eq!(c.on_packet(Dir::Input, ACK, false), FW);
        assert!(c.no_output);
    }

    #[test]
    fn reset_closes_and_flagless_packets_close() {
        let mut c = TcpConn::new(false);
        c.on_packet(Dir::Input, SYN, false);
        c.on_packet(Dir::Input, ACK, false);
        assert_eq!(c.on_packet(Dir::Input, RST, false), CL);
        assert_eq!(c.state.default_timeout(), 10);
        let mut d = TcpConn::new(false);
        assert_eq!(d.on_packet(Dir::Input, Flags::default(), false), CL);
    }

    #[test]
    fn secure_tcp_table() {
        let mut c = TcpConn::new(true);
        assert_eq!(c.on_packet(Dir::Input, SYN, true), SA);
        assert_eq!(c.on_packet(Dir::Input, ACK, true), ES);
    }

    #[test]
    fn flags_from_header_byte() {
        assert_eq!(Flags::from_byte(0x12), SYNACK);
        assert_eq!(Flags::from_byte(0x11), FINACK);
        assert_eq!(Flags::from_byte(0x04), RST);
    }

    #[test]
    fn names_and_timeouts_match_stock() {
        assert_eq!(ES.name(), "ESTABLISHED");
        assert_eq!(SA.name(), "SYNACK");
        assert_eq!(ES.default_timeout(), 900);
        assert_eq!(NO.default_timeout(), 2);
        assert_eq!(UDP_TIMEOUT, 300);
    }
}
