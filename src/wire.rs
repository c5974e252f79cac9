//! **wire**, a leaf every stage may use: the one checked way to read numbers out of bytes that
//! came from the network or a file. Reads at an offset ([`be16`], [`le32`], ...) and a
//! [`Cursor`] that moves through a buffer both return `None` past the end instead of
//! panicking, so a parser states what it needs and bounds are checked once, here. Fixed
//! headers are read through typed views in the stages (smoltcp's way: the length is checked
//! when the view is made, the fields are read from it after).

/// The byte order of a file or a protocol's numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endian {
    Little,
    Big,
}

fn array<const N: usize>(b: &[u8], off: usize) -> Option<[u8; N]> {
    b.get(off..off.checked_add(N)?)?.try_into().ok()
}

impl Endian {
    /// This machine's byte order: the kernel's structures shared with the process (a capture
    /// ring) are written in it.
    #[cfg(target_endian = "little")]
    pub const NATIVE: Endian = Endian::Little;
    /// This machine's byte order: the kernel's structures shared with the process (a capture
    /// ring) are written in it.
    #[cfg(target_endian = "big")]
    pub const NATIVE: Endian = Endian::Big;

    /// The u16 of two bytes already read (a fixed header's field).
    pub fn u16_of(self, a: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        }
    }

    /// The u32 of four bytes already read (a fixed header's field).
    pub fn u32_of(self, a: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        }
    }

    pub fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        Some(self.u16_of(array(b, off)?))
    }

    pub fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        Some(self.u32_of(array(b, off)?))
    }
}

/// A big-endian u16 at `off`.
pub fn be16(b: &[u8], off: usize) -> Option<u16> {
    Endian::Big.u16(b, off)
}

/// A big-endian u24 at `off`.
pub fn be24(b: &[u8], off: usize) -> Option<u32> {
    let [x, y, z] = array(b, off)?;
    Some(u32::from_be_bytes([0, x, y, z]))
}

/// A big-endian u32 at `off`.
pub fn be32(b: &[u8], off: usize) -> Option<u32> {
    Endian::Big.u32(b, off)
}

/// A little-endian u16 at `off`.
pub fn le16(b: &[u8], off: usize) -> Option<u16> {
    Endian::Little.u16(b, off)
}

/// A little-endian u24 at `off`.
pub fn le24(b: &[u8], off: usize) -> Option<u32> {
    let [x, y, z] = array(b, off)?;
    Some(u32::from_le_bytes([x, y, z, 0]))
}

/// A little-endian u32 at `off`.
pub fn le32(b: &[u8], off: usize) -> Option<u32> {
    Endian::Little.u32(b, off)
}

/// Reads through a buffer from the front: each read checks that the bytes are there.
#[derive(Debug, Clone, Copy)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let b = self.buf.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(b)
    }

    pub fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub fn le16(&mut self) -> Option<u16> {
        let v = le16(self.buf, self.pos)?;
        self.pos += 2;
        Some(v)
    }

    pub fn le32(&mut self) -> Option<u32> {
        let v = le32(self.buf, self.pos)?;
        self.pos += 4;
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_none_never_a_panic() {
        let b = [1, 2, 3, 4, 5];
        assert_eq!(be16(&b, 3), Some(0x0405));
        assert_eq!(be16(&b, 4), None);
        assert_eq!(be24(&b, 2), Some(0x030405));
        assert_eq!(le24(&b, 0), Some(0x030201));
        assert_eq!(le32(&b, 1), Some(0x05040302));
        assert_eq!(be32(&b, 2), None);
        assert_eq!(be16(&b, usize::MAX), None);
        let mut c = Cursor::new(&b);
        assert_eq!(c.le16(), Some(0x0201));
        assert_eq!(c.u8(), Some(3));
        assert_eq!(c.le32(), None, "a failed read moves nothing");
        assert_eq!(c.take(2), Some(&b[3..]));
        assert_eq!(c.u8(), None);
    }
}
