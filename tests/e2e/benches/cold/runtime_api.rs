//! A local Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`) for one function process: it hands
//! out the events queued with [`RuntimeApi::invoke`], takes the answers back, and notes when
//! the process first asks for an event, which is where its init ends.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{Notify, mpsc, oneshot};

/// What a function answered: its result, or the error it reported.
pub type Outcome = Result<Bytes, String>;

struct Queued {
    payload: Bytes,
    answer: oneshot::Sender<Outcome>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
    changed: Notify,
    served: Mutex<u64>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            waiting: Mutex::default(),
            first_next: Mutex::default(),
            init_error: Mutex::default(),
            changed: Notify::new(),
            served: Mutex::default(),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the runtime API");
        });
        Self {
            addr,
            shared,
            queue,
            server,
        }
    }

    /// When the process first asked for an event; waits at most `limit`, and gives up early
    /// when `exited` says the process is gone or it reported an init error.
    pub async fn first_next(
        &self,
        limit: Duration,
        mut exited: impl FnMut() -> Option<String>,
    ) -> Result<Instant, String> {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.shared.changed.notified();
            if let Some(at) = *self.shared.first_next.lock().unwrap() {
                return Ok(at);
            }
            if let Some(err) = self.shared.init_error.lock().unwrap().clone() {
                return Err(format!("init error: {err}"));
            }
            if let Some(status) = exited() {
                return Err(format!("the process exited during init ({status})"));
            }
            if Instant::now() > deadline {
                return Err(format!("no request for an event within {limit:?}"));
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Hands `payload` to the function and waits for its answer, for at most `limit`.
    pub async fn invoke(&self, payload: Vec<u8>, limit: Duration) -> Outcome {
        let (answer, answered) = oneshot::channel();
        self.queue
            .send(Queued {
                payload: payload.into(),
                answer,
            })
            .map_err(|_| "the runtime API stopped".to_owned())?;
        match tokio::time::timeout(limit, answered).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(_)) => Err("the answer was dropped".into()),
            Err(_) => Err(format!("no answer within {limit:?}")),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> (HeaderMap, Bytes) {
    {
        let mut first = shared.first_next.lock().unwrap();
        if first.is_none() {
            *first = Some(Instant::now());
            shared.changed.notify_waiters();
        }
    }
    let queued = {
        let mut queue = shared.queue.lock().await;
        queue.recv().await
    };
    // A stopped harness leaves the function waiting; it is killed right after.
    let Some(queued) = queued else {
        std::future::pending::<()>().await;
        unreachable!()
    };
    let id = {
        let mut served = shared.served.lock().unwrap();
        *served += 1;
        format!("bench-{served:08}")
    };
    shared
        .waiting
        .lock()
        .unwrap()
        .insert(id.clone(), queued.answer);
    let deadline = SystemTime::now() + Duration::from_secs(60);
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let mut headers = HeaderMap::new();
    let value = |s: &str| HeaderValue::from_str(s).expect("a header value");
    headers.insert("lambda-runtime-aws-request-id", value(&id));
    headers.insert(
        "lambda-runtime-deadline-ms",
        value(&deadline_ms.to_string()),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        value("arn:aws:lambda:us-east-1:000000000000:function:bench"),
    );
    headers.insert(
        "lambda-runtime-trace-id",
        value("Root=1-00000000-000000000000000000000000"),
    );
    headers.insert("content-type", value("application/json"));
    (headers, queued.payload)
}

fn answer(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().unwrap().remove(id) {
        Some(sender) => {
            let _ = sender.send(outcome);
            StatusCode::ACCEPTED
        }
        None => StatusCode::NOT_FOUND,
    }
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(&shared, &id, Ok(body))
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answer(
        &shared,
        &id,
        Err(String::from_utf8_lossy(&body).into_owned()),
    )
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap() = Some(String::from_utf8_lossy(&body).into_owned());
    shared.changed.notify_waiters();
    StatusCode::ACCEPTED
}
