//! A deterministic generator for the parsers' fuzz tests (xorshift64).

/// Returns a closure yielding a fixed sequence of 64-bit values.
pub(crate) fn xorshift() -> impl FnMut() -> u64 {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}
