// SPDX-License-Identifier: GPL-2.0

//! SipHash for the connection table and the service index, keyed per
//! namespace so that nobody can aim entries at one chain. Pure code,
//! host-tested.

/// A 128-bit SipHash key: per namespace, random.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SipKey(pub(crate) [u64; 2]);

fn sip_round(v: &mut [u64; 4]) {
    v[0] = v[0].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(13) ^ v[0];
    v[0] = v[0].rotate_left(32);
    v[2] = v[2].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(16) ^ v[2];
    v[0] = v[0].wrapping_add(v[3]);
    v[3] = v[3].rotate_left(21) ^ v[0];
    v[2] = v[2].wrapping_add(v[1]);
    v[1] = v[1].rotate_left(17) ^ v[2];
    v[2] = v[2].rotate_left(32);
}

/// SipHash-C-D of `len` bytes: the little-endian bytes of `words`, then
/// the `len % 8` bytes of `tail` (the kernel's `siphash_Nu64` and
/// `hsiphash_1u32` are such inputs).
fn siphash<const C: usize, const D: usize>(
    key: &SipKey,
    words: &[u64],
    tail: u64,
    len: usize,
) -> u64 {
    let [k0, k1] = key.0;
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    let absorb = |m: u64, v: &mut [u64; 4]| {
        v[3] ^= m;
        for _ in 0..C {
            sip_round(v);
        }
        v[0] ^= m;
    };
    for &m in words {
        absorb(m, &mut v);
    }
    absorb((len as u64) << 56 | tail, &mut v);
    v[2] ^= 0xff;
    for _ in 0..D {
        sip_round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// SipHash-1-3 of `words` (the kernel's `hsiphash_Nu64` on 64-bit).
pub(crate) fn sip13(key: &SipKey, words: &[u64]) -> u64 {
    siphash::<1, 3>(key, words, 0, words.len() * 8)
}

/// `hsiphash_1u32` of a 64-bit kernel: SipHash-1-3 of 4 bytes, truncated.
pub(crate) fn hsiphash_u32(v: u32, key: &SipKey) -> u32 {
    siphash::<1, 3>(key, &[], u64::from(v), 4) as u32
}

/// Hash of a connection, from the client side of it as stock hashes:
/// protocol, client address and port (replies carry the client as
/// destination, so both directions find it). SipHash-1-3 keyed per
/// namespace, the kernel's `hsiphash` for hash tables on 64-bit: without
/// the key nobody can aim many clients at one chain. IPv6 addresses go
/// whole into it; IPv4 keeps zeroes after its first word.
pub(crate) fn conn_hash(key: &SipKey, protocol: u8, addr: &[u8; 16], port: [u8; 2]) -> u32 {
    let w = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&addr[i..i + 8]);
        u64::from_le_bytes(b)
    };
    let tail = u64::from(u16::from_ne_bytes(port)) << 8 | u64::from(protocol);
    let h = if w(4) == 0 && w(8) == 0 {
        sip13(key, &[w(0) << 24 | tail])
    } else {
        sip13(key, &[w(0), w(8), tail])
    };
    (h ^ h >> 32) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // SipHash-2-4, key 00..0f, inputs 00..(n-1) (the paper's
        // vectors, which the kernel's test_siphash uses too).
        let key = SipKey([0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]);
        assert_eq!(siphash::<2, 4>(&key, &[], 0, 0), 0x726f_db47_dd0e_0e31);
        assert_eq!(
            siphash::<2, 4>(&key, &[0x0706_0504_0302_0100], 0, 8),
            0x93f5_f579_9a93_2462
        );
    }

    #[test]
    fn hsiphash_matches_the_kernel() {
        // hsiphash_1u32 of lib/siphash.c (64-bit), compiled in C.
        assert_eq!(hsiphash_u32(0x0a00_0002, &SipKey([1, 2])), 0xf04e_26a5);
        assert_eq!(hsiphash_u32(0, &SipKey([0, 0])), 0x9ac4_8af0);
        // Three bytes in a tail, as the reference vector of 00 01 02.
        let key = SipKey([0x0706_0504_0302_0100, 0x0f0e_0d0c_0b0a_0908]);
        assert_eq!(
            siphash::<2, 4>(&key, &[], 0x02_0100, 3),
            0x8567_6696_d7fb_7e2d
        );
    }

    fn bucket(key: &SipKey, addr: &[u8; 16], port: [u8; 2], bits: u32) -> usize {
        (conn_hash(key, 6, addr, port) >> (32 - bits)) as usize
    }

    const KEY: SipKey = SipKey([0x1234_5678_9abc_def0, 0x0fed_cba9_8765_4321]);

    #[test]
    fn buckets_spread() {
        let mut hits = [0u32; 256];
        for i in 0..25600u32 {
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
            hits[bucket(&KEY, &addr, (i as u16).to_be_bytes(), 8)] += 1;
        }
        // 100 per bucket on average; none empty, none far over.
        assert!(hits.iter().all(|&h| h > 40 && h < 200), "{hits:?}");
    }

    #[test]
    fn ipv6_sources_with_one_fold_spread() {
        // 4096 clients of one /64 whose words XOR to the same value (the
        // flood a fold lets anyone aim at one bucket), one port.
        let mut hits = [0u32; 256];
        for i in 0..4096u32 {
            let mut addr = [0u8; 16];
            addr[..8].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1]);
            addr[8..12].copy_from_slice(&i.to_ne_bytes());
            addr[12..].copy_from_slice(&i.to_ne_bytes());
            hits[bucket(&KEY, &addr, [0, 80], 8)] += 1;
        }
        // 16 per bucket on average.
        let max = hits.iter().max().copied().unwrap_or(0);
        assert!(max < 48, "longest chain {max}");
    }

    #[test]
    fn every_part_of_the_key_counts() {
        let v4 = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut v6 = v4;
        v6[15] = 1;
        let h = |k: &SipKey, p: u8, a: &[u8; 16], port: u16| conn_hash(k, p, a, port.to_be_bytes());
        let base = h(&KEY, 17, &v4, 8080);
        assert_ne!(base, h(&KEY, 6, &v4, 8080));
        assert_ne!(base, h(&KEY, 17, &v4, 8081));
        assert_ne!(base, h(&KEY, 17, &v6, 8080));
        assert_ne!(base, h(&SipKey([1, 2]), 17, &v4, 8080));
    }
}
