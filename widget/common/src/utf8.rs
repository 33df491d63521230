//! Whether bytes are UTF-8: the check the tracker makes of every string the bootstrap writes
//! into its memory. `core::str::from_utf8`'s validator is tuned for speed (a word-at-a-time
//! path for ASCII), about 350 bytes brotli of the module; this plain loop, held to agree with
//! it by the tests, is a fraction of that, and the strings are short.

/// Whether `bytes` are well-formed UTF-8 (Unicode's table 3-7: no overlong forms, no
/// surrogates, nothing past U+10FFFF), exactly as `core::str::from_utf8` decides.
pub fn is_utf8(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(&lead) = bytes.get(at) {
        // The sequence's length and the range of its second byte.
        let (len, low, high) = match lead {
            0x00..=0x7F => (1, 0, 0),
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xED => (3, 0x80, 0x9F),
            0xE1..=0xEF => (3, 0x80, 0xBF),
            0xF0 => (4, 0x90, 0xBF),
            0xF1..=0xF3 => (4, 0x80, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => return false,
        };
        for k in 1..len {
            let (low, high) = if k == 1 { (low, high) } else { (0x80, 0xBF) };
            if !bytes.get(at + k).is_some_and(|b| (low..=high).contains(b)) {
                return false;
            }
        }
        at += len;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn agrees_with_core_on_every_sequence_of_up_to_three_bytes() {
        let mut bytes = [0u8; 3];
        for a in 0..=255u8 {
            assert_eq!(is_utf8(&[a]), core::str::from_utf8(&[a]).is_ok(), "{a:x}");
            for b in 0..=255u8 {
                assert_eq!(is_utf8(&[a, b]), core::str::from_utf8(&[a, b]).is_ok(), "{a:x} {b:x}");
                for c in 0..=255u8 {
                    bytes.copy_from_slice(&[a, b, c]);
                    assert_eq!(is_utf8(&bytes), core::str::from_utf8(&bytes).is_ok(), "{bytes:x?}");
                }
            }
        }
    }

    #[test]
    fn agrees_with_core_on_four_byte_sequences_at_their_edges() {
        for lead in 0xEEu8..=0xFF {
            for second in [0x7F, 0x80, 0x8F, 0x90, 0xBF, 0xC0] {
                for third in [0x7F, 0x80, 0xBF, 0xC0] {
                    for fourth in [0x7F, 0x80, 0xBF, 0xC0] {
                        let bytes = [lead, second, third, fourth];
                        assert_eq!(is_utf8(&bytes), core::str::from_utf8(&bytes).is_ok(), "{bytes:x?}");
                    }
                }
            }
        }
        assert!(is_utf8("a é 文 😀".as_bytes()) && is_utf8(b""));
    }

    proptest! {
        #[test]
        fn agrees_with_core_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            prop_assert_eq!(is_utf8(&bytes), core::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn text_with_one_byte_changed_agrees_with_core(text in "\\PC{0,16}", at in any::<usize>(), byte in any::<u8>()) {
            let mut bytes = text.into_bytes();
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = byte;
            }
            prop_assert_eq!(is_utf8(&bytes), core::str::from_utf8(&bytes).is_ok());
        }
    }
}
