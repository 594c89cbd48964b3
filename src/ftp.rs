// SPDX-License-Identifier: GPL-2.0

//! What the FTP helper reads and writes in a control connection's
//! payload (`ip_vs_ftp.c`): the client's `PASV`, `EPSV`, `PORT` and
//! `EPRT` commands, the server's `227` and `229` answers, and the text
//! that replaces the server's address in them.
//!
//! Pure code over the TCP payload, host-tested and fuzzed: any byte
//! string yields an answer or `None`, never a panic. It accepts what
//! stock accepts, quirks included (empty fields of a `PORT` address
//! count as 0, `EPSV` answers may leave the address out).

use core::ops::Range;

/// The control port stock's `ip_vs_ftp` watches by default (its `ports`
/// parameter; `FTPPORT` in the core).
pub(crate) const CONTROL_PORT: u16 = 21;
/// The port of active-mode data connections: the control port less one
/// (`FTPDATA`).
pub(crate) const DATA_PORT: u16 = 20;

/// What the client last asked for, kept on the control connection
/// (stock's `app_data`): whether the server's next answer carries a
/// passive address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Mode {
    /// Active mode (or nothing asked yet).
    Active = 0,
    /// `PASV`: a `227` answer comes.
    Pasv = 1,
    /// `EPSV`: a `229` answer comes.
    Epsv = 2,
}

impl Mode {
    /// The mode stored as `v`.
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Mode::Pasv,
            2 => Mode::Epsv,
            _ => Mode::Active,
        }
    }
}

/// An address and port found in the payload; IPv4 addresses in the
/// first four bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
}

/// A client's command that matters to the helper.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Command {
    /// Passive mode follows (`PASV`, IPv4 only).
    Pasv,
    /// Extended passive mode follows (`EPSV`, `EPSV 1` or `EPSV 2`).
    Epsv,
    /// The client listens at this endpoint (`PORT` or `EPRT`): the
    /// server's data connection comes from its port 20.
    Active(Endpoint),
}

/// The server's passive endpoint in a `227` or `229` answer, and where
/// in the payload its text is (what [`passive_text`] replaces).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Passive {
    pub(crate) at: Endpoint,
    pub(crate) span: Range<usize>,
}

/// How [`addr_port`] reads the text after the keyword.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `h1,h2,h3,h4,p1,p2` (`PORT`, `227`).
    Plain,
    /// `<d>af<d>addr<d>port<d>` (`EPRT`, `229`); `empty_addr`: the
    /// family and address may be left out (`229`).
    Extended { empty_addr: bool },
}

fn starts_with_nocase(data: &[u8], word: &[u8]) -> bool {
    data.len() >= word.len() && data[..word.len()].eq_ignore_ascii_case(word)
}

/// The endpoint after `keyword` at the start of `data`
/// (`ip_vs_ftp_get_addrport`): blanks (`skip`) are passed over up to the
/// first other character (for the plain format, up to the first digit);
/// `addr` is the address an extended answer without one stands for.
fn addr_port(
    data: &[u8],
    keyword: &[u8],
    skip: u8,
    format: Format,
    ipv6: bool,
    addr: [u8; 16],
) -> Option<Passive> {
    if !starts_with_nocase(data, keyword) {
        return None;
    }
    let mut s = keyword.len();
    let mut found = false;
    loop {
        let c = *data.get(s)?;
        if !found {
            if format == Format::Plain && c.is_ascii_digit() {
                break;
            }
            found = c == skip;
        } else if c != skip {
            break;
        }
        s += 1;
    }
    match format {
        Format::Plain => plain(data, s),
        Format::Extended { empty_addr } => extended(data, s, empty_addr, ipv6, addr),
    }
}

/// `h1,h2,h3,h4,p1,p2` from `start`, ended by any other character
/// (which must come before the payload ends).
fn plain(data: &[u8], start: usize) -> Option<Passive> {
    let mut p = [0u8; 6];
    let mut i = 0;
    let mut s = start;
    loop {
        let c = *data.get(s)?;
        if c.is_ascii_digit() {
            let v = u32::from(p[i]) * 10 + u32::from(c - b'0');
            p[i] = u8::try_from(v).ok()?;
        } else if c == b',' && i < 5 {
            i += 1;
        } else {
            break;
        }
        s += 1;
    }
    if i != 5 {
        return None;
    }
    let mut addr = [0u8; 16];
    addr[..4].copy_from_slice(&p[..4]);
    Some(Passive {
        at: Endpoint {
            addr,
            port: u16::from_be_bytes([p[4], p[5]]),
        },
        span: start..s,
    })
}

/// `<d>af<d>addr<d>port<d>` from `start`, `d` any printable character
/// but blank; the family must be the connection's.
fn extended(
    data: &[u8],
    start: usize,
    empty_addr: bool,
    ipv6: bool,
    mut addr: [u8; 16],
) -> Option<Passive> {
    let d = *data.get(start)?;
    if !(33..=126).contains(&d) {
        return None;
    }
    let mut s = start + 1;
    if *data.get(s)? == d {
        // No family, so no address either: the preset one.
        if !empty_addr || *data.get(s + 1)? != d {
            return None;
        }
        s += 2;
    } else {
        if *data.get(s)? != if ipv6 { b'2' } else { b'1' } || *data.get(s + 1)? != d {
            return None;
        }
        s += 2;
        data.get(s)?;
        let (a, end) = if ipv6 {
            parse_ipv6(&data[s..], d)?
        } else {
            let (a, end) = parse_ipv4(&data[s..], d)?;
            let mut a16 = [0u8; 16];
            a16[..4].copy_from_slice(&a);
            (a16, end)
        };
        addr = a;
        s += end;
        if *data.get(s)? != d {
            return None;
        }
        s += 1;
    }
    let mut port: u32 = 0;
    loop {
        let c = *data.get(s)?;
        if !c.is_ascii_digit() {
            break;
        }
        port = port * 10 + u32::from(c - b'0');
        if port > 65535 {
            return None;
        }
        s += 1;
    }
    if port == 0 || *data.get(s)? != d {
        return None;
    }
    Some(Passive {
        at: Endpoint {
            addr,
            port: port as u16,
        },
        span: start..s + 1,
    })
}

/// What ends an address: the delimiter, a NUL or the end of the text
/// (as the kernel's `in4_pton` and `in6_pton` see them).
fn ends_addr(s: &[u8], i: usize, delim: u8) -> bool {
    !matches!(s.get(i), Some(&c) if c != delim && c != 0)
}

/// A dotted-quad IPv4 address at the start of `s` (`in4_pton`): four
/// parts of at least one digit, each at most 255, ended by `delim`, a
/// colon or the end; returns it and the length read.
fn parse_ipv4(s: &[u8], delim: u8) -> Option<([u8; 4], usize)> {
    let mut out = [0u8; 4];
    let mut i = 0;
    for (n, part) in out.iter_mut().enumerate() {
        let from = i;
        let mut v: u32 = 0;
        while let Some(c) = s.get(i).copied().filter(u8::is_ascii_digit) {
            v = v * 10 + u32::from(c - b'0');
            if v > 255 {
                return None;
            }
            i += 1;
        }
        if i == from {
            return None;
        }
        *part = v as u8;
        let last = n == 3;
        if ends_addr(s, i, delim) || s.get(i) == Some(&b':') {
            if !last {
                return None;
            }
        } else if s.get(i) == Some(&b'.') && !last {
            i += 1;
        } else {
            return None;
        }
    }
    Some((out, i))
}

/// An IPv6 address at the start of `s` (`in6_pton`): groups of one to
/// four hex digits, at most one `::`, optionally ending in a dotted
/// quad, ended by `delim` or the end; returns it and the length read.
fn parse_ipv6(s: &[u8], delim: u8) -> Option<([u8; 16], usize)> {
    let mut head = [0u16; 8];
    let mut n = 0;
    let mut gap: Option<usize> = None;
    let mut i = 0;
    let mut v4: Option<[u8; 4]> = None;
    if s.starts_with(b"::") {
        gap = Some(0);
        i = 2;
        if ends_addr(s, i, delim) {
            return Some(([0; 16], i));
        }
    }
    loop {
        // A group, or a dotted quad where two groups still fit.
        let from = i;
        let mut g: u32 = 0;
        while let Some(d) = s.get(i).and_then(|&c| (c as char).to_digit(16)) {
            g = (g << 4) | d;
            if i - from == 4 {
                return None;
            }
            i += 1;
        }
        if i == from {
            return None;
        }
        if s.get(i) == Some(&b'.') {
            if n + 2 > 8 || (gap.is_none() && n + 2 != 8) {
                return None;
            }
            let (q, len) = parse_ipv4(&s[from..], delim)?;
            i = from + len;
            if s.get(i) == Some(&b':') {
                return None;
            }
            v4 = Some(q);
            break;
        }
        if n == 8 {
            return None;
        }
        head[n] = g as u16;
        n += 1;
        if ends_addr(s, i, delim) {
            break;
        }
        if s.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        if s.get(i) == Some(&b':') {
            if gap.is_some() {
                return None;
            }
            gap = Some(n);
            i += 1;
            if ends_addr(s, i, delim) {
                break;
            }
        }
    }
    let mut words = [0u16; 8];
    let total = n + if v4.is_some() { 2 } else { 0 };
    match gap {
        None if total != 8 => return None,
        Some(_) if total >= 8 => return None,
        _ => {}
    }
    let at = gap.unwrap_or(n);
    words[..at].copy_from_slice(&head[..at]);
    let tail = n - at;
    let tail_start = 8 - tail - if v4.is_some() { 2 } else { 0 };
    words[tail_start..tail_start + tail].copy_from_slice(&head[at..n]);
    let mut out = [0u8; 16];
    for (k, w) in words.iter().enumerate() {
        out[2 * k..2 * k + 2].copy_from_slice(&w.to_be_bytes());
    }
    if let Some(q) = v4 {
        out[12..].copy_from_slice(&q);
    }
    Some((out, i))
}

/// The command in a client's segment (`ip_vs_ftp_in`): `PASV` (IPv4) or
/// `EPSV` anywhere in it, else `PORT` (IPv4) or `EPRT` at its start.
/// `EPSV` with a family other than the connection's, or cut short,
/// hides the rest of the segment.
pub(crate) fn client_command(data: &[u8], ipv6: bool) -> Option<Command> {
    for at in 0..data.len().saturating_sub(5) {
        let rest = &data[at..];
        if !ipv6 && starts_with_nocase(rest, b"PASV\r\n") {
            return Some(Command::Pasv);
        }
        if starts_with_nocase(rest, b"EPSV") && matches!(rest[4], b' ' | b'\r') {
            if rest[4] == b' ' {
                let family = if ipv6 { b'2' } else { b'1' };
                if rest.len() < 7 || rest[6] != b'\r' || rest[5] != family {
                    return None;
                }
            }
            return Some(Command::Epsv);
        }
    }
    let found = if ipv6 {
        None
    } else {
        addr_port(data, b"PORT", b' ', Format::Plain, false, [0; 16])
    };
    let found = found.or_else(|| {
        let ext = Format::Extended { empty_addr: false };
        addr_port(data, b"EPRT", b' ', ext, ipv6, [0; 16])
    })?;
    Some(Command::Active(found.at))
}

/// The passive endpoint in a server's segment answering `mode`
/// (`ip_vs_ftp_out`): `227 ... (h1,h2,h3,h4,p1,p2)` after `PASV`,
/// `229 ... (|||port|)` after `EPSV`, where a left-out address stands
/// for `server` (the real server's).
pub(crate) fn passive_reply(
    data: &[u8],
    mode: Mode,
    ipv6: bool,
    server: &[u8; 16],
) -> Option<Passive> {
    match mode {
        Mode::Active => None,
        Mode::Pasv => addr_port(data, b"227 ", b'(', Format::Plain, ipv6, [0; 16]),
        Mode::Epsv => {
            let ext = Format::Extended { empty_addr: true };
            addr_port(data, b"229 ", b'(', ext, ipv6, *server)
        }
    }
}

/// Room for the longest replacement text, `255,255,255,255,255,255`.
pub(crate) const TEXT_MAX: usize = 24;

fn put_decimal(out: &mut [u8; TEXT_MAX], len: &mut usize, v: u16) {
    let mut digits = [0u8; 5];
    let mut n = 0;
    let mut v = v;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &d in digits[..n].iter().rev() {
        out[*len] = d;
        *len += 1;
    }
}

/// The text that tells the client where to connect instead of the real
/// server: the virtual address and port in `227`'s form after `PASV`,
/// only the port in `229`'s after `EPSV` (the client uses the address
/// it is connected to). Returns the buffer and the length used.
pub(crate) fn passive_text(mode: Mode, vaddr: &[u8; 16], vport: u16) -> ([u8; TEXT_MAX], usize) {
    let mut out = [0u8; TEXT_MAX];
    let mut len = 0;
    match mode {
        Mode::Active => {}
        Mode::Pasv => {
            let [hi, lo] = vport.to_be_bytes();
            for (k, v) in [vaddr[0], vaddr[1], vaddr[2], vaddr[3], hi, lo]
                .into_iter()
                .enumerate()
            {
                if k > 0 {
                    out[len] = b',';
                    len += 1;
                }
                put_decimal(&mut out, &mut len, u16::from(v));
            }
        }
        Mode::Epsv => {
            out[..3].copy_from_slice(b"|||");
            len = 3;
            put_decimal(&mut out, &mut len, vport);
            out[len] = b'|';
            len += 1;
        }
    }
    (out, len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&a);
        o
    }

    fn active(addr: [u8; 16], port: u16) -> Option<Command> {
        Some(Command::Active(Endpoint { addr, port }))
    }

    #[test]
    fn client_commands() {
        assert_eq!(client_command(b"PASV\r\n", false), Some(Command::Pasv));
        assert_eq!(client_command(b"pasv\r\n", false), Some(Command::Pasv));
        // PASV is IPv4's only.
        assert_eq!(client_command(b"PASV\r\n", true), None);
        assert_eq!(client_command(b"EPSV\r\n", true), Some(Command::Epsv));
        assert_eq!(client_command(b"EPSV 1\r\n", false), Some(Command::Epsv));
        assert_eq!(client_command(b"EPSV 2\r\n", true), Some(Command::Epsv));
        // The other family, ALL, or cut short: nothing, and no PORT after.
        assert_eq!(client_command(b"EPSV 2\r\n", false), None);
        assert_eq!(client_command(b"EPSV ALL\r\n", false), None);
        assert_eq!(client_command(b"EPSV 1", false), None);
        assert_eq!(
            client_command(b"PORT 10,0,0,2,4,1\r\nEPSV 2\r\n", false),
            None
        );
        assert_eq!(
            client_command(b"PORT 192,168,0,1,195,80\r\n", false),
            active(v4([192, 168, 0, 1]), 50000)
        );
        // Empty parts are zeros; too many or too large parts are refused.
        assert_eq!(
            client_command(b"PORT 10,,0,2,,80\r\n", false),
            active(v4([10, 0, 0, 2]), 80)
        );
        assert_eq!(client_command(b"PORT 10,0,0,2,4\r\n", false), None);
        assert_eq!(client_command(b"PORT 10,0,0,256,4,1\r\n", false), None);
        // The number must end before the segment does.
        assert_eq!(client_command(b"PORT 10,0,0,2,4,1", false), None);
        assert_eq!(
            client_command(b"EPRT |1|10.0.0.2|6000|\r\n", false),
            active(v4([10, 0, 0, 2]), 6000)
        );
        let mut a6 = [0u8; 16];
        a6[..2].copy_from_slice(&[0x20, 0x01]);
        a6[2..4].copy_from_slice(&[0x0d, 0xb8]);
        a6[15] = 2;
        assert_eq!(
            client_command(b"EPRT |2|2001:db8::2|6000|\r\n", true),
            active(a6, 6000)
        );
        // Family must be the connection's; port 0 and > 65535 refused.
        assert_eq!(
            client_command(b"EPRT |2|2001:db8::2|6000|\r\n", false),
            None
        );
        assert_eq!(client_command(b"EPRT |1|10.0.0.2|0|\r\n", false), None);
        assert_eq!(client_command(b"EPRT |1|10.0.0.2|65536|\r\n", false), None);
        // Only at the start.
        assert_eq!(client_command(b"NOOP\r\nPORT 1,2,3,4,5,6\r\n", false), None);
        assert_eq!(client_command(b"", false), None);
        assert_eq!(client_command(b"USER ftp\r\n", false), None);
    }

    #[test]
    fn server_answers() {
        let srv = v4([192, 168, 1, 11]);
        let msg = b"227 Entering Passive Mode (192,168,1,11,156,64).\r\n";
        let p = passive_reply(msg, Mode::Pasv, false, &srv).unwrap();
        assert_eq!(
            p.at,
            Endpoint {
                addr: srv,
                port: 40000
            }
        );
        assert_eq!(&msg[p.span.clone()], b"192,168,1,11,156,64");
        // Without parentheses, vsftpd style or not.
        let msg = b"227 =192,168,1,11,156,64\r\n";
        let p = passive_reply(msg, Mode::Pasv, false, &srv).unwrap();
        assert_eq!(&msg[p.span], b"192,168,1,11,156,64");
        let msg = b"229 Entering Extended Passive Mode (|||40001|)\r\n";
        let p = passive_reply(msg, Mode::Epsv, false, &srv).unwrap();
        assert_eq!(
            p.at,
            Endpoint {
                addr: srv,
                port: 40001
            }
        );
        assert_eq!(&msg[p.span], b"|||40001|");
        // With an address of the right family.
        let msg = b"229 x (|1|10.1.2.3|40002|)\r\n";
        let p = passive_reply(msg, Mode::Epsv, false, &srv).unwrap();
        assert_eq!(p.at.addr, v4([10, 1, 2, 3]));
        // Not in the mode asked for, or another code.
        assert_eq!(
            passive_reply(b"229 (|||1|)\r\n", Mode::Pasv, false, &srv),
            None
        );
        assert_eq!(
            passive_reply(b"200 (1,2,3,4,5,6)\r\n", Mode::Pasv, false, &srv),
            None
        );
        assert_eq!(
            passive_reply(b"227 (1,2,3,4,5,6)\r\n", Mode::Active, false, &srv),
            None
        );
    }

    #[test]
    fn replacement_text() {
        let (b, n) = passive_text(Mode::Pasv, &v4([10, 0, 0, 100]), 40000);
        assert_eq!(&b[..n], b"10,0,0,100,156,64");
        let (b, n) = passive_text(Mode::Pasv, &v4([255; 4]), 65535);
        assert_eq!(&b[..n], b"255,255,255,255,255,255");
        let (b, n) = passive_text(Mode::Epsv, &v4([10, 0, 0, 100]), 7);
        assert_eq!(&b[..n], b"|||7|");
        // What it writes reads back.
        let srv = v4([1, 2, 3, 4]);
        let (b, n) = passive_text(Mode::Pasv, &v4([10, 0, 0, 100]), 1234);
        let mut msg = b"227 (".to_vec();
        msg.extend_from_slice(&b[..n]);
        msg.extend_from_slice(b")\r\n");
        let p = passive_reply(&msg, Mode::Pasv, false, &srv).unwrap();
        assert_eq!(
            p.at,
            Endpoint {
                addr: v4([10, 0, 0, 100]),
                port: 1234
            }
        );
    }

    #[test]
    fn addresses() {
        let p4 = |s: &[u8]| parse_ipv4(s, b'|').map(|(a, _)| a);
        assert_eq!(p4(b"10.0.0.1|"), Some([10, 0, 0, 1]));
        assert_eq!(p4(b"010.000.0.001|"), Some([10, 0, 0, 1]));
        assert_eq!(p4(b"10.0.0|"), None);
        assert_eq!(p4(b"10.0.0.1.2|"), None);
        assert_eq!(p4(b"10..0.1|"), None);
        assert_eq!(p4(b"256.0.0.1|"), None);
        assert_eq!(p4(b"10.0.0.1x"), None);
        let p6 = |s: &[u8]| parse_ipv6(s, b'|').map(|(a, _)| a);
        let mut a = [0u8; 16];
        assert_eq!(p6(b"::|"), Some(a));
        a[15] = 1;
        assert_eq!(p6(b"::1|"), Some(a));
        let full = b"2001:db8:0:0:0:0:0:1|";
        let mut b = [0u8; 16];
        b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        b[15] = 1;
        assert_eq!(p6(full), Some(b));
        assert_eq!(p6(b"2001:db8::1|"), Some(b));
        let mut c = [0u8; 16];
        c[10..].copy_from_slice(&[0xff, 0xff, 10, 0, 0, 1]);
        assert_eq!(p6(b"::ffff:10.0.0.1|"), Some(c));
        let mut d = [0u8; 16];
        d[..2].copy_from_slice(&[0xfe, 0x80]);
        assert_eq!(p6(b"fe80::|"), Some(d));
        assert_eq!(p6(b"1::2::3|"), None);
        assert_eq!(p6(b"1:2:3:4:5:6:7|"), None);
        assert_eq!(p6(b"1:2:3:4:5:6:7:8:9|"), None);
        assert_eq!(p6(b"12345::|"), None);
        assert_eq!(
            p6(b"1:2:3:4:5:6:7:8|"),
            Some({
                let mut e = [0u8; 16];
                for k in 0..8 {
                    e[2 * k + 1] = k as u8 + 1;
                }
                e
            })
        );
        assert_eq!(p6(b"g::|"), None);
    }

    /// Any bytes: an answer or `None`, never a panic; what is found lies
    /// in the payload.
    #[test]
    fn fuzz_never_panics() {
        // (Host tests only: `crate::xorshift` is the host crate's.)
        let mut next = crate::xorshift::xorshift();
        let pieces: [&[u8]; 16] = [
            b"PASV\r\n",
            b"EPSV",
            b" 1\r\n",
            b" 2\r\n",
            b"PORT ",
            b"EPRT ",
            b"227 ",
            b"229 ",
            b"(",
            b"|",
            b"1,2,3,4,5,6",
            b"10.0.0.1",
            b"::1",
            b",",
            b"65535",
            b"\r\n",
        ];
        let srv = [7u8; 16];
        for _ in 0..200_000 {
            let mut msg = Vec::new();
            for _ in 0..(next() % 8) {
                let r = next();
                if r.is_multiple_of(3) {
                    msg.push((r >> 8) as u8);
                } else {
                    msg.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()]);
                }
            }
            for ipv6 in [false, true] {
                let _ = client_command(&msg, ipv6);
                for mode in [Mode::Pasv, Mode::Epsv] {
                    if let Some(p) = passive_reply(&msg, mode, ipv6, &srv) {
                        assert!(p.span.start < p.span.end && p.span.end <= msg.len());
                        assert!(p.at.port != 0 || mode == Mode::Pasv);
                    }
                }
            }
        }
    }
}
