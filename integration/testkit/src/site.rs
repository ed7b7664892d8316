//! What the nginx fixture serves: paths, bodies and their MD5 sums.
//!
//! The digests are written out (computed once with `md5sum`) rather than
//! computed with the code under test; `tests/site.rs` checks them against
//! `md5sum` again.

/// `Host:` that selects the second plain-HTTP server block.
pub const SECOND_HOST: &str = "second.example.org";
/// The name in the TLS certificate (and the TLS server's `server_name`).
pub const TLS_NAME: &str = "www.example.org";

/// `GET /` on the default server block.
pub const DEFAULT_INDEX_BODY: &str = "default server\n";
pub const DEFAULT_INDEX_MD5: &str = "8e9c061f4026dec5630c145dab518ebc";

/// `GET /` with `Host: second.example.org`: same path, another body.
pub const SECOND_INDEX_BODY: &str = "second server: second.example.org\n";
pub const SECOND_INDEX_MD5: &str = "20b6ef44fd9e4d7da5b00c3206fc8665";

/// A static page with a known body, on the default server and over TLS.
pub const FIXED_PATH: &str = "/fixed.html";
pub const FIXED_BODY: &str =
    "<!doctype html>\n<title>director checker</title>\n<p>a fixed page for digest checks</p>\n";
pub const FIXED_MD5: &str = "fd66406acdd63d649deec0cab27bf348";

/// `return 503`.
pub const DOWN_PATH: &str = "/down";
/// `return 301` to [`FIXED_PATH`].
pub const REDIRECT_PATH: &str = "/moved";

/// A static file passed through `sub_filter`, which drops Content-Length, so
/// nginx answers an HTTP/1.1 request with `Transfer-Encoding: chunked`.
pub const CHUNKED_PATH: &str = "/chunked.html";
/// MD5 of [`chunked_body`] (the decoded body).
pub const CHUNKED_MD5: &str = "c8480aad532fc9bc6c0e169d11597c90";
/// The placeholder in the file on disk that `sub_filter` replaces.
pub(crate) const CHUNKED_PLACEHOLDER: &str = "@WHO@";
pub(crate) const CHUNKED_REPLACEMENT: &str = "nginx";

/// Exactly [`LARGE_LEN`] bytes of text.
pub const LARGE_PATH: &str = "/large.bin";
pub const LARGE_LEN: usize = 1 << 20;
pub const LARGE_MD5: &str = "9228964a45157a7428a54bfddbcebb7e";

/// On the TLS server: `sni=$ssl_server_name\n`, i.e. what the client sent as SNI.
pub const SNI_PATH: &str = "/sni";

/// The body of [`CHUNKED_PATH`] as a client receives it (after `sub_filter`).
pub fn chunked_body() -> String {
    chunked_template().replace(CHUNKED_PLACEHOLDER, CHUNKED_REPLACEMENT)
}

/// The file on disk behind [`CHUNKED_PATH`].
pub(crate) fn chunked_template() -> String {
    (0..1000).map(|i| format!("line {i:04} served by {CHUNKED_PLACEHOLDER}\n")).collect()
}

/// The body of [`LARGE_PATH`].
pub fn large_body() -> Vec<u8> {
    let mut body = Vec::with_capacity(LARGE_LEN + 64);
    let mut i = 0;
    while body.len() < LARGE_LEN {
        body.extend_from_slice(
            format!("{i:07} the quick brown fox jumps over the lazy dog\n").as_bytes(),
        );
        i += 1;
    }
    body.truncate(LARGE_LEN);
    body
}
