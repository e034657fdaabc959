//! Bytes → UTF-8, exactly once. (skeleton)

use encoding_rs::Encoding;

/// How the encoding was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// The feed's `encoding` setting.
    Override,
    /// A byte-order mark.
    Bom,
    /// The XML declaration.
    XmlDeclaration,
    /// The HTTP `Content-Type` charset.
    HttpCharset,
    /// The bytes were valid UTF-8.
    ValidUtf8,
    /// Nothing said; GB18030 was assumed.
    Gb18030Fallback,
}

/// The document as UTF-8, with its XML declaration rewritten to say so.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// UTF-8 text, leading whitespace before `<?xml` removed.
    pub text: String,
    /// The encoding the bytes were read as.
    pub encoding: &'static Encoding,
    /// Why that encoding.
    pub source: EncodingSource,
    /// Whether any malformed sequence was replaced with U+FFFD.
    pub had_errors: bool,
}

/// Decodes a fetched body. `http_charset` is the `charset` parameter of the
/// Content-Type header, `forced` the feed's `encoding` setting.
pub fn decode(
    bytes: &[u8],
    http_charset: Option<&str>,
    forced: Option<&'static Encoding>,
) -> Decoded {
    let _ = (http_charset, forced);
    Decoded {
        text: String::from_utf8_lossy(bytes).into_owned(),
        encoding: encoding_rs::UTF_8,
        source: EncodingSource::ValidUtf8,
        had_errors: false,
    }
}

/// Looks up an encoding label, with the aliases Chinese feeds use (`cp936`, `euc-cn`,
/// `gb2312`, `gbk` → GB18030).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes())
}
