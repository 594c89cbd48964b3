// SPDX-License-Identifier: GPL-2.0

//! The SIP persistence engine's parser: the Call-ID of a SIP message
//! (`ip_vs_pe_sip.c`, with the header rules of `nf_conntrack_sip.c`).
//!
//! Pure code over the UDP payload, host-tested and fuzzed: any byte
//! string yields a Call-ID or `None`, never a panic.

/// Longest Call-ID kept (`IP_VS_PEDATA_MAXLEN`).
pub(crate) const MAX_CALL_ID: usize = 255;

/// Characters of a SIP "word" (`iswordc`).
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'!' | b'"'
                | b'%'
                | b'('..=b'+'
                | b':'
                | b'<'
                | b'>'
                | b'?'
                | b'['..=b']'
                | b'_'
                | b'`'
                | b'{'
                | b'}'
                | b'~'
                | b'-'..=b'/'
                | b'\''
        )
}

fn word_len(s: &[u8]) -> usize {
    s.iter().take_while(|&&c| is_word(c)).count()
}

/// Length of the Call-ID at the start of `s`: a word, optionally
/// `@` and a second word (`callid_len`); 0 if none.
fn call_id_len(s: &[u8]) -> usize {
    let len = word_len(s);
    if len == 0 || s.get(len) != Some(&b'@') {
        return len;
    }
    match word_len(&s[len + 1..]) {
        0 => 0,
        domain => len + 1 + domain,
    }
}

/// Past the line break at `s[i]` (CR, LF or CR LF), if a continuation
/// line (one starting with blanks) follows: the index of its first
/// non-blank (`sip_follow_continuation`).
fn follow_continuation(s: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    if s[i - 1] == b'\r' && s.get(i) == Some(&b'\n') {
        i += 1;
    }
    if !matches!(s.get(i), Some(b' ' | b'\t')) {
        return None;
    }
    let i = i + s[i..]
        .iter()
        .take_while(|&&c| c == b' ' || c == b'\t')
        .count();
    (i < s.len()).then_some(i)
}

/// Skips blanks, and a line break followed by a continuation line
/// (`sip_skip_whitespace`).
fn skip_whitespace(s: &[u8], mut i: usize) -> Option<usize> {
    while i < s.len() {
        match s[i] {
            b' ' | b'\t' => i += 1,
            b'\r' | b'\n' => return follow_continuation(s, i),
            _ => return Some(i),
        }
    }
    None
}

/// Where the `Call-ID` header's value starts and its length, if a header
/// line names it (in full or as the compact `i`) and a Call-ID follows.
fn find_header(s: &[u8]) -> Option<(usize, usize)> {
    const NAME: &[u8] = b"Call-ID";
    let mut i = 0;
    while i < s.len() {
        // Headers start lines: find the next line break.
        if s[i] != b'\r' && s[i] != b'\n' {
            i += 1;
            continue;
        }
        i += 1;
        if s[i - 1] == b'\r' && s.get(i) == Some(&b'\n') {
            i += 1;
        }
        let line = &s[i.min(s.len())..];
        let after_name =
            if line.len() >= NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
                i + NAME.len()
            } else if line.len() >= 2
                && line[0].eq_ignore_ascii_case(&b'i')
                && !line[1].is_ascii_alphabetic()
            {
                // The compact form must not start a longer name.
                i + 1
            } else {
                continue;
            };
        // The first such line without a colon ends the search, as in
        // stock (`ct_sip_get_header`), even if a later line has one.
        let colon = skip_whitespace(s, after_name).filter(|&c| s[c] == b':')?;
        let value = skip_whitespace(s, colon + 1)?;
        match call_id_len(&s[value..]) {
            0 => i = value,
            len => return Some((value, len)),
        }
    }
    None
}

/// The Call-ID of the SIP message `payload` (`get_callid`): present, at
/// most [`MAX_CALL_ID`] bytes, and ended by a line break.
pub(crate) fn call_id(payload: &[u8]) -> Option<&[u8]> {
    let (at, len) = find_header(payload)?;
    let end = at + len;
    if len > MAX_CALL_ID || !matches!(payload.get(end), Some(b'\r' | b'\n')) {
        return None;
    }
    Some(&payload[at..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds\r\n\
        To: Bob <sip:bob@example.com>\r\n\
        Call-ID: a84b4c76e66710@pc33.example.com\r\n\
        CSeq: 314159 INVITE\r\n\r\n";

    #[test]
    fn finds_the_call_id() {
        assert_eq!(
            call_id(INVITE),
            Some(&b"a84b4c76e66710@pc33.example.com"[..])
        );
        // Compact form, any case, blanks around the colon, LF only.
        assert_eq!(call_id(b"BYE x SIP/2.0\ni : abc\n"), Some(&b"abc"[..]));
        assert_eq!(
            call_id(b"BYE x SIP/2.0\ncall-id:\tabc\n"),
            Some(&b"abc"[..])
        );
        // The value may start on a continuation line.
        assert_eq!(
            call_id(b"BYE x SIP/2.0\r\nCall-ID:\r\n  abc\r\n"),
            Some(&b"abc"[..])
        );
    }

    #[test]
    fn refuses_what_stock_refuses() {
        // Not at a line start (the request line is no header).
        assert_eq!(call_id(b"Call-ID: abc\r\n"), None);
        // Not ended by a line break.
        assert_eq!(call_id(b"X\r\nCall-ID: abc"), None);
        // Empty, or a domain without a name after '@'.
        assert_eq!(call_id(b"X\r\nCall-ID: \r\n"), None);
        assert_eq!(call_id(b"X\r\nCall-ID: abc@\r\n"), None);
        // Too long.
        let mut long = b"X\r\nCall-ID: ".to_vec();
        long.extend(core::iter::repeat_n(b'a', MAX_CALL_ID + 1));
        long.extend_from_slice(b"\r\n");
        assert_eq!(call_id(&long), None);
        long.drain(12..13);
        assert_eq!(call_id(&long).map(<[u8]>::len), Some(MAX_CALL_ID));
        // "Call-Info" is another header; "id:" does not start with 'i' alone.
        assert_eq!(call_id(b"X\r\nCall-Info: <a>\r\nid: abc\r\n"), None);
    }

    #[test]
    fn stops_at_a_line_without_colon() {
        assert_eq!(call_id(b"X\r\ni-x\r\nCall-ID: abc\r\n"), None);
        assert_eq!(call_id(b"X\r\nCall-IDs: x\r\nCall-ID: abc\r\n"), None);
        // Other headers without a colon are not looked at.
        assert_eq!(call_id(b"X\r\nTo x\r\nCall-ID: abc\r\n"), Some(&b"abc"[..]));
    }

    /// Deterministic fuzzing: mutated and random messages never panic and
    /// whatever is found is a well-formed Call-ID inside the payload.
    #[test]
    fn fuzz() {
        // (Host tests only: `crate::xorshift` is the host crate's.)
        let mut next = crate::xorshift::xorshift();
        let alphabet = b"Call-IDi:@ \t\r\nab<>\x00\xff";
        for round in 0..20_000 {
            let mut msg = if round % 2 == 0 {
                INVITE.to_vec()
            } else {
                Vec::new()
            };
            for _ in 0..(next() % 8) {
                let r = next();
                let c = alphabet[(r >> 8) as usize % alphabet.len()];
                if msg.is_empty() || r.is_multiple_of(3) {
                    msg.push(c);
                } else {
                    let at = (r >> 16) as usize % msg.len();
                    if r % 3 == 1 {
                        msg[at] = c;
                    } else {
                        msg.truncate(at);
                    }
                }
            }
            if let Some(id) = call_id(&msg) {
                assert!(!id.is_empty() && id.len() <= MAX_CALL_ID);
                assert!(id.iter().all(|&c| is_word(c) || c == b'@'));
                let at = id.as_ptr() as usize - msg.as_ptr() as usize;
                assert!(matches!(msg.get(at + id.len()), Some(b'\r' | b'\n')));
            }
        }
    }
}
