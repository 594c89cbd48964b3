// SPDX-License-Identifier: GPL-2.0

//! The connection table's hash: Bob Jenkins' `jhash` (as the kernel's
//! `jhash_3words`), keyed with a per-boot random seed so that clients cannot
//! aim at one bucket. Pure code, host-tested.

fn rol(x: u32, k: u32) -> u32 {
    x.rotate_left(k)
}

/// `__jhash_final`.
fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(rol(b, 14));
    a ^= c;
    a = a.wrapping_sub(rol(c, 11));
    b ^= a;
    b = b.wrapping_sub(rol(a, 25));
    c ^= b;
    c = c.wrapping_sub(rol(b, 16));
    a ^= c;
    a = a.wrapping_sub(rol(c, 4));
    b ^= a;
    b = b.wrapping_sub(rol(a, 14));
    c ^= b;
    c.wrapping_sub(rol(b, 24))
}

/// `jhash_3words(a, b, c, seed)`.
pub(crate) fn jhash_3words(a: u32, b: u32, c: u32, seed: u32) -> u32 {
    const JHASH_INITVAL: u32 = 0xdeadbeef;
    let init = JHASH_INITVAL.wrapping_add(seed).wrapping_add(12);
    final_mix(
        a.wrapping_add(init),
        b.wrapping_add(init),
        c.wrapping_add(init),
    )
}

/// Bucket of a connection, from the client side of it as stock hashes:
/// protocol, client address and port. Both directions of a connection
/// find it this way (replies carry the client as destination).
pub(crate) fn conn_bucket(
    protocol: u8,
    addr: &[u8; 16],
    port: [u8; 2],
    seed: u32,
    bits: u32,
) -> usize {
    let w = |i: usize| u32::from_ne_bytes([addr[i], addr[i + 1], addr[i + 2], addr[i + 3]]);
    let p = u32::from(u16::from_ne_bytes(port));
    // IPv4 stores zeroes after the first word. An IPv6 address goes
    // whole through the keyed hash: folding its words first (stock's
    // XOR) lets any two addresses with the same fold collide whatever
    // the seed, unlimited colliding clients in one /64.
    let seed = if w(4) | w(8) | w(12) == 0 {
        seed
    } else {
        jhash_3words(w(4), w(8), w(12), seed)
    };
    let h = jhash_3words(w(0), p, u32::from(protocol), seed);
    (h & ((1u32 << bits) - 1)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_kernel_jhash() {
        // Values of include/linux/jhash.h's jhash_3words, compiled in C.
        assert_eq!(jhash_3words(1, 2, 3, 0), 0xa461_58f5);
        assert_eq!(
            jhash_3words(0x0200_000a, 0x901f, 6, 0x1234_5678),
            0x9103_0b7e
        );
    }

    #[test]
    fn buckets_stay_in_range_and_spread() {
        let mut hits = [0u32; 256];
        for i in 0..25600u32 {
            let mut addr = [0u8; 16];
            addr[..4].copy_from_slice(&[10, 0, (i >> 8) as u8, i as u8]);
            let b = conn_bucket(6, &addr, (i as u16).to_be_bytes(), 0x1234_5678, 8);
            hits[b] += 1;
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
            hits[conn_bucket(6, &addr, [0, 80], 0x1234_5678, 8)] += 1;
        }
        // 16 per bucket on average.
        let max = hits.iter().max().copied().unwrap_or(0);
        assert!(max < 48, "longest chain {max}");
    }

    #[test]
    fn seed_changes_the_bucket() {
        let addr = [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let a: Vec<usize> = (0..16)
            .map(|s| conn_bucket(17, &addr, [0x1f, 0x90], s, 12))
            .collect();
        assert!(a.iter().any(|&b| b != a[0]));
    }
}
