//! The one HTML shell every page uses, with DESIGN's headers, and escaping.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use lambda_http::{Body, Response};
use rand::RngCore;

/// Which scripts a page may run.
pub enum Scripts<'a> {
    None,
    /// Inline scripts carrying the nonce, and the SDK from its origin.
    Nonce {
        nonce: &'a str,
        sdk_origin: &'a str,
    },
}

/// A fresh nonce for one page's inline scripts.
pub fn nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    STANDARD_NO_PAD.encode(bytes)
}

/// Every page's look: readable, AA contrast (white on #1558b0 is 6.9:1, #4a4a4a on white
/// 8.9:1), a visible focus ring, and `hidden` that wins over any display rule.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;\
padding:0 1rem;line-height:1.5;color:#1a1a1a;background:#fff}\
.provider{font-weight:600;color:#4a4a4a;margin:0}\
button,.button{display:inline-block;font:inherit;font-size:1rem;padding:.6rem 1.2rem;\
background:#1558b0;color:#fff;border:0;border-radius:6px;cursor:pointer;text-decoration:none}\
button:disabled{background:#4a4a4a;cursor:default}\
a{color:#1558b0}:focus-visible{outline:3px solid #b3261e;outline-offset:2px}\
.muted{color:#4a4a4a}[hidden]{display:none !important}";

/// A whole page: `body` is HTML the caller escaped.
pub fn page(status: u16, title: &str, body: &str, scripts: Scripts<'_>) -> Response<Body> {
    let script_src = match scripts {
        Scripts::None => "'none'".to_owned(),
        Scripts::Nonce { nonce, sdk_origin } => format!("'nonce-{nonce}' {sdk_origin}"),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"icon\" href=\"data:,\"><style>{STYLE}</style></head>\
         <body><main><h1>{title}</h1>{body}</main></body></html>",
        title = escape(title)
    );
    super::http::html(status, html, &script_src)
}

/// Escapes text for HTML element content and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_carries_the_headers() {
        let response = page(200, "<T>", "<p>x</p>", Scripts::None);
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
        assert!(header("content-security-policy").contains("script-src 'none'"));
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "no-referrer");
        let Body::Text(text) = response.body() else {
            panic!("a text body")
        };
        assert!(text.contains("&lt;T&gt;"));
    }
}
