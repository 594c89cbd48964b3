//! IPVS netlink attributes as a small tree: what requests carry and replies
//! hold, emitted and parsed with netlink-packet-core.

use netlink_packet_core::{DecodeError, Emitable, Nla, NlaBuffer, NlasIterator};

/// Attribute payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes (integers in host order, strings NUL-terminated).
    Bytes(Vec<u8>),
    /// Nested attributes.
    Nested(Vec<Attr>),
}

/// One attribute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    pub kind: u16,
    pub value: Value,
}

const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !((1 << 15) | (1 << 14));

impl Attr {
    pub fn u16(kind: u16, v: u16) -> Self {
        Self::bytes(kind, v.to_ne_bytes().to_vec())
    }
    pub fn u32(kind: u16, v: u32) -> Self {
        Self::bytes(kind, v.to_ne_bytes().to_vec())
    }
    pub fn bytes(kind: u16, v: Vec<u8>) -> Self {
        Self {
            kind,
            value: Value::Bytes(v),
        }
    }
    pub fn string(kind: u16, s: &str) -> Self {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        Self::bytes(kind, v)
    }
    pub fn nested(kind: u16, attrs: Vec<Attr>) -> Self {
        Self {
            kind,
            value: Value::Nested(attrs),
        }
    }

    /// Parses a run of attributes. Payloads stay raw: nesting is decided by
    /// the reader, via [`Attr::children`].
    pub fn parse_all(buf: &[u8]) -> Result<Vec<Attr>, DecodeError> {
        NlasIterator::new(buf)
            .map(|nla| {
                let nla: NlaBuffer<&[u8]> = nla?;
                Ok(Attr::bytes(
                    nla.kind() & NLA_TYPE_MASK,
                    nla.value().to_vec(),
                ))
            })
            .collect()
    }

    /// The raw payload (empty for nested attributes built locally).
    pub fn payload(&self) -> &[u8] {
        match &self.value {
            Value::Bytes(b) => b,
            Value::Nested(_) => &[],
        }
    }

    /// The attributes nested in this one.
    pub fn children(&self) -> Result<Vec<Attr>, DecodeError> {
        match &self.value {
            Value::Bytes(b) => Attr::parse_all(b),
            Value::Nested(v) => Ok(v.clone()),
        }
    }

    pub fn as_u16(&self) -> Option<u16> {
        Some(u16::from_ne_bytes(
            self.payload().get(..2)?.try_into().ok()?,
        ))
    }
    pub fn as_u32(&self) -> Option<u32> {
        Some(u32::from_ne_bytes(
            self.payload().get(..4)?.try_into().ok()?,
        ))
    }
    pub fn as_u64(&self) -> Option<u64> {
        Some(u64::from_ne_bytes(
            self.payload().get(..8)?.try_into().ok()?,
        ))
    }
    pub fn as_str(&self) -> Option<String> {
        let p = self.payload();
        let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
        String::from_utf8(p[..end].to_vec()).ok()
    }
}

impl Nla for Attr {
    fn value_len(&self) -> usize {
        match &self.value {
            Value::Bytes(b) => b.len(),
            Value::Nested(v) => v.as_slice().buffer_len(),
        }
    }

    fn kind(&self) -> u16 {
        match self.value {
            Value::Bytes(_) => self.kind,
            Value::Nested(_) => self.kind | NLA_F_NESTED,
        }
    }

    fn emit_value(&self, buffer: &mut [u8]) {
        match &self.value {
            Value::Bytes(b) => buffer[..b.len()].copy_from_slice(b),
            Value::Nested(v) => v.as_slice().emit(buffer),
        }
    }
}

/// Finds attribute `kind` in a run.
pub fn find(attrs: &[Attr], kind: u16) -> Option<&Attr> {
    attrs.iter().find(|a| a.kind == kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_round_trip() {
        let svc = Attr::nested(
            1,
            vec![
                Attr::u16(1, 2),
                Attr::bytes(6, b"wlc\0".to_vec()),
                Attr::u32(7, 0x10),
            ],
        );
        let attrs = vec![svc.clone(), Attr::u32(4, 900)];
        let mut buf = vec![0; attrs.as_slice().buffer_len()];
        attrs.as_slice().emit(&mut buf);
        let parsed = Attr::parse_all(&buf).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].as_u32(), Some(900));
        let kids = parsed[0].children().unwrap();
        assert_eq!(kids, svc.children().unwrap());
        assert_eq!(
            find(&kids, 6).and_then(Attr::as_str).as_deref(),
            Some("wlc")
        );
    }

    #[test]
    fn short_payloads_are_none() {
        let a = Attr::bytes(1, vec![1, 2]);
        assert_eq!(a.as_u32(), None);
        assert_eq!(a.as_u16(), Some(u16::from_ne_bytes([1, 2])));
    }
}
