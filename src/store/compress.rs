//! zstd compression with a raw fallback for data that does not shrink.

use std::cell::RefCell;

/// How a blob's bytes are stored in a pack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Codec {
    /// Stored as is.
    Raw = 0,
    /// Compressed with zstd.
    Zstd = 1,
}

impl Codec {
    /// The on-disk byte.
    #[must_use]
    pub fn as_u8(self) -> u8 {
        self as u8
    }

    /// Parses the on-disk byte.
    #[must_use]
    pub fn from_u8(b: u8) -> Option<Self> {
        match b {
            0 => Some(Codec::Raw),
            1 => Some(Codec::Zstd),
            _ => None,
        }
    }
}

thread_local! {
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

/// Compresses `data` at `level`; returns `None` when the result would not be smaller than
/// 97% of the input, so the caller stores it raw and reads skip the decompression.
#[must_use]
pub fn compress(data: &[u8], level: i32) -> Option<Vec<u8>> {
    if data.len() < 64 {
        return None;
    }
    let out = COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(l, _)| *l != level) {
            *slot = zstd::bulk::Compressor::new(level).ok().map(|c| (level, c));
        }
        slot.as_mut().and_then(|(_, c)| c.compress(data).ok())
    })?;
    (out.len() * 100 < data.len() * 97).then_some(out)
}

/// Decompresses a zstd blob whose raw length is known.
///
/// # Errors
/// When the data is not valid zstd or does not decompress to `raw_len` bytes.
pub fn decompress(data: &[u8], raw_len: usize) -> std::io::Result<Vec<u8>> {
    let out = zstd::bulk::decompress(data, raw_len)?;
    if out.len() != raw_len {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("decompressed to {} bytes, expected {raw_len}", out.len()),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_raw_fallback() {
        let text = b"abcabcabc".repeat(1000);
        let z = compress(&text, 3).expect("repetitive text compresses");
        assert!(z.len() < text.len() / 10);
        assert_eq!(decompress(&z, text.len()).unwrap(), text);
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24).to_le_bytes()[0]
            })
            .collect();
        assert!(compress(&noise, 3).is_none());
        assert!(decompress(b"not zstd", 10).is_err());
    }
}
