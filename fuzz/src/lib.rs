//! What the fuzz targets share: a runtime for the async entry points, a scripted Graph server on
//! loopback (so Graph answers reach the real `GraphClient`), and the checks several targets make.

use std::collections::VecDeque;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use secrecy::SecretString;
use shared::adapters::graph::{GraphClient, RetryPolicy};
use shared::app_secrets::AppSecrets;
use shared::lazy::Lazy;
use shared::model::{AppId, Signal};
use shared::ports::{Clock, Signals};

/// The app secret every target signs with (the fakes' own, so both agree).
pub const APP_SECRET: &str = shared::settings::TEST_APP_SECRET;
/// The app id of the fakes' settings.
pub const APP_ID: &str = "1000000000000001";
/// A fixed "now" (2026-01-01T00:00:00Z, the fakes' T0).
pub const NOW: i64 = shared::fakes::T0;

/// Runs a future to its end on one process-wide single-threaded runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
        })
        .block_on(future)
}

/// Every backquoted word of an error message is one the parsed type declares (a field or
/// variant name), never text from the input: serde quotes unknown names and values that way.
pub fn assert_quotes_only(message: &str, declared: &[&str]) {
    let mut parts = message.split('`');
    parts.next();
    while let Some(quoted) = parts.next() {
        assert!(
            declared.contains(&quoted),
            "the error quotes input: `{quoted}` in {message:?}"
        );
        parts.next();
    }
}

/// A clock that stays where it is put.
pub struct FixedClock(pub std::sync::atomic::AtomicI64);

impl FixedClock {
    pub fn at(now: i64) -> Self {
        Self(std::sync::atomic::AtomicI64::new(now))
    }
    pub fn set(&self, now: i64) {
        self.0.store(now, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Counts the throttling signals the Graph client emits.
#[derive(Default)]
pub struct CountingSignals(pub AtomicUsize);

impl Signals for CountingSignals {
    fn emit(&self, signal: Signal) {
        if matches!(signal, Signal::GraphThrottled) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The real Graph client, pointed at the loopback server, without waits between retries.
pub fn graph_client(
    base: url::Url,
    attempts: u32,
    clock: Arc<FixedClock>,
    signals: Arc<CountingSignals>,
) -> GraphClient {
    GraphClient::new(
        base,
        "v25.0".into(),
        AppId::parse(APP_ID).expect("digits"),
        Arc::new(Lazy::ready(AppSecrets {
            app_secret: SecretString::from(APP_SECRET),
            webhook_verify_token: SecretString::from("fuzz-verify-token"),
        })),
        RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        },
        clock,
        signals,
    )
}

/// One scripted HTTP answer.
#[derive(Clone, Debug, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// What the server was asked: the request line (method and target) and the headers.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// The headers a scripted answer may carry (what the client reads, and nothing that frames
/// the message).
pub const ANSWER_HEADERS: &[&str] = &[
    "x-app-usage",
    "x-business-use-case-usage",
    "retry-after",
    "content-type",
];

/// The answer a request gets when the script has run out.
pub const UNSCRIPTED_STATUS: u16 = 503;

#[derive(Default)]
struct Exchange {
    script: VecDeque<Answer>,
    seen: Vec<Seen>,
    served: Vec<Answer>,
}

/// An HTTP/1.1 server on 127.0.0.1 that answers each request with the next scripted answer.
pub struct LoopbackGraph {
    base: url::Url,
    exchange: Arc<Mutex<Exchange>>,
}

impl LoopbackGraph {
    /// The process's server, started on first use.
    pub fn get() -> &'static LoopbackGraph {
        static SERVER: OnceLock<LoopbackGraph> = OnceLock::new();
        SERVER.get_or_init(|| {
            let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
            let base = format!("http://{}/", listener.local_addr().expect("an address"));
            let exchange = Arc::new(Mutex::new(Exchange::default()));
            let shared = exchange.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let exchange = shared.clone();
                    std::thread::spawn(move || serve(stream, &exchange));
                }
            });
            LoopbackGraph {
                base: base.parse().expect("a URL"),
                exchange,
            }
        })
    }

    pub fn base(&self) -> &url::Url {
        &self.base
    }

    /// `http://127.0.0.1:PORT`, what `{base}` in a scripted body becomes.
    pub fn origin(&self) -> String {
        self.base.as_str().trim_end_matches('/').to_owned()
    }

    /// Starts an exchange: these answers, in order; nothing seen yet.
    pub fn script(&self, answers: Vec<Answer>) {
        let mut exchange = self.exchange.lock().expect("exchange lock");
        *exchange = Exchange {
            script: answers.into(),
            ..Exchange::default()
        };
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.exchange.lock().expect("exchange lock").seen.clone()
    }

    pub fn served(&self) -> Vec<Answer> {
        self.exchange.lock().expect("exchange lock").served.clone()
    }
}

fn serve(stream: TcpStream, exchange: &Mutex<Exchange>) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let mut words = request_line.split_whitespace();
        let seen = Seen {
            method: words.next().unwrap_or_default().to_owned(),
            target: words.next().unwrap_or_default().to_owned(),
            headers,
            body,
        };
        let answer = {
            let mut exchange = exchange.lock().expect("exchange lock");
            let answer = exchange.script.pop_front().unwrap_or(Answer {
                status: UNSCRIPTED_STATUS,
                headers: vec![],
                body: b"{}".to_vec(),
            });
            exchange.seen.push(seen);
            exchange.served.push(answer.clone());
            answer
        };
        let mut out = format!(
            "HTTP/1.1 {} Scripted\r\ncontent-length: {}\r\n",
            answer.status,
            answer.body.len()
        )
        .into_bytes();
        for (name, value) in &answer.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&answer.body);
        if writer
            .write_all(&out)
            .and_then(|()| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

/// Reads scripted answers from fuzz input, a readable format so seeds can be written by hand:
///
/// ```text
/// 200
/// x-app-usage: {"call_count":12}
///
/// {"data":[{"id":"1"}],"paging":{"next":"{base}/v25.0/1/owned_pixels?after=x"}}
/// ~~~
/// 400
///
/// {"error":{"code":190}}
/// ```
///
/// Answers are separated by a line `~~~`; each starts with its status line, then headers (only
/// [`ANSWER_HEADERS`]) up to an empty line, then the body, where `{base}` becomes the server's
/// origin. Statuses are kept to final answers that carry a body (200-599 without 204, 205,
/// 304), header values to bytes HTTP allows, and the script to `max` answers.
pub fn parse_answers(input: &[u8], origin: &str, max: usize) -> Vec<Answer> {
    split(input, b"\n~~~\n")
        .into_iter()
        .take(max)
        .map(|chunk| parse_answer(chunk, origin))
        .collect()
}

fn parse_answer(chunk: &[u8], origin: &str) -> Answer {
    let mut lines = chunk.split_inclusive(|b| *b == b'\n');
    let status_line = lines.next().unwrap_or_default();
    let status = std::str::from_utf8(status_line)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .map_or(200, |n| match n {
            200..600 => n as u16,
            _ => 200 + (n % 400) as u16,
        });
    let status = if matches!(status, 204 | 205 | 304) {
        200
    } else {
        status
    };
    let mut headers = Vec::new();
    let mut consumed = status_line.len();
    for line in lines {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        if text.is_empty() {
            consumed += line.len();
            break;
        }
        let Some(colon) = text.iter().position(|b| *b == b':') else {
            break;
        };
        let name = String::from_utf8_lossy(&text[..colon]).to_ascii_lowercase();
        if !ANSWER_HEADERS.contains(&name.as_str()) {
            break;
        }
        let value: Vec<u8> = text[colon + 1..]
            .iter()
            .copied()
            .filter(|b| *b == b'\t' || (0x20..0x7f).contains(b) || *b >= 0x80)
            .collect();
        headers.push((name, trim(&value).to_vec()));
        consumed += line.len();
    }
    Answer {
        status,
        headers,
        body: replace(&chunk[consumed..], b"{base}", origin.as_bytes()),
    }
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |i| i + 1);
    &bytes[start..end.max(start)]
}

/// `input` cut at each `separator`.
pub fn split<'a>(input: &'a [u8], separator: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    let mut rest = input;
    while let Some(at) = rest
        .windows(separator.len())
        .position(|window| window == separator)
    {
        parts.push(&rest[..at]);
        rest = &rest[at + separator.len()..];
    }
    parts.push(rest);
    parts
}

fn replace(input: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    split(input, from).join(to)
}

/// The first line of the input, and the rest.
pub fn first_line(input: &[u8]) -> (&[u8], &[u8]) {
    match input.iter().position(|b| *b == b'\n') {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[]),
    }
}

/// Picks one of `names` by the first line: the name itself, or any other text by its bytes.
pub fn choose<'a>(line: &[u8], names: &[&'a str]) -> &'a str {
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    names
        .iter()
        .find(|n| **n == text)
        .copied()
        .unwrap_or_else(|| {
            let sum: usize = line.iter().map(|b| usize::from(*b)).sum();
            names[sum % names.len()]
        })
}

/// Two JSON values are the same, floats to within a few ulps (serde_json reads its own float
/// text back to within an ulp, not always exactly).
pub fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= f64::EPSILON * x.abs().max(y.abs()) * 4.0
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
