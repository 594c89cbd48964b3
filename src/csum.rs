// SPDX-License-Identifier: GPL-2.0

//! Internet checksums (RFC 1071) and their incremental update (RFC 1624),
//! for rewriting addresses and ports under NAT. Pure code, host-tested.
//!
//! Checksum values are the 16-bit field as it sits in the header, read
//! big-endian.

/// One's-complement sum of `data` as big-endian 16-bit words (a last odd
/// byte padded with zero), added to `sum`, not folded. Four bytes at a
/// time: a 32-bit word is the sum of its halves modulo 0xffff, and the sum
/// is zero only where the 16-bit one is, so [`fold`] gives the same value.
fn add(mut sum: u64, data: &[u8]) -> u64 {
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        sum += u64::from(u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    match *words.remainder() {
        [a] => sum += u64::from(a) << 8,
        [a, b] => sum += u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => sum += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        _ => {}
    }
    sum
}

fn fold(mut sum: u64) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The checksum of `data` (e.g. an IPv4 header with its checksum field
/// zeroed).
pub(crate) fn checksum(data: &[u8]) -> u16 {
    !fold(add(0, data))
}

/// The checksum of an IPv6 upper-layer packet `data` (its checksum field
/// zeroed) from `src` to `dst` with next header `protocol` (RFC 8200 8.1).
pub(crate) fn checksum6(src: &[u8; 16], dst: &[u8; 16], protocol: u8, data: &[u8]) -> u16 {
    let len = (data.len() as u32).to_be_bytes();
    let sum = add(add(add(add(0, src), dst), &len), &[0, 0, 0, protocol]);
    !fold(add(sum, data))
}

/// Adds `new` and removes `old` (same length, even) from a one's-complement
/// sum (four bytes at a time, as [`add`]).
fn replace(sum: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut s = u64::from(sum);
    let mut words = old.chunks_exact(4);
    for w in &mut words {
        s += u64::from(!u32::from_be_bytes([w[0], w[1], w[2], w[3]]));
    }
    for w in words.remainder().chunks(2) {
        s += u64::from(!u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
    }
    fold(add(s, new))
}

/// Updates a complete checksum field when `old` bytes covered by it become
/// `new` (RFC 1624: HC' = ~(~HC + ~m + m')).
pub(crate) fn update(check: u16, old: &[u8], new: &[u8]) -> u16 {
    !replace(!check, old, new)
}

/// Updates a partial checksum (`CHECKSUM_PARTIAL`: the field holds the
/// folded pseudo-header sum, not its complement; the device completes it).
pub(crate) fn update_partial(check: u16, old: &[u8], new: &[u8]) -> u16 {
    replace(check, old, new)
}

/// UDP over IPv4 sends 0 for "no checksum"; a computed 0 goes out as
/// 0xffff (`CSUM_MANGLED_0`).
pub(crate) fn udp_mangled(check: u16) -> u16 {
    if check == 0 {
        0xffff
    } else {
        check
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real IPv4 header (RFC 1071 style example) with checksum 0xb861.
    const HDR: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn full_checksum() {
        let mut h = HDR;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(checksum(&h), 0xb861);
        // A header with its checksum in place sums to zero.
        assert_eq!(checksum(&HDR), 0);
    }

    #[test]
    fn incremental_equals_recomputed() {
        // Rewrite the destination address as NAT does.
        let new_dst = [10, 0, 0, 42];
        let mut h = HDR;
        h[16..20].copy_from_slice(&new_dst);
        let check = update(0xb861, &HDR[16..20], &new_dst);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(check, checksum(&h));
    }

    #[test]
    fn incremental_over_many_random_rewrites() {
        // Deterministic pseudo-random headers and rewrites.
        let mut x: u32 = 0x1234_5678;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for _ in 0..2000 {
            let mut data = [0u8; 24];
            for b in data.iter_mut() {
                *b = next() as u8;
            }
            let before = checksum(&data);
            let at = (next() % 10) as usize * 2;
            let new: [u8; 4] = next().to_be_bytes();
            let mut after = data;
            after[at..at + 4].copy_from_slice(&new);
            let inc = update(before, &data[at..at + 4], &new);
            let full = checksum(&after);
            // 0x0000 and 0xffff are the same one's-complement value.
            assert!(
                inc == full || (inc | full) == 0xffff && (inc & full) == 0,
                "{inc:#x} vs {full:#x}"
            );
        }
    }

    #[test]
    fn partial_tracks_pseudo_header() {
        // Partial field = folded sum of the pseudo-header fields.
        let (src, dst, len_proto) = ([10u8, 0, 0, 2], [207u8, 175, 44, 110], [0u8, 6, 0, 40]);
        let pseudo = |d: &[u8; 4]| fold(add(add(add(0, &src), d), &len_proto));
        let new_dst = [172, 16, 0, 2];
        assert_eq!(
            update_partial(pseudo(&dst), &dst, &new_dst),
            pseudo(&new_dst)
        );
    }

    #[test]
    fn ipv6_pseudo_header() {
        // A packet with its checksum in place sums to zero with the
        // pseudo-header, as receivers check it.
        let (src, dst) = ([0x20; 16], [0xfd; 16]);
        let mut data = *b"\x01\x04\0\0ICMPv6 error.";
        let c = checksum6(&src, &dst, 58, &data);
        data[2..4].copy_from_slice(&c.to_be_bytes());
        assert_eq!(checksum6(&src, &dst, 58, &data), 0);
        assert_ne!(checksum6(&src, &dst, 17, &data), 0);
    }

    /// The plain 16-bit forms `add` and `replace` must match.
    fn add16(mut sum: u64, data: &[u8]) -> u64 {
        for w in data.chunks(2) {
            sum += u64::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        sum
    }

    fn replace16(sum: u16, old: &[u8], new: &[u8]) -> u16 {
        let mut s = u64::from(sum);
        for w in old.chunks(2) {
            s += u64::from(!u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]));
        }
        fold(add16(s, new))
    }

    #[test]
    fn four_bytes_at_a_time_as_two() {
        let mut next = crate::xorshift::xorshift();
        for _ in 0..200_000 {
            let len = (next() % 41) as usize;
            let mut a = [0u8; 40];
            let mut b = [0u8; 40];
            // Runs of 0x00 and 0xff reach the folds' edge cases.
            let fill = |x: u64| match x % 4 {
                0 => 0,
                1 => 0xff,
                _ => x as u8,
            };
            for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                *x = fill(next());
                *y = fill(next());
            }
            let sum = u64::from(next() as u16);
            assert_eq!(fold(add(sum, &a[..len])), fold(add16(sum, &a[..len])));
            let even = len & !1;
            let check = u16::from(fill(next())) | u16::from(fill(next())) << 8;
            assert_eq!(
                replace(check, &a[..even], &b[..even]),
                replace16(check, &a[..even], &b[..even]),
                "{:x?} -> {:x?}",
                &a[..even],
                &b[..even]
            );
        }
    }

    #[test]
    fn odd_lengths_and_udp_zero() {
        assert_eq!(checksum(&[0x01]), !0x0100);
        assert_eq!(udp_mangled(0), 0xffff);
        assert_eq!(udp_mangled(0x1234), 0x1234);
    }
}
