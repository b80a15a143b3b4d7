//! Pixel formats (RFC 6143 §7.4) and the conversion from the screen's RGB888.

/// A true-colour pixel format as RFB describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PixelFormat {
    pub bits_per_pixel: u8,
    pub depth: u8,
    pub big_endian: bool,
    pub true_colour: bool,
    pub red_max: u16,
    pub green_max: u16,
    pub blue_max: u16,
    pub red_shift: u8,
    pub green_shift: u8,
    pub blue_shift: u8,
}

impl PixelFormat {
    /// AMT's native format: 16-bpp RGB565, little-endian (what its
    /// ServerInit announces).
    pub const RGB565: PixelFormat = PixelFormat {
        bits_per_pixel: 16,
        depth: 16,
        big_endian: false,
        true_colour: true,
        red_max: 31,
        green_max: 63,
        blue_max: 31,
        red_shift: 11,
        green_shift: 5,
        blue_shift: 0,
    };

    /// The 16 bytes of the PIXEL_FORMAT structure.
    pub fn to_bytes(&self) -> [u8; 16] {
        let r = self.red_max.to_be_bytes();
        let g = self.green_max.to_be_bytes();
        let b = self.blue_max.to_be_bytes();
        [
            self.bits_per_pixel,
            self.depth,
            u8::from(self.big_endian),
            u8::from(self.true_colour),
            r[0],
            r[1],
            g[0],
            g[1],
            b[0],
            b[1],
            self.red_shift,
            self.green_shift,
            self.blue_shift,
            0,
            0,
            0,
        ]
    }

    /// Reads a PIXEL_FORMAT structure.
    pub fn from_bytes(b: &[u8; 16]) -> PixelFormat {
        PixelFormat {
            bits_per_pixel: b[0],
            depth: b[1],
            big_endian: b[2] != 0,
            true_colour: b[3] != 0,
            red_max: u16::from_be_bytes([b[4], b[5]]),
            green_max: u16::from_be_bytes([b[6], b[7]]),
            blue_max: u16::from_be_bytes([b[8], b[9]]),
            red_shift: b[10],
            green_shift: b[11],
            blue_shift: b[12],
        }
    }

    /// Why this format cannot be served, if it cannot: only true colour at
    /// 8, 16 or 32 bits per pixel, with every channel inside the pixel.
    pub fn unsupported(&self) -> Option<String> {
        if !matches!(self.bits_per_pixel, 8 | 16 | 32) {
            return Some(format!("{} bits per pixel", self.bits_per_pixel));
        }
        if !self.true_colour {
            return Some("colour-map pixel formats".into());
        }
        let bits = u32::from(self.bits_per_pixel);
        for (max, shift) in [
            (self.red_max, self.red_shift),
            (self.green_max, self.green_shift),
            (self.blue_max, self.blue_shift),
        ] {
            let width = 16 - max.leading_zeros();
            if u32::from(shift) + width > bits {
                return Some("a colour channel outside the pixel".into());
            }
        }
        None
    }

    /// Bytes per pixel.
    pub fn bytes_per_pixel(&self) -> usize {
        usize::from(self.bits_per_pixel / 8)
    }

    /// Appends one pixel of colour (`r`, `g`, `b`) in this format.
    pub(crate) fn push(&self, out: &mut Vec<u8>, r: u8, g: u8, b: u8) {
        let scale = |c: u8, max: u16| (u32::from(c) * u32::from(max) + 127) / 255;
        let value = (scale(r, self.red_max) << self.red_shift)
            | (scale(g, self.green_max) << self.green_shift)
            | (scale(b, self.blue_max) << self.blue_shift);
        match (self.bits_per_pixel, self.big_endian) {
            (8, _) => out.push(value as u8),
            (16, false) => out.extend_from_slice(&(value as u16).to_le_bytes()),
            (16, true) => out.extend_from_slice(&(value as u16).to_be_bytes()),
            (_, false) => out.extend_from_slice(&value.to_le_bytes()),
            (_, true) => out.extend_from_slice(&value.to_be_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rgb565_round_trips_and_converts() {
        let f = PixelFormat::RGB565;
        assert_eq!(PixelFormat::from_bytes(&f.to_bytes()), f);
        assert_eq!(f.unsupported(), None);
        let mut out = Vec::new();
        f.push(&mut out, 0xff, 0, 0);
        f.push(&mut out, 0, 0, 0xaa);
        assert_eq!(out, [0x00, 0xf8, 0x15, 0x00]);
    }

    #[test]
    fn odd_formats_are_refused() {
        let mut f = PixelFormat::RGB565;
        f.bits_per_pixel = 24;
        assert!(f.unsupported().is_some());
        let mut f = PixelFormat::RGB565;
        f.true_colour = false;
        assert!(f.unsupported().is_some());
        let mut f = PixelFormat::RGB565;
        f.red_shift = 12;
        assert!(f.unsupported().is_some());
    }
}
