//! A generic netlink client for the IPVS family, on the rust-netlink crates.

use crate::attr::Attr;
use crate::uapi;
use netlink_packet_core::{DecodeError, ParseableParametrized};
use netlink_packet_core::{
    Emitable, NetlinkMessage, NetlinkPayload, NlasIterator, NLM_F_ACK, NLM_F_ACK_TLVS,
    NLM_F_CAPPED, NLM_F_DUMP, NLM_F_REQUEST,
};
use netlink_packet_generic::ctrl::nlas::GenlCtrlAttrs;
use netlink_packet_generic::ctrl::{GenlCtrl, GenlCtrlCmd};
use netlink_packet_generic::{GenlFamily, GenlHeader, GenlMessage};
use netlink_sys::{protocols::NETLINK_GENERIC, Socket, SocketAddr};
use std::fmt;

/// What went wrong talking to the kernel.
#[derive(Debug)]
pub enum Error {
    /// No generic netlink family "IPVS": neither module is loaded.
    NotLoaded,
    /// The kernel refused the request.
    Kernel { errno: i32, msg: Option<String> },
    /// Socket trouble.
    Io(std::io::Error),
    /// A reply we could not parse.
    Decode(String),
    /// An error with where it happened.
    Context(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotLoaded => write!(
                f,
                "IPVS is not loaded (no generic netlink family \"IPVS\"): load ip_vs.ko or ipvs_rs.ko"
            ),
            Error::Kernel { errno, msg } => {
                let text = std::io::Error::from_raw_os_error(*errno);
                match msg {
                    Some(m) => write!(f, "kernel: {m} ({text})"),
                    None => write!(f, "kernel: {text}"),
                }
            }
            Error::Io(e) => write!(f, "netlink: {e}"),
            Error::Decode(e) => write!(f, "netlink: malformed reply: {e}"),
            Error::Context(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An IPVS message: a command and its attributes.
#[derive(Clone, Debug)]
pub struct IpvsMsg {
    pub cmd: u8,
    pub attrs: Vec<Attr>,
}

impl GenlFamily for IpvsMsg {
    fn family_name() -> &'static str {
        uapi::GENL_NAME
    }

    fn command(&self) -> u8 {
        self.cmd
    }

    fn version(&self) -> u8 {
        uapi::GENL_VERSION
    }
}

impl Emitable for IpvsMsg {
    fn buffer_len(&self) -> usize {
        self.attrs.as_slice().buffer_len()
    }

    fn emit(&self, buffer: &mut [u8]) {
        self.attrs.as_slice().emit(buffer)
    }
}

impl ParseableParametrized<[u8], GenlHeader> for IpvsMsg {
    fn parse_with_param(buf: &[u8], header: GenlHeader) -> std::result::Result<Self, DecodeError> {
        Ok(Self {
            cmd: header.cmd,
            attrs: Attr::parse_all(buf)?,
        })
    }
}

/// A socket talking to the IPVS family of the caller's network namespace.
pub struct Ipvs {
    sock: Socket,
    family: u16,
    seq: u32,
}

impl Ipvs {
    /// Opens a socket and resolves the family id.
    pub fn connect() -> Result<Self> {
        let mut sock = Socket::new(NETLINK_GENERIC)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        // Error messages: the kernel's text (extack), without our request.
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        let mut me = Self {
            sock,
            family: 0,
            seq: 0,
        };
        me.family = me.resolve()?;
        Ok(me)
    }

    fn resolve(&mut self) -> Result<u16> {
        let mut msg = GenlMessage::from_payload(GenlCtrl {
            cmd: GenlCtrlCmd::GetFamily,
            nlas: vec![GenlCtrlAttrs::FamilyName(uapi::GENL_NAME.to_string())],
        });
        msg.finalize();
        let replies: Vec<GenlCtrl> = match self.exchange(msg, false) {
            Ok(r) => r,
            Err(Error::Kernel { errno, .. }) if errno == libc::ENOENT => {
                return Err(Error::NotLoaded)
            }
            Err(e) => return Err(e),
        };
        replies
            .iter()
            .flat_map(|r| &r.nlas)
            .find_map(|a| match a {
                GenlCtrlAttrs::FamilyId(id) => Some(*id),
                _ => None,
            })
            .ok_or(Error::NotLoaded)
    }

    /// Sends `cmd` and returns the reply messages (none for commands that
    /// only acknowledge).
    pub fn request(&mut self, cmd: u8, attrs: Vec<Attr>) -> Result<Vec<IpvsMsg>> {
        let msg = self.message(cmd, attrs);
        self.exchange(msg, false)
    }

    /// Sends `cmd` as a dump request and returns every message of the
    /// listing.
    pub fn dump(&mut self, cmd: u8, attrs: Vec<Attr>) -> Result<Vec<IpvsMsg>> {
        let msg = self.message(cmd, attrs);
        self.exchange(msg, true)
    }

    /// Sends `msgs` in order, up to [`WINDOW`] of them ahead of their
    /// acks. On the first refusal nothing more is sent; the error comes
    /// back with the index of the refused message once every ack of what
    /// was sent has arrived, so the socket is clean for the next request.
    pub fn batch(&mut self, msgs: &[(u8, Vec<Attr>)]) -> std::result::Result<(), (usize, Error)> {
        let first = self.seq.wrapping_add(1);
        let (mut sent, mut acked) = (0, 0);
        let mut failed = None;
        loop {
            let more = failed.is_none() && sent < msgs.len();
            if more && sent - acked < WINDOW {
                let (c, a) = &msgs[sent];
                let msg = self.message(*c, a.clone());
                self.send(msg, false).map_err(|e| (sent, e))?;
                sent += 1;
                continue;
            }
            if acked == sent {
                return failed.map_or(Ok(()), Err);
            }
            let (rx, _) = self
                .sock
                .recv_from_full()
                .map_err(|e| (acked, lost_acks(e)))?;
            for m in messages::<IpvsMsg>(&rx) {
                let m = m.map_err(|e| (acked, e))?;
                let idx = m.header.sequence_number.wrapping_sub(first) as usize;
                let NetlinkPayload::Error(e) = m.payload else {
                    continue;
                };
                if idx >= sent {
                    continue;
                }
                acked += 1;
                if let (Some(code), None) = (e.code, &failed) {
                    failed = Some((
                        idx,
                        Error::Kernel {
                            errno: -code.get(),
                            msg: extack_msg(m.header.flags, &e.header),
                        },
                    ));
                }
            }
        }
    }

    fn message(&self, cmd: u8, attrs: Vec<Attr>) -> GenlMessage<IpvsMsg> {
        let mut msg = GenlMessage::from_payload(IpvsMsg { cmd, attrs });
        msg.set_resolved_family_id(self.family);
        msg.finalize();
        msg
    }

    fn send<F>(&mut self, msg: GenlMessage<F>, dump: bool) -> Result<()>
    where
        F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + fmt::Debug,
    {
        self.seq = self.seq.wrapping_add(1);
        let mut nl = NetlinkMessage::from(msg);
        nl.header.flags = NLM_F_REQUEST | NLM_F_ACK | if dump { NLM_F_DUMP } else { 0 };
        nl.header.sequence_number = self.seq;
        nl.finalize();
        let mut tx = vec![0; nl.buffer_len()];
        nl.serialize(&mut tx);
        self.sock.send(&tx, 0)?;
        Ok(())
    }

    fn exchange<F>(&mut self, msg: GenlMessage<F>, dump: bool) -> Result<Vec<F>>
    where
        F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + fmt::Debug,
    {
        self.send(msg, dump)?;
        let mut out = Vec::new();
        loop {
            let (rx, _) = self.sock.recv_from_full()?;
            for m in messages::<F>(&rx) {
                let m = m?;
                if m.header.sequence_number != self.seq {
                    continue;
                }
                match m.payload {
                    NetlinkPayload::InnerMessage(g) => out.push(g.payload),
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) => match e.code {
                        None => return Ok(out),
                        Some(code) => {
                            return Err(Error::Kernel {
                                errno: -code.get(),
                                msg: extack_msg(m.header.flags, &e.header),
                            })
                        }
                    },
                    _ => {}
                }
            }
        }
    }
}

/// The netlink messages of one received datagram, in order; after a
/// malformed one, nothing more.
fn messages<F>(rx: &[u8]) -> impl Iterator<Item = Result<NetlinkMessage<GenlMessage<F>>>> + '_
where
    F: GenlFamily + Emitable + ParseableParametrized<[u8], GenlHeader> + fmt::Debug,
{
    let mut off = 0;
    std::iter::from_fn(move || {
        let rest = rx.get(off..).filter(|r| !r.is_empty())?;
        let parsed = NetlinkMessage::<GenlMessage<F>>::deserialize(rest)
            .map_err(Error::from)
            .and_then(|m| match m.header.length as usize {
                0 => Err(Error::Decode("zero-length message".into())),
                len => Ok((m, len)),
            });
        Some(match parsed {
            Ok((m, len)) => {
                off += len.next_multiple_of(4);
                Ok(m)
            }
            Err(e) => {
                off = rx.len();
                Err(e)
            }
        })
    })
}

/// Requests [`Ipvs::batch`] keeps in flight. Each queued ack takes about
/// 1.3 KB of the receive buffer (208 KB by default); past it the kernel
/// drops acks, and the requests they answer would seem never done.
const WINDOW: usize = 64;

/// A receive error; ENOBUFS means the kernel dropped replies.
fn lost_acks(e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ENOBUFS) {
        Error::Context("netlink: the kernel dropped acknowledgements (receive buffer full)".into())
    } else {
        e.into()
    }
}

/// The extended ack message of an error: after the echoed request header
/// (capped to the header alone), a run of attributes.
fn extack_msg(flags: u16, rest: &[u8]) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        u32::from_ne_bytes(rest.get(..4)?.try_into().ok()?) as usize
    };
    NlasIterator::new(rest.get(echoed.next_multiple_of(4)..)?)
        .filter_map(|a| a.ok())
        .find(|a| a.kind() == NLMSGERR_ATTR_MSG)
        .map(|a| {
            let v = a.value();
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extack_text_after_capped_header() {
        let mut rest = vec![0u8; 16];
        // NLMSGERR_ATTR_MSG "bad scheduler\0", padded
        let text = b"bad scheduler\0";
        rest.extend_from_slice(&((4 + text.len()) as u16).to_ne_bytes());
        rest.extend_from_slice(&1u16.to_ne_bytes());
        rest.extend_from_slice(text);
        while !rest.len().is_multiple_of(4) {
            rest.push(0);
        }
        assert_eq!(
            extack_msg(NLM_F_ACK_TLVS | NLM_F_CAPPED, &rest).as_deref(),
            Some("bad scheduler")
        );
        assert_eq!(extack_msg(NLM_F_CAPPED, &rest), None);
    }
}
