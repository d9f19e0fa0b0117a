//! `art ui`: a read-only web app over a store, served on a loopback address. The page (HTML,
//! CSS and JavaScript in `assets/`, embedded in the binary) talks to a JSON API under `/api/`
//! whose answers are the same library types the CLI prints with `--json`. Each request opens
//! the store afresh, so the server never holds the store's lock between requests (gc is not
//! held off) and always answers from the current state. Nothing here writes to the store.

mod api;
mod error;

pub use error::{Error, Result};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tiny_http::{Header, Method, Request, Response};

/// The address `art ui` binds by default.
pub const DEFAULT_BIND: &str = "127.0.0.1:8765";

/// How `art ui` listens.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UiOptions {
    /// The address to listen on (port 0: any free port).
    pub bind: SocketAddr,
    /// Serve on a non-loopback address too.
    pub allow_remote: bool,
}

impl UiOptions {
    /// Listen on `bind`, loopback only.
    #[must_use]
    pub fn new(bind: SocketAddr) -> Self {
        UiOptions {
            bind,
            allow_remote: false,
        }
    }
}

/// A bound server, ready to [`serve`](Server::serve).
pub struct Server {
    http: tiny_http::Server,
    store: PathBuf,
    addr: SocketAddr,
    allow_remote: bool,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Checks that `store` opens and binds the address.
    ///
    /// # Errors
    /// [`Error::NotLoopback`] for a non-loopback address without `allow_remote`;
    /// [`Error::Bind`] when the address cannot be bound; store errors.
    pub fn bind(store: &Path, opts: &UiOptions) -> Result<Self> {
        if !opts.bind.ip().is_loopback() && !opts.allow_remote {
            return Err(Error::NotLoopback { addr: opts.bind });
        }
        let store = crate::Store::open(store)?.dir().to_path_buf();
        let http = tiny_http::Server::http(opts.bind).map_err(|e| Error::Bind {
            addr: opts.bind,
            reason: e.to_string(),
        })?;
        let addr = http.server_addr().to_ip().ok_or_else(|| Error::Bind {
            addr: opts.bind,
            reason: "not an IP socket".to_owned(),
        })?;
        Ok(Server {
            http,
            store,
            addr,
            allow_remote: opts.allow_remote,
        })
    }

    /// The address actually bound (the port is known even when 0 was asked for).
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Answers requests until `stop` is set (Ctrl-C), one at a time.
    ///
    /// # Errors
    /// [`Error::Receive`] when the listening socket fails.
    pub fn serve(&self, stop: &AtomicBool) -> Result<()> {
        while !stop.load(Ordering::Relaxed) {
            match self.http.recv_timeout(Duration::from_millis(200)) {
                Ok(Some(request)) => self.answer(request),
                Ok(None) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Receive(e)),
            }
        }
        Ok(())
    }

    fn answer(&self, request: Request) {
        let reply = if !matches!(request.method(), Method::Get | Method::Head) {
            Reply::error(405, "art ui is read-only: only GET requests are answered")
        } else if !self.allow_remote && !host_is_local(&request, self.addr.port()) {
            // A page on another site that re-points its own host name at 127.0.0.1 (DNS
            // rebinding) would send its own name as Host: refuse it.
            Reply::error(
                403,
                "unexpected Host header: open the page through the URL art printed",
            )
        } else {
            self.route(request.url())
        };
        // The client going away mid-answer is its business; the server carries on.
        let _ = request.respond(reply.into_response());
    }

    fn route(&self, url: &str) -> Reply {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        match path {
            "/" | "/index.html" => Reply::asset(INDEX_HTML, "text/html; charset=utf-8"),
            "/app.js" => Reply::asset(APP_JS, "text/javascript; charset=utf-8"),
            "/app.css" => Reply::asset(APP_CSS, "text/css; charset=utf-8"),
            _ => match path.strip_prefix("/api/") {
                Some(rest) => api::answer(&self.store, rest, &Query::parse(query)),
                None => Reply::error(404, &format!("no page `{path}`")),
            },
        }
    }
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Whether the Host header names this machine's loopback (or is absent, as from curl -0).
fn host_is_local(request: &Request, port: u16) -> bool {
    let Some(host) = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))
        .map(|h| h.value.as_str().to_ascii_lowercase())
    else {
        return true;
    };
    let name = host
        .strip_suffix(&format!(":{port}"))
        .unwrap_or(host.as_str());
    matches!(name, "localhost" | "[::1]")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// An answer: status, content type, body and extra headers.
struct Reply {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    /// A stored file is shown, never run: scripts in an HTML or SVG file stay inert.
    sandbox: bool,
}

impl Reply {
    fn asset(text: &'static str, content_type: &str) -> Self {
        Reply {
            status: 200,
            content_type: content_type.to_owned(),
            body: text.as_bytes().to_vec(),
            sandbox: false,
        }
    }

    fn json<T: serde::Serialize>(value: &T) -> Self {
        match serde_json::to_vec_pretty(value) {
            Ok(body) => Reply {
                status: 200,
                content_type: "application/json".to_owned(),
                body,
                sandbox: false,
            },
            Err(e) => Reply::error(500, &format!("cannot encode the answer: {e}")),
        }
    }

    fn error(status: u16, message: &str) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({ "error": message }))
            .unwrap_or_else(|_| b"{}".to_vec());
        Reply {
            status,
            content_type: "application/json".to_owned(),
            body,
            sandbox: false,
        }
    }

    fn into_response(self) -> Response<std::io::Cursor<Vec<u8>>> {
        let header = |k: &str, v: &str| {
            Header::from_bytes(k.as_bytes(), v.as_bytes())
                .expect("header names and values are ASCII")
        };
        let csp = if self.sandbox {
            "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        } else {
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
        };
        Response::from_data(self.body)
            .with_status_code(self.status)
            .with_header(header("Content-Type", &self.content_type))
            .with_header(header("Cache-Control", "no-store"))
            .with_header(header("X-Content-Type-Options", "nosniff"))
            .with_header(header("Content-Security-Policy", csp))
    }
}

/// The decoded `key=value` pairs of a query string.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(query: &str) -> Self {
        Query(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Decodes `%XX` escapes and `+` (a space in a query); invalid escapes stay as they are.
fn decode(text: &str) -> String {
    decode_with(text, true)
}

/// Decodes `%XX` escapes; `+` is a space only in a query, not in a path.
fn decode_with(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_handles_escapes_plus_and_bad_escapes() {
        assert_eq!(decode("a%3Av1"), "a:v1");
        assert_eq!(decode("..%2F..%2Fetc"), "../../etc");
        assert_eq!(decode("a+b"), "a b");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode_with("a+b", false), "a+b");
    }

    #[test]
    fn query_ignores_empty_values() {
        let q = Query::parse("group=&sort=-summary.acc&all=1");
        assert_eq!(q.get("group"), None);
        assert_eq!(q.get("sort"), Some("-summary.acc"));
        assert_eq!(q.get("all"), Some("1"));
    }
}
