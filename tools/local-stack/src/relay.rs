//! The functions reach `cargo lambda watch`'s Runtime API through this relay, which passes
//! each request on only once all of it has arrived, and holds the connection to watch open for
//! a while after a function closes its side.
//!
//! Why: watch (1.9.2) answers a function's response POST before reading its body, and hands
//! the unread body to the caller waiting for it. When the runtime's HTTP client, given that
//! early answer, closes its connection before watch has read everything, a large answer (the
//! 370-dataset list of the e2e suite) reaches the caller as a 500. Lambda reads the whole
//! response; with the relay, watch does too.
//!
//! How: `cargo run`, which watch uses to start a function, runs it through a runner
//! (`CARGO_TARGET_<triple>_RUNNER`); the runner is `local-stack relay-runtime-api <relay>`,
//! which points `AWS_LAMBDA_RUNTIME_API` at the relay and execs the function.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use crate::proxy::next_chunk;

/// How long the relay keeps watch's side open after the function closed its own, unless watch
/// closes first: far longer than watch needs to read what it was sent.
const HOLD_AFTER_CLOSE: Duration = Duration::from_secs(30);

/// The runner's first argument, which `main` recognises.
pub const RUNNER_COMMAND: &str = "relay-runtime-api";

pub struct RuntimeRelay {
    pub port: u16,
}

impl RuntimeRelay {
    pub async fn start(watch: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        tokio::spawn(async move {
            while let Ok((function, _)) = listener.accept().await {
                tokio::spawn(relay(function, watch));
            }
        });
        Ok(Self { port })
    }

    /// The environment that makes `cargo run` start functions through the relay.
    pub fn runner_env(&self, local_stack: &std::path::Path) -> (String, String) {
        let triple = format!(
            "{}_{}",
            std::env::consts::ARCH,
            match std::env::consts::OS {
                "macos" => "APPLE_DARWIN",
                _ => "UNKNOWN_LINUX_GNU",
            }
        )
        .to_uppercase();
        (
            format!("CARGO_TARGET_{triple}_RUNNER"),
            format!(
                "{} {RUNNER_COMMAND} 127.0.0.1:{}",
                local_stack.display(),
                self.port
            ),
        )
    }
}

async fn relay(function: TcpStream, watch: SocketAddr) {
    let Ok(upstream) = TcpStream::connect(watch).await else {
        return;
    };
    let (mut from_function, mut to_function) = function.into_split();
    let (mut from_watch, mut to_watch) = upstream.into_split();
    let requests = async {
        // Whole requests only: watch sees none of a request until all of it has arrived, so
        // nothing the function does with its connection afterwards can cut one short.
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            while let Some(len) = complete_request(&pending) {
                if to_watch.write_all(&pending[..len]).await.is_err() {
                    return;
                }
                pending.drain(..len);
            }
            match next_chunk(&mut from_function, &mut buf).await {
                Some(chunk) => pending.extend_from_slice(chunk),
                None => break,
            }
        }
        // The function closed its side: watch's side stays open (see the module comment).
        tokio::time::sleep(HOLD_AFTER_CLOSE).await;
    };
    let answers = async {
        let mut buf = vec![0u8; 64 * 1024];
        while let Some(chunk) = next_chunk(&mut from_watch, &mut buf).await {
            if to_function.write_all(chunk).await.is_err() {
                // The function is gone; watch may still be reading what it was sent.
                std::future::pending::<()>().await;
            }
        }
    };
    // Ends when watch closes, or when the hold after the function's close has passed.
    tokio::select! {
        _ = requests => {}
        _ = answers => {}
    }
}

/// The length of the first whole request in `bytes` (head and `Content-Length` body), if it has
/// all arrived. The runtime client sends no chunked bodies for buffered responses; a request
/// without `Content-Length` has none.
fn complete_request(bytes: &[u8]) -> Option<usize> {
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&bytes[..head_end]);
    let body = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse::<usize>().ok())
        .unwrap_or(0);
    (bytes.len() >= head_end + body).then_some(head_end + body)
}

/// The runner: `AWS_LAMBDA_RUNTIME_API` pointed at the relay, then the function in this
/// process's place.
pub fn exec_through(relay: &str, program: &str, args: &[String]) -> std::io::Error {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(program);
    command.args(args);
    if let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") {
        command.env("AWS_LAMBDA_RUNTIME_API", through(&api, relay));
    }
    command.exec()
}

/// `api` (`[scheme://]host:port[/path]`, as watch sets it) with the relay's address instead.
fn through(api: &str, relay: &str) -> String {
    let (scheme, rest) = api.split_once("://").map_or(("", api), |(s, r)| (s, r));
    let path = rest.find('/').map_or("", |at| &rest[at..]);
    let scheme = if scheme.is_empty() {
        String::new()
    } else {
        format!("{scheme}://")
    };
    format!("{scheme}{relay}{path}")
}

#[cfg(test)]
mod tests {
    use super::through;

    #[test]
    fn requests_are_passed_on_whole() {
        use super::complete_request;
        let head = "POST /r HTTP/1.1\r\ncontent-length: 5\r\n\r\n";
        assert_eq!(complete_request(head.as_bytes()), None);
        assert_eq!(complete_request(format!("{head}abcd").as_bytes()), None);
        let whole = format!("{head}abcdeGET /next HTTP/1.1\r\n\r\n");
        assert_eq!(complete_request(whole.as_bytes()), Some(head.len() + 5));
        let next = "GET /next HTTP/1.1\r\nhost: x\r\n\r\n";
        assert_eq!(complete_request(next.as_bytes()), Some(next.len()));
        assert_eq!(complete_request(b"GET /next HTTP/1.1\r\n"), None);
    }

    #[test]
    fn the_runtime_api_keeps_its_scheme_and_path() {
        let relay = "127.0.0.1:7000";
        assert_eq!(
            through("http://127.0.0.1:9000/.rt/token-fetch", relay),
            "http://127.0.0.1:7000/.rt/token-fetch"
        );
        assert_eq!(
            through("127.0.0.1:9000/.rt/x", relay),
            "127.0.0.1:7000/.rt/x"
        );
        assert_eq!(through("127.0.0.1:9000", relay), "127.0.0.1:7000");
    }
}
