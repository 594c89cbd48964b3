// SPDX-License-Identifier: GPL-2.0

//! Netlink attributes (TLVs): reading payloads and walking nested ones.
//!
//! Pure code, host-tested: it never trusts a length it has not checked.

/// Size of `struct nlattr`: `u16` length (header included) and `u16` type.
pub(crate) const HDRLEN: usize = 4;
/// Attributes are padded to this alignment.
pub(crate) const ALIGNTO: usize = 4;
/// Flag bits carried in the type field.
pub(crate) const TYPE_MASK: u16 = !((1 << 15) | (1 << 14));

/// The payload of one attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Attr<'a>(&'a [u8]);

impl<'a> Attr<'a> {
    /// An attribute whose payload is `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self(data)
    }

    /// The raw payload.
    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.0
    }

    /// The payload as a `u8`, if it holds at least one byte.
    pub(crate) fn u8(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The payload as a native-endian `u16`.
    pub(crate) fn u16(&self) -> Option<u16> {
        Some(u16::from_ne_bytes(self.0.get(..2)?.try_into().ok()?))
    }

    /// The payload as a native-endian `u32`.
    pub(crate) fn u32(&self) -> Option<u32> {
        Some(u32::from_ne_bytes(self.0.get(..4)?.try_into().ok()?))
    }

    /// The payload as a native-endian `u64`.
    pub(crate) fn u64(&self) -> Option<u64> {
        Some(u64::from_ne_bytes(self.0.get(..8)?.try_into().ok()?))
    }

    /// The payload as a string: up to the first NUL, which must be there.
    pub(crate) fn str(&self) -> Option<&'a str> {
        let end = self.0.iter().position(|&b| b == 0)?;
        core::str::from_utf8(&self.0[..end]).ok()
    }

    /// The attributes nested in this one.
    pub(crate) fn nested(&self) -> Nested<'a> {
        Nested(self.0)
    }
}

/// Iterator over a run of attributes: `(type, payload)`, or `Err(())` once
/// if the run is malformed (then it stops).
#[derive(Clone, Debug)]
pub(crate) struct Nested<'a>(&'a [u8]);

impl<'a> Nested<'a> {
    /// Attributes packed in `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self(data)
    }
}

impl<'a> Iterator for Nested<'a> {
    type Item = Result<(u16, Attr<'a>), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        // Trailing bytes shorter than a header are ignored, as the kernel's
        // `nla_for_each_attr` does.
        if self.0.len() < HDRLEN {
            return None;
        }
        let len = usize::from(u16::from_ne_bytes([self.0[0], self.0[1]]));
        let ty = u16::from_ne_bytes([self.0[2], self.0[3]]) & TYPE_MASK;
        if len < HDRLEN || len > self.0.len() {
            self.0 = &[];
            return Some(Err(()));
        }
        let payload = &self.0[HDRLEN..len];
        let next = len.next_multiple_of(ALIGNTO).min(self.0.len());
        self.0 = &self.0[next..];
        Some(Ok((ty, Attr(payload))))
    }
}

/// How the kernel's liberal validation (`nla_parse_nested_deprecated`,
/// `validate_nla` in `lib/nlattr.c`) checks an attribute of one type
/// against its `struct nla_policy` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Rule {
    /// Not checked: `NLA_UNSPEC` without a length, or not in the policy.
    Any,
    /// `NLA_UNSPEC` with a length: at least that many bytes.
    AtLeast(usize),
    /// `NLA_U8` to `NLA_U64`: at least the integer's bytes (a longer one
    /// passes, with a warning in the kernel log).
    Int(usize),
    /// `NLA_BINARY` with a length: at most that many bytes.
    AtMost(usize),
    /// `NLA_NUL_STRING` of at most that many characters: a NUL within
    /// one byte more, and no more characters before a final NUL.
    NulString(usize),
    /// `NLA_NESTED` without a nested policy: empty, or a header at least.
    Nested,
}

impl Rule {
    /// Whether `b`, an attribute's payload, passes.
    pub(crate) fn accepts(self, b: &[u8]) -> bool {
        let n = b.len();
        match self {
            Rule::Any => true,
            Rule::AtLeast(len) | Rule::Int(len) => n >= len,
            Rule::AtMost(len) => n <= len,
            Rule::NulString(len) => {
                let min = n.min(len + 1);
                if min == 0 || !b[..min].contains(&0) {
                    return false;
                }
                n - usize::from(b[n - 1] == 0) <= len
            }
            Rule::Nested => n == 0 || n >= HDRLEN,
        }
    }
}

/// Whether the run of attributes `data` passes `policy` (indexed by
/// type) as the kernel's liberal validation finds: types 0 and beyond
/// the policy are skipped, and a malformed tail ends the run without
/// failing it (`nla_for_each_attr` stops there; only a warning).
pub(crate) fn valid(data: &[u8], policy: &[Rule]) -> bool {
    for a in Nested::new(data) {
        let Ok((ty, a)) = a else {
            break;
        };
        let rule = match policy.get(usize::from(ty)) {
            Some(r) if ty != 0 => *r,
            _ => Rule::Any,
        };
        if !rule.accepts(a.bytes()) {
            return false;
        }
    }
    true
}

/// Appends attribute `ty` with `payload` to `buf`, padded.
#[cfg(test)]
pub(crate) fn push(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = (HDRLEN + payload.len()) as u16;
    buf.extend_from_slice(&len.to_ne_bytes());
    buf.extend_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(payload);
    while !buf.len().is_multiple_of(ALIGNTO) {
        buf.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_rules_as_the_kernel_checks_them() {
        use Rule::*;
        let policy = [Any, Int(2), AtMost(16), NulString(15), Nested, AtLeast(16)];
        let run = |attrs: &[(u16, &[u8])]| {
            let mut b = Vec::new();
            for (t, p) in attrs {
                push(&mut b, *t, p);
            }
            valid(&b, &policy)
        };
        assert!(run(&[(1, &[2, 0]), (2, &[0; 16]), (3, b"rr\0")]));
        // Integers: shorter fails, longer passes.
        assert!(!run(&[(1, &[2])]));
        assert!(run(&[(1, &[2, 0, 0, 0])]));
        // Binary: at most its length.
        assert!(!run(&[(2, &[0; 17])]));
        assert!(run(&[(2, &[])]));
        // NUL strings: terminated within len + 1, at most len before it.
        assert!(!run(&[(3, &[b'x'; 15])]));
        assert!(run(&[(3, b"xxxxxxxxxxxxxxx\0")]));
        assert!(!run(&[(3, b"xxxxxxxxxxxxxxxx\0")]));
        assert!(!run(&[(3, b"")]));
        assert!(run(&[(3, b"rr\0garbage")]));
        assert!(!run(&[(3, b"rr")]));
        // Nested: empty, or a header at least.
        assert!(run(&[(4, &[])]));
        assert!(!run(&[(4, &[1, 2, 3])]));
        assert!(run(&[(4, &[4, 0, 1, 0])]));
        // NLA_UNSPEC with a length: at least that.
        assert!(!run(&[(5, &[0; 15])]));
        // Unknown types, type 0 and a malformed tail are no failure.
        assert!(run(&[(0, &[]), (9, &[1]), (100, &[])]));
        let mut b = Vec::new();
        push(&mut b, 1, &[2, 0]);
        b.extend_from_slice(&[200, 0, 1, 0, 7]);
        assert!(valid(&b, &policy));
        // Flag bits do not change the type.
        let mut b = Vec::new();
        push(&mut b, 1 | 1 << 15, &[2]);
        assert!(!valid(&b, &policy));
    }

    #[test]
    fn walks_padded_attributes() {
        let mut b = Vec::new();
        push(&mut b, 1, &7u32.to_ne_bytes());
        push(&mut b, 2, b"rr\0");
        push(&mut b, 3, &[9]);
        let got: Vec<_> = Nested::new(&b).collect::<Result<_, _>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].0, 1);
        assert_eq!(got[0].1.u32(), Some(7));
        assert_eq!(got[1].1.str(), Some("rr"));
        assert_eq!(got[2].1.u8(), Some(9));
        assert_eq!(got[2].1.u32(), None);
    }

    #[test]
    fn rejects_lengths_outside_the_buffer() {
        let mut b = Vec::new();
        push(&mut b, 1, &7u32.to_ne_bytes());
        b[0] = 200;
        let mut it = Nested::new(&b);
        assert_eq!(it.next(), Some(Err(())));
        assert_eq!(it.next(), None);
        // A length below the header size is malformed too.
        let b = [2u8, 0, 1, 0];
        assert_eq!(Nested::new(&b).next(), Some(Err(())));
    }

    #[test]
    fn string_needs_terminator() {
        assert_eq!(Attr::new(b"wlc").str(), None);
        assert_eq!(Attr::new(b"wlc\0junk").str(), Some("wlc"));
    }

    #[test]
    fn strips_flag_bits_from_type() {
        let mut b = Vec::new();
        push(&mut b, 1 | (1 << 15), &[]);
        assert_eq!(Nested::new(&b).next().unwrap().unwrap().0, 1);
    }
}
