//! Keys of the services' redb tables: fixed-width parts, integers big-endian, so keys sort by
//! their parts in order (a range over one key's prefix visits its epochs in order) and every
//! store builds and reads them the same way.

/// Bytes of a public key part.
pub const KEY_LEN: usize = 32;
/// Bytes of an epoch or timestamp part.
pub const INT_LEN: usize = 8;

/// `parts` laid end to end into `N` bytes. The parts must fill exactly `N` bytes (checked in
/// debug builds); extra bytes are cut, missing ones left zero, so no input can panic.
pub fn compose<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    let mut at = 0;
    for part in parts {
        let end = (at + part.len()).min(N);
        out[at..end].copy_from_slice(&part[..end - at]);
        at = end;
    }
    debug_assert_eq!(at, N, "key parts of {at} bytes for a {N}-byte key");
    out
}

/// `key ‖ epoch`.
pub fn key_epoch(key: &impl AsRef<[u8]>, epoch: u64) -> [u8; KEY_LEN + INT_LEN] {
    compose(&[key.as_ref(), &epoch.to_be_bytes()])
}

/// `key ‖ epoch ‖ second key`.
pub fn key_epoch_key(
    key: &impl AsRef<[u8]>,
    epoch: u64,
    second: &impl AsRef<[u8]>,
) -> [u8; 2 * KEY_LEN + INT_LEN] {
    compose(&[key.as_ref(), &epoch.to_be_bytes(), second.as_ref()])
}

/// `epoch ‖ key ‖ second key`.
pub fn epoch_key_key(
    epoch: u64,
    key: &impl AsRef<[u8]>,
    second: &impl AsRef<[u8]>,
) -> [u8; 2 * KEY_LEN + INT_LEN] {
    compose(&[&epoch.to_be_bytes(), key.as_ref(), second.as_ref()])
}

/// `time ‖ key`, a negative time counting as 0 (so keys still sort by time).
pub fn time_key(time: i64, key: &impl AsRef<[u8]>) -> [u8; INT_LEN + KEY_LEN] {
    compose(&[&time.max(0).to_be_bytes(), key.as_ref()])
}

/// The big-endian integer at `offset` of a stored key; `None` when the key is too short
/// (a store written by something else).
pub fn int_at(key: &[u8], offset: usize) -> Option<u64> {
    let bytes = key.get(offset..offset.checked_add(INT_LEN)?)?;
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// The epoch of a `key ‖ epoch …` key.
pub fn epoch_after_key(key: &[u8]) -> Option<u64> {
    int_at(key, KEY_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_their_parts_and_read_back() {
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let k = key_epoch(&a, 7);
        assert_eq!(&k[..32], &a);
        assert_eq!(epoch_after_key(&k), Some(7));
        assert!(key_epoch(&a, 7) < key_epoch(&a, 8));
        assert!(
            key_epoch(&a, 300) < key_epoch(&b, 0),
            "the key part sorts first"
        );
        let k = key_epoch_key(&a, 9, &b);
        assert_eq!(epoch_after_key(&k), Some(9));
        assert_eq!(&k[40..], &b);
        let k = epoch_key_key(5, &a, &b);
        assert_eq!(int_at(&k, 0), Some(5));
        assert!(time_key(-5, &a) == time_key(0, &a));
        assert!(time_key(1, &b) < time_key(2, &a));
    }

    #[test]
    fn short_keys_read_as_nothing() {
        assert_eq!(epoch_after_key(&[0u8; 39]), None);
        assert_eq!(int_at(&[], usize::MAX), None);
        assert_eq!(epoch_after_key(&[0u8; 40]), Some(0));
    }
}
