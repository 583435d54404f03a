//! Headless Chromium for the browser tests: Debian's chromedriver on a free loopback port, a
//! fresh profile and WebDriver session per test (through `fantoccini`), bounded waits,
//! screenshots, pop-up windows, axe-core, and the page and console kept when a test fails.
//!
//! Needs `/usr/bin/chromium`, `/usr/bin/chromedriver` (`apt-get install chromium
//! chromium-driver`) and axe-core (`npm ci --prefix tests/e2e/browser`); `make browser-deps`.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::wd::{WebDriverCompatibleCommand, WindowHandle};
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use local_stack::process::{Managed, free_port};
use serde_json::{Value, json};

use crate::stack::workspace_root;

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// How long a page may take to reach a state: the functions run under `cargo lambda watch`
/// on a small machine, and an On-Behalf-Of onboarding makes a dozen Graph calls.
pub const PATIENCE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(100);

/// Whether the browser runs the pages' scripts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum JavaScript {
    On,
    Off,
}

/// One test's browser: its own chromedriver, Chromium profile and folder of pictures.
pub struct Browser {
    client: Client,
    folder: PathBuf,
    profile: PathBuf,
    steps: AtomicUsize,
    /// Stopped before the profile is removed.
    driver: Option<Managed>,
}

/// chromedriver's Selenium log endpoint: what the page wrote to its console.
#[derive(Debug)]
struct ConsoleLog;

impl WebDriverCompatibleCommand for ConsoleLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Waits until `probe` answers `Ok`, polling, for at most `limit`; panics with what it was
/// waiting for and the last answer.
pub async fn wait_until<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        let last = match probe().await {
            Ok(value) => return value,
            Err(last) => last,
        };
        if Instant::now() > deadline {
            panic!("waited {limit:?} for {what}; last: {last}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Where a test's pictures, and on failure its page and console, are kept.
pub fn artifacts_folder(test: &str) -> PathBuf {
    workspace_root().join("target/browser-tests").join(test)
}

async fn start_driver(log: &Path) -> Result<(Managed, String), String> {
    let port = free_port();
    let log = std::fs::File::create(log).map_err(|e| format!("chromedriver log: {e}"))?;
    let mut command = Command::new(CHROMEDRIVER);
    command
        .arg(format!("--port={port}"))
        .stdout(Stdio::from(
            log.try_clone()
                .map_err(|e| format!("chromedriver log: {e}"))?,
        ))
        .stderr(Stdio::from(log));
    let driver = Managed::spawn("chromedriver", command).map_err(|e| {
        format!("start {CHROMEDRIVER} (apt-get install chromium chromium-driver): {e}")
    })?;
    let url = format!("http://127.0.0.1:{port}");
    let status = format!("{url}/status");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ready = match http.get(&status).send().await {
            Ok(r) => r.json::<Value>().await.ok(),
            Err(_) => None,
        };
        if ready.is_some_and(|s| s["value"]["ready"] == true) {
            return Ok((driver, url));
        }
        if Instant::now() > deadline {
            return Err(format!("chromedriver did not answer {status} within 20 s"));
        }
        tokio::time::sleep(POLL).await;
    }
}

fn capabilities(profile: &Path, javascript: JavaScript) -> serde_json::Map<String, Value> {
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.display()),
            "--window-size=1000,1000",
        ],
    });
    if javascript == JavaScript::Off {
        options["prefs"] = json!({"profile.managed_default_content_settings.javascript": 2});
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": options,
        "goog:loggingPrefs": {"browser": "ALL"},
    });
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("an object"),
    }
}

impl Browser {
    /// A fresh browser for `test` (its folder under `target/browser-tests` is emptied).
    pub async fn start(test: &str, javascript: JavaScript) -> Self {
        let folder = artifacts_folder(test);
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::create_dir_all(&folder).expect("the test's folder");
        let profile =
            std::env::temp_dir().join(format!("e2e-chromium-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("a Chromium profile folder");
        let (driver, url) = start_driver(&folder.join("chromedriver.log"))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let client = ClientBuilder::rustls()
            .expect("the WebDriver client")
            .capabilities(capabilities(&profile, javascript))
            .connect(&url)
            .await
            .unwrap_or_else(|err| panic!("a Chromium session through chromedriver: {err}"));
        Self {
            client,
            folder,
            profile,
            steps: AtomicUsize::new(0),
            driver: Some(driver),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs a test's steps; when one panics, keeps a picture, the page's HTML and the console
    /// beside the test's pictures, then hands the panic back.
    pub async fn run<T>(&self, steps: impl Future<Output = T>) -> std::thread::Result<T> {
        let outcome = AssertUnwindSafe(steps).catch_unwind().await;
        if outcome.is_err() {
            self.keep_evidence().await;
        }
        outcome
    }

    /// [`Self::run`], then the test fails if a step did.
    pub async fn check<T>(&self, steps: impl Future<Output = T>) -> T {
        self.run(steps)
            .await
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }

    async fn keep_evidence(&self) {
        // The window in use may be a pop-up that has closed: fall back to another one.
        if self.client.title().await.is_err()
            && let Ok(windows) = self.client.windows().await
            && let Some(first) = windows.into_iter().next()
        {
            let _ = self.client.switch_to_window(first).await;
        }
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.folder.join("failure.png"), png);
        }
        if let Ok(html) = self.client.source().await {
            let url = self.client.current_url().await.map(String::from);
            let head = format!("<!-- {} -->\n", url.unwrap_or_default());
            let _ = std::fs::write(self.folder.join("page.html"), head + &html);
        }
        let console = match self.client.issue_cmd(ConsoleLog).await {
            Ok(entries) => serde_json::to_string_pretty(&entries).unwrap_or_default(),
            Err(err) => format!("the console could not be read: {err}"),
        };
        let _ = std::fs::write(self.folder.join("console.json"), console);
        eprintln!("the browser's evidence is in {}", self.folder.display());
    }

    /// Saves a picture of the window in use as `<folder>/<step>.png` (numbered in order).
    pub async fn screenshot(&self, step: &str) {
        let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = self.folder.join(format!("{n:02}-{step}.png"));
        std::fs::write(&path, png).expect("save the screenshot");
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|err| panic!("open {url}: {err}"));
    }

    pub async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("the current URL")
    }

    /// Runs a script in the page (WebDriver's, so the page's CSP does not apply).
    pub async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|err| panic!("script {script:?}: {err}"))
    }

    /// The text of the element `css` when it is displayed, else `Err` saying why not.
    pub async fn shown_text(&self, css: &str) -> Result<String, String> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .map_err(|_| format!("no {css}"))?;
        match element.is_displayed().await {
            Ok(true) => element.text().await.map_err(|e| e.to_string()),
            _ => Err(format!("{css} is not displayed")),
        }
    }

    /// The texts of every element matching `css`, displayed or not.
    pub async fn texts(&self, css: &str) -> Vec<String> {
        let elements = self
            .client
            .find_all(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("find {css}: {err}"));
        let mut texts = Vec::new();
        for element in elements {
            texts.push(element.text().await.expect("an element's text"));
        }
        texts
    }

    /// Whether the element `css` is there and displayed.
    pub async fn is_shown(&self, css: &str) -> bool {
        self.shown_text(css).await.is_ok()
    }

    /// Waits until the element `css` is displayed; its text.
    pub async fn wait_for_shown(&self, css: &str) -> String {
        wait_until(&format!("{css} to be displayed"), PATIENCE, || {
            self.shown_text(css)
        })
        .await
    }

    /// The value of `body[data-state]`.
    pub async fn page_state(&self) -> Option<String> {
        let body = self.client.find(Locator::Css("body")).await.ok()?;
        body.attr("data-state").await.ok().flatten()
    }

    /// Waits until `body[data-state]` is `state`.
    pub async fn wait_for_state(&self, state: &str) {
        wait_until(&format!("data-state={state}"), PATIENCE, || async {
            match self.page_state().await {
                Some(now) if now == state => Ok(()),
                now => Err(format!("data-state={now:?} at {}", self.url().await)),
            }
        })
        .await
    }

    /// Waits until the address satisfies `ok`.
    pub async fn wait_for_url(&self, what: &str, ok: impl Fn(&url::Url) -> bool) -> url::Url {
        wait_until(what, PATIENCE, || async {
            let url = self.client.current_url().await.map_err(|e| e.to_string())?;
            if ok(&url) { Ok(url) } else { Err(url.into()) }
        })
        .await
    }

    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("find {css}: {err}"));
        element
            .click()
            .await
            .unwrap_or_else(|err| panic!("click {css}: {err}"));
    }

    /// Clicks `css` in a window that may close as a result (a pop-up's last button).
    pub async fn click_closing(&self, css: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("find {css}: {err}"));
        match element.click().await {
            Ok(()) => {}
            Err(err) if err.is_no_such_window() => {}
            Err(err) => panic!("click {css}: {err}"),
        }
    }

    /// Picks the option of value `value` in the `<select>` `css`.
    pub async fn select(&self, css: &str, value: &str) {
        let select = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("find {css}: {err}"));
        select
            .select_by_value(value)
            .await
            .unwrap_or_else(|err| panic!("select {value} in {css}: {err}"));
    }

    /// Presses and releases one key, as a person would, wherever the focus is.
    pub async fn press(&self, key: Key) {
        let keys = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: key.into() })
            .then(KeyAction::Up { value: key.into() });
        self.client
            .perform_actions(keys)
            .await
            .unwrap_or_else(|err| panic!("press a key: {err}"));
    }

    /// The id of the focused element.
    pub async fn focused_id(&self) -> String {
        let id = self.execute("return document.activeElement ? document.activeElement.id : '';");
        id.await.as_str().unwrap_or_default().to_owned()
    }

    pub async fn window(&self) -> WindowHandle {
        self.client.window().await.expect("the window in use")
    }

    pub async fn windows(&self) -> Vec<WindowHandle> {
        self.client.windows().await.expect("the windows")
    }

    /// Waits for a window that is not one of `known` (a pop-up) and switches to it.
    pub async fn switch_to_new_window(&self, known: &[WindowHandle]) -> WindowHandle {
        let popup = wait_until("a pop-up window", PATIENCE, || async {
            let windows = self.client.windows().await.map_err(|e| e.to_string())?;
            windows
                .iter()
                .find(|w| !known.contains(w))
                .cloned()
                .ok_or_else(|| format!("{} windows", windows.len()))
        })
        .await;
        self.switch_to(popup.clone()).await;
        popup
    }

    pub async fn switch_to(&self, window: WindowHandle) {
        self.client
            .switch_to_window(window)
            .await
            .expect("switch windows");
    }

    /// Waits until `window` is gone (a pop-up that closed itself).
    pub async fn wait_for_window_to_close(&self, window: &WindowHandle) {
        wait_until("the pop-up to close", PATIENCE, || async {
            let windows = self.client.windows().await.map_err(|e| e.to_string())?;
            if windows.contains(window) {
                Err(format!("{} windows", windows.len()))
            } else {
                Ok(())
            }
        })
        .await
    }

    /// Closes the window in use.
    pub async fn close_window(&self) {
        self.client.close_window().await.expect("close the window");
    }

    /// Runs axe-core over the page at WCAG 2.0/2.1 A and AA: its violations, `[{id, impact,
    /// help, nodes: [{target, html, summary}]}]`.
    pub async fn axe(&self) -> Vec<Value> {
        let path = workspace_root().join("tests/e2e/browser/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&path).unwrap_or_else(|err| {
            panic!(
                "{}: {err} (run `npm ci --prefix tests/e2e/browser`)",
                path.display()
            )
        });
        self.execute(&source).await;
        let run = r#"var done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
              .then(function (result) {
                done({violations: result.violations.map(function (v) {
                  return {id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(function (n) {
                    return {target: n.target, html: n.html, summary: n.failureSummary};
                  })};
                })});
              })
              .catch(function (err) { done({error: String(err)}); });"#;
        let answer = self
            .client
            .execute_async(run, vec![])
            .await
            .unwrap_or_else(|err| panic!("axe.run: {err}"));
        if let Some(error) = answer.get("error") {
            panic!("axe.run failed: {error}");
        }
        answer["violations"]
            .as_array()
            .cloned()
            .expect("axe's violations")
    }

    /// Ends the session (and with it Chromium), then chromedriver, then the profile.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver's process group, with any Chromium left, stops first.
        drop(self.driver.take());
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
