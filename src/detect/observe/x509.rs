//! The names in an X.509 certificate sent in the clear: its subject common name and its DNS
//! alternative names. DER bytes in, lower-case names out; walked in place, element by element,
//! with no list made per level.

/// A DER element: its tag and where its content starts and ends in the certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Element {
    tag: u8,
    start: usize,
    end: usize,
}

/// The DER element at `off` in `b`, when its length is valid and it fits.
fn der(b: &[u8], off: usize) -> Option<Element> {
    let tag = *b.get(off)?;
    let l0 = *b.get(off + 1)? as usize;
    let (len, start) = if l0 < 0x80 {
        (l0, off + 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(off + 2 + i)? as usize;
        }
        (len, off + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some(Element { tag, start, end })
}

/// At most this many children are read of one element.
const MAX_CHILDREN: usize = 64;

/// The children of a constructed element, in order; stops at the first that does not parse.
#[derive(Clone)]
struct Children<'a> {
    b: &'a [u8],
    at: usize,
    left: usize,
}

fn children(b: &[u8], of: Element) -> Children<'_> {
    Children {
        b: b.get(..of.end).unwrap_or_default(),
        at: of.start,
        left: MAX_CHILDREN,
    }
}

impl Iterator for Children<'_> {
    type Item = Element;
    fn next(&mut self) -> Option<Element> {
        if self.left == 0 || self.at >= self.b.len() {
            return None;
        }
        let c = der(self.b, self.at)?;
        self.left -= 1;
        self.at = c.end;
        Some(c)
    }
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// At most this many names are kept of one certificate.
const MAX_NAMES: usize = 32;

fn name(cert: &[u8], e: Element) -> String {
    String::from_utf8_lossy(&cert[e.start..e.end]).to_ascii_lowercase()
}

/// Subject CN and SAN dNSNames of an X.509 certificate (DER), in that order, without repeats
/// of the one before.
pub fn cert_names(cert: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let Some(whole @ Element { tag: 0x30, .. }) = der(cert, 0) else {
        return names;
    };
    let Some(tbs @ Element { tag: 0x30, .. }) = children(cert, whole).next() else {
        return names;
    };
    let tbs = children(cert, tbs);
    // Skip the optional [0] version: serial, signature, issuer, validity, subject, spki, ...
    let base = usize::from(tbs.clone().next().is_some_and(|t| t.tag == 0xa0));
    if let Some(subject @ Element { tag: 0x30, .. }) = tbs.clone().nth(base + 4) {
        for rdn in children(cert, subject) {
            for attr in children(cert, rdn) {
                let mut parts = children(cert, attr);
                if let (Some(oid @ Element { tag: 0x06, .. }), Some(value)) =
                    (parts.next(), parts.next())
                {
                    if &cert[oid.start..oid.end] == OID_CN && names.len() < MAX_NAMES {
                        names.push(name(cert, value));
                    }
                }
            }
        }
    }
    for exts in tbs.filter(|e| e.tag == 0xa3) {
        let Some(list @ Element { tag: 0x30, .. }) = children(cert, exts).next() else {
            continue;
        };
        for ext in children(cert, list) {
            let mut parts = children(cert, ext);
            let Some(oid @ Element { tag: 0x06, .. }) = parts.next() else {
                continue;
            };
            let Some(value @ Element { tag: 0x04, .. }) = parts.last() else {
                continue;
            };
            if &cert[oid.start..oid.end] != OID_SAN {
                continue;
            }
            if let Some(general @ Element { tag: 0x30, .. }) = der(&cert[..value.end], value.start)
            {
                for n in children(cert, general).filter(|n| n.tag == 0x82) {
                    if names.len() < MAX_NAMES {
                        names.push(name(cert, n));
                    }
                }
            }
        }
    }
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_short_long_and_wrong() {
        assert_eq!(
            der(&[0x30, 2, 1, 2], 0),
            Some(Element {
                tag: 0x30,
                start: 2,
                end: 4
            })
        );
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.resize(4 + 256, 0);
        assert_eq!(der(&long, 0).map(|e| (e.start, e.end)), Some((4, 260)));
        assert_eq!(der(&long[..259], 0), None, "one byte short");
        assert_eq!(der(&[0x30, 0x80], 0), None, "indefinite length is not DER");
        assert_eq!(
            der(&[0x30, 0x85, 1, 1, 1, 1, 1], 0),
            None,
            "five length bytes"
        );
    }

    #[test]
    fn children_stop_at_the_first_broken_one() {
        // A sequence of two integers, then a third whose length runs past the end.
        let b = [0x30, 9, 0x02, 1, 7, 0x02, 1, 8, 0x02, 5, 9];
        let seq = der(&b, 0).unwrap_or(Element {
            tag: 0,
            start: 0,
            end: 0,
        });
        let tags: Vec<_> = children(&b, seq).map(|c| b[c.start]).collect();
        assert_eq!(tags, [7, 8]);
    }
}
