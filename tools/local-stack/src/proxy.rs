//! A TCP forwarder on loopback that tests can switch off, to make AWS or Graph unreachable,
//! and arm to go down by itself at the n-th write it forwards (an AWS API call whose
//! `X-Amz-Target` names a write): just before that write, or just after it landed (at its
//! answer, which is lost, or at the next request if the caller stopped waiting first).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Where an armed proxy goes down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// The n-th write (from 1) never reaches the endpoint.
    BeforeWrite(usize),
    /// The n-th write lands, and its answer never comes back.
    AfterWrite(usize),
}

/// The AWS operations that change something: the ones a crash can fall between.
const WRITES: &[&str] = &[
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "CreateSecret",
    "PutSecretValue",
    "UpdateSecret",
    "UpdateSecretVersionStage",
    "DeleteSecret",
    "RestoreSecret",
    "TagResource",
];

pub struct Proxy {
    pub port: u16,
    shared: Arc<Shared>,
}

struct Shared {
    up: watch::Sender<bool>,
    /// Bumped at each arming, so what a connection noted under an earlier one is ignored.
    epoch: AtomicUsize,
    /// Writes forwarded since the proxy was last armed.
    writes: AtomicUsize,
    cut: Mutex<Option<Cut>>,
    /// `Cut::AfterWrite`'s write went through: down at its answer, or at the next request
    /// when the caller gave up waiting for that answer.
    landed: AtomicBool,
}

impl Shared {
    fn go_down(&self) {
        *self.cut.lock().unwrap() = None;
        self.landed.store(false, Ordering::SeqCst);
        self.up.send_replace(false);
    }
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            up: watch::channel(true).0,
            epoch: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            cut: Mutex::new(None),
            landed: AtomicBool::new(false),
        });
        tokio::spawn(accept_loop(listener, target, shared.clone()));
        Ok(Self { port, shared })
    }

    /// Down: open connections are cut and new ones are closed at once.
    pub fn set_up(&self, up: bool) {
        self.shared.up.send_replace(up);
    }

    pub fn is_up(&self) -> bool {
        *self.shared.up.borrow()
    }

    /// Counts writes from zero again and goes down where `cut` says (`None`: never).
    pub fn arm(&self, cut: Option<Cut>) {
        let shared = &self.shared;
        shared.epoch.fetch_add(1, Ordering::SeqCst);
        shared.writes.store(0, Ordering::SeqCst);
        shared.landed.store(false, Ordering::SeqCst);
        *shared.cut.lock().unwrap() = cut;
    }

    /// Writes forwarded since the proxy was last armed.
    pub fn writes(&self) -> usize {
        self.shared.writes.load(Ordering::SeqCst)
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, shared: Arc<Shared>) {
    while let Ok((inbound, _)) = listener.accept().await {
        if !*shared.up.borrow() {
            drop(inbound);
            continue;
        }
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(outbound) = TcpStream::connect(target).await else {
                return;
            };
            let mut down = shared.up.subscribe();
            let (from_client, to_client) = inbound.into_split();
            let (from_server, to_server) = outbound.into_split();
            // The epoch in which this connection carried the write to cut after, if it did.
            let carried = AtomicUsize::new(usize::MAX);
            tokio::select! {
                _ = requests(from_client, to_server, &shared, &carried) => {}
                _ = answers(from_server, to_client, &shared, &carried) => {}
                _ = down.wait_for(|up| !*up) => {}
            }
        });
    }
}

/// Client to endpoint: forwards bytes, counting writes and going down where armed to.
async fn requests(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
    carried: &AtomicUsize,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Some(chunk) = next_chunk(&mut from, &mut buf).await {
        // A request's head comes in one read on loopback; one operation per request.
        if is_request_head(chunk) && shared.landed.load(Ordering::SeqCst) {
            shared.go_down();
            return;
        }
        if is_write(chunk) {
            let count = shared.writes.fetch_add(1, Ordering::SeqCst) + 1;
            let cut = *shared.cut.lock().unwrap();
            match cut {
                Some(Cut::BeforeWrite(at)) if at == count => {
                    shared.go_down();
                    return;
                }
                Some(Cut::AfterWrite(at)) if at == count => {
                    carried.store(shared.epoch.load(Ordering::SeqCst), Ordering::SeqCst);
                    shared.landed.store(true, Ordering::SeqCst);
                }
                _ => {}
            }
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// Endpoint to client: forwards bytes, unless they answer the write to cut after.
async fn answers(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    shared: &Shared,
    carried: &AtomicUsize,
) {
    let mut buf = vec![0u8; 64 * 1024];
    while let Some(chunk) = next_chunk(&mut from, &mut buf).await {
        if carried.load(Ordering::SeqCst) == shared.epoch.load(Ordering::SeqCst)
            && shared.landed.load(Ordering::SeqCst)
        {
            shared.go_down();
            return;
        }
        if to.write_all(chunk).await.is_err() {
            return;
        }
    }
}

/// The next bytes `from` sends; `None` once it has closed (or failed).
pub(crate) async fn next_chunk<'b>(
    from: &mut OwnedReadHalf,
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    match from.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(&buf[..n]),
    }
}

fn is_request_head(chunk: &[u8]) -> bool {
    ["GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "PATCH "]
        .iter()
        .any(|method| chunk.starts_with(method.as_bytes()))
}

/// Whether `chunk` holds a request head whose `X-Amz-Target` names a write.
fn is_write(chunk: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&chunk[..chunk.len().min(8 * 1024)]);
    text.lines()
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| name.trim().eq_ignore_ascii_case("x-amz-target"))
        .filter_map(|(_, value)| value.trim().rsplit_once('.'))
        .any(|(_, operation)| WRITES.contains(&operation))
}

#[cfg(test)]
mod tests {
    use super::is_write;

    #[test]
    fn writes_are_told_by_their_target() {
        let head = |target: &str| {
            format!("POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: {target}\r\n\r\n{{}}").into_bytes()
        };
        assert!(is_write(&head("DynamoDB_20120810.TransactWriteItems")));
        assert!(is_write(&head("secretsmanager.PutSecretValue")));
        assert!(!is_write(&head("DynamoDB_20120810.GetItem")));
        assert!(!is_write(&head("secretsmanager.GetSecretValue")));
        assert!(!is_write(b"{\"x-amz-target: a.PutItem\"}"));
    }
}
