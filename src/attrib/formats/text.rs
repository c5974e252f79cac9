//! Bytes of an operator's file to text: UTF-8 (with or without a byte-order mark) or
//! GBK/GB18030, chosen by the user or detected. A line with a byte the encoding does not allow
//! is named (line, and the byte's offset in the line and in the file) and left out; the line
//! numbers of the others stay as they are in the file.

use super::LineError;

/// The encodings operators' exports come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 when the file is, GB18030 when most of its non-ASCII lines only read as that.
    #[default]
    Auto,
    /// UTF-8, a byte-order mark allowed.
    Utf8,
    /// GBK or GB18030 (a superset of GBK and GB2312).
    Gb18030,
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace('_', "-").as_str() {
            "auto" => Ok(Encoding::Auto),
            "utf-8" | "utf8" => Ok(Encoding::Utf8),
            "gbk" | "gb18030" | "gb2312" | "cp936" => Ok(Encoding::Gb18030),
            _ => Err(format!(
                "'{s}' is not an encoding this reads (auto, utf-8, gbk, gb18030)"
            )),
        }
    }
}

/// A file's text, the encoding it was read in, and the lines left out.
#[derive(Debug)]
pub struct Decoded {
    /// The text; a line that could not be read is an empty line in its place.
    pub text: String,
    /// "UTF-8" or "GB18030", and whether it was detected.
    pub encoding: &'static str,
    /// The lines left out, and why.
    pub errors: Vec<LineError>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The lines of `bytes` with their offsets, each without its `\n` (a `\r` before it is kept).
fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut at = 0;
    bytes.split_inclusive(|&b| b == b'\n').map(move |l| {
        let start = at;
        at += l.len();
        (start, l.strip_suffix(b"\n").unwrap_or(l))
    })
}

/// `line` read in `encoding`, or the offset of its first byte that the encoding does not allow.
fn read_line(line: &[u8], encoding: Encoding) -> Result<String, usize> {
    if encoding != Encoding::Gb18030 {
        return std::str::from_utf8(line)
            .map(str::to_string)
            .map_err(|e| e.valid_up_to());
    }
    let mut dec = encoding_rs::GB18030.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(line.len() * 3 + 4);
    let (res, read) = dec.decode_to_string_without_replacement(line, &mut out, true);
    match res {
        encoding_rs::DecoderResult::InputEmpty => Ok(out),
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            Err(read.saturating_sub(usize::from(bad) + usize::from(after)))
        }
        // The buffer holds three bytes of UTF-8 for every byte in: it cannot fill.
        encoding_rs::DecoderResult::OutputFull => Err(read),
    }
}

/// Which encoding a file without a byte-order mark is in: GB18030 when more lines read only as
/// GB18030 than read as UTF-8 with characters beyond ASCII.
fn detect(bytes: &[u8]) -> Encoding {
    let (mut utf8, mut gb) = (0usize, 0usize);
    for (_, l) in lines(bytes) {
        if l.is_ascii() {
            continue;
        }
        if read_line(l, Encoding::Utf8).is_ok() {
            utf8 += 1;
        } else if read_line(l, Encoding::Gb18030).is_ok() {
            gb += 1;
        }
    }
    if gb > utf8 {
        Encoding::Gb18030
    } else {
        Encoding::Utf8
    }
}

/// Reads `bytes` in `encoding` (detected when `Auto`).
pub fn decode(bytes: &[u8], encoding: Encoding) -> Decoded {
    let has_bom = bytes.starts_with(BOM);
    let body = if has_bom { &bytes[BOM.len()..] } else { bytes };
    let (chosen, detected) = match encoding {
        Encoding::Auto if has_bom => (Encoding::Utf8, true),
        Encoding::Auto => (detect(body), true),
        e => (e, false),
    };
    let offset0 = bytes.len() - body.len();
    let mut text = String::with_capacity(body.len());
    let mut errors = Vec::new();
    for (n, (at, l)) in lines(body).enumerate() {
        if n > 0 {
            text.push('\n');
        }
        match read_line(l, chosen) {
            Ok(t) => text.push_str(&t),
            Err(i) => errors.push(LineError {
                line: n + 1,
                message: format!(
                    "byte 0x{:02x} at column {} (offset {} in the file) is not {}",
                    l.get(i).copied().unwrap_or(0),
                    i + 1,
                    offset0 + at + i,
                    name(chosen)
                ),
            }),
        }
    }
    if body.ends_with(b"\n") {
        text.push('\n');
    }
    Decoded {
        text,
        encoding: match (chosen, detected) {
            (Encoding::Gb18030, true) => "GB18030 (detected)",
            (Encoding::Gb18030, false) => "GB18030",
            (_, true) => "UTF-8 (detected)",
            _ => "UTF-8",
        },
        errors,
    }
}

fn name(e: Encoding) -> &'static str {
    match e {
        Encoding::Gb18030 => "GB18030",
        _ => "UTF-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_a_bom_and_a_bad_byte() {
        let d = decode(
            b"\xEF\xBB\xBFid,name\n1,\xE5\xBC\xA0\xE4\xB8\x89\n2,b\xFFad\n3,c\n",
            Encoding::Auto,
        );
        assert_eq!(d.text, "id,name\n1,张三\n\n3,c\n");
        assert_eq!(d.encoding, "UTF-8 (detected)");
        assert_eq!(d.errors.len(), 1);
        assert_eq!(d.errors[0].line, 3);
        assert!(
            d.errors[0]
                .message
                .contains("byte 0xff at column 4 (offset 23 in the file)"),
            "{}",
            d.errors[0].message
        );
    }

    #[test]
    fn gbk_is_detected() {
        // "企业名称,地址\n" and "恒达矿业,北京\n" in GBK.
        let (g, _, _) = encoding_rs::GBK.encode("企业名称,地址\n恒达矿业,北京\n");
        let d = decode(&g, Encoding::Auto);
        assert_eq!(d.encoding, "GB18030 (detected)");
        assert_eq!(d.text, "企业名称,地址\n恒达矿业,北京\n");
        assert!(d.errors.is_empty());
    }

    #[test]
    fn a_bad_gbk_line_is_left_out() {
        let (mut g, _, _) = encoding_rs::GBK.encode("名称\n恒达\n");
        let mut bad = g.clone().into_owned();
        bad.extend_from_slice(b"x\xFFy\n");
        bad.extend_from_slice(&g.to_mut()[..]);
        let d = decode(&bad, Encoding::Gb18030);
        assert_eq!(
            d.text.lines().collect::<Vec<_>>(),
            ["名称", "恒达", "", "名称", "恒达"]
        );
        assert_eq!(d.errors[0].line, 3);
        assert!(d.errors[0].message.contains("is not GB18030"));
    }
}
