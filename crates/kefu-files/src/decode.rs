//! Decoding text files: BOM, UTF-8, or GB18030 (a superset of GBK and GB2312).

use encoding_rs::{GB18030, UTF_8};

use crate::FileError;

/// The encoding a text file was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    /// GB18030; covers GBK and GB2312 files too.
    Gb18030,
}

impl TextEncoding {
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Gb18030 => "GB18030",
        }
    }

    /// Accepts `utf-8`, `utf8`, `gbk`, `gb2312`, `gb18030` (any case).
    pub fn parse(raw: &str) -> Option<TextEncoding> {
        match raw.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "utf-8" | "utf8" => Some(TextEncoding::Utf8),
            "gbk" | "gb2312" | "gb18030" | "cp936" => Some(TextEncoding::Gb18030),
            _ => None,
        }
    }
}

/// Decodes `bytes` as text. With `forced`, that encoding is used (a UTF-8 BOM is
/// still skipped); otherwise a BOM decides, then valid UTF-8, then GB18030.
pub fn decode_text(
    bytes: &[u8],
    forced: Option<TextEncoding>,
) -> Result<(String, TextEncoding), FileError> {
    if bytes.is_empty() {
        return Err(FileError::Empty);
    }
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::Utf16);
    }
    let (body, had_bom) = match bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        Some(rest) => (rest, true),
        None => (bytes, false),
    };
    // Text files never contain NUL; binary files almost always do early on.
    if let Some(offset) = body.iter().take(64 * 1024).position(|b| *b == 0) {
        return Err(FileError::Binary { offset });
    }
    let encoding = match forced {
        Some(e) => e,
        None if had_bom => TextEncoding::Utf8,
        None if std::str::from_utf8(body).is_ok() => TextEncoding::Utf8,
        None => TextEncoding::Gb18030,
    };
    let codec = match encoding {
        TextEncoding::Utf8 => UTF_8,
        TextEncoding::Gb18030 => GB18030,
    };
    let (text, malformed) = codec.decode_without_bom_handling(body);
    if malformed {
        let offset = first_bad_offset(body, encoding);
        return Err(FileError::BadEncoding {
            encoding: encoding.name(),
            offset,
        });
    }
    if let Some(offset) = text
        .char_indices()
        .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        .map(|(i, _)| i)
    {
        return Err(FileError::Binary { offset });
    }
    Ok((text.into_owned(), encoding))
}

/// The offset of the first byte that does not decode.
fn first_bad_offset(body: &[u8], encoding: TextEncoding) -> usize {
    match encoding {
        TextEncoding::Utf8 => std::str::from_utf8(body)
            .err()
            .map_or(0, |e| e.valid_up_to()),
        TextEncoding::Gb18030 => {
            let mut decoder = GB18030.new_decoder_without_bom_handling();
            let mut out = String::with_capacity(16);
            let mut offset = 0;
            for chunk in body.chunks(1) {
                out.clear();
                let (result, read) =
                    decoder.decode_to_string_without_replacement(chunk, &mut out, false);
                if let encoding_rs::DecoderResult::Malformed(_, _) = result {
                    return offset;
                }
                offset += read;
            }
            offset
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_utf8_bom_and_gbk() {
        let utf8 = "客户编号,姓名\nKH1,张三\n";
        assert_eq!(
            decode_text(utf8.as_bytes(), None).unwrap(),
            (utf8.to_owned(), TextEncoding::Utf8)
        );
        let mut bom = vec![0xEF, 0xBB, 0xBF];
        bom.extend_from_slice(utf8.as_bytes());
        assert_eq!(
            decode_text(&bom, None).unwrap(),
            (utf8.to_owned(), TextEncoding::Utf8)
        );
        let (gbk, _, _) = encoding_rs::GBK.encode(utf8);
        assert_eq!(
            decode_text(&gbk, None).unwrap(),
            (utf8.to_owned(), TextEncoding::Gb18030)
        );
        assert_eq!(
            decode_text(&gbk, Some(TextEncoding::Gb18030)).unwrap().0,
            utf8
        );
    }

    #[test]
    fn refuses_binary_empty_utf16_and_misdeclared_text() {
        assert_eq!(decode_text(b"", None), Err(FileError::Empty));
        assert!(matches!(
            decode_text(b"\x89PNG\r\n\x1a\n\0\0\0", None),
            Err(FileError::Binary { .. })
        ));
        assert_eq!(
            decode_text(&[0xFF, 0xFE, b'a', 0], None),
            Err(FileError::Utf16)
        );
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名");
        assert_eq!(
            decode_text(&gbk, Some(TextEncoding::Utf8)),
            Err(FileError::BadEncoding {
                encoding: "UTF-8",
                offset: 0
            })
        );
        assert!(matches!(
            decode_text(b"a,b\n\x01\x02", None),
            Err(FileError::Binary { .. })
        ));
    }

    #[test]
    fn encoding_names() {
        assert_eq!(TextEncoding::parse("GBK"), Some(TextEncoding::Gb18030));
        assert_eq!(TextEncoding::parse("utf_8"), Some(TextEncoding::Utf8));
        assert_eq!(TextEncoding::parse("big5"), None);
    }
}
