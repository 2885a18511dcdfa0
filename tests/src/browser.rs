//! A headless Chromium driven over the W3C WebDriver protocol, for tests of
//! the hosted pages. The test starts its own `chromedriver` on a free port
//! (Debian's `chromium` and `chromium-driver` packages; `scripts/test.sh`
//! installs them) and talks JSON over HTTP to it: no browser-automation
//! crate, just the handful of WebDriver commands the tests use.
//!
//! `GRIDHUB_CHROMEDRIVER` and `GRIDHUB_CHROMIUM` point at other binaries.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

/// The W3C key for an element reference in WebDriver JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn binary(env: &str, candidates: &[&str]) -> String {
    if let Ok(path) = std::env::var(env) {
        return path;
    }
    for c in candidates {
        if std::path::Path::new(c).exists() {
            return (*c).to_owned();
        }
    }
    panic!(
        "{} not found (looked at {candidates:?}); install Debian's chromium and chromium-driver \
         packages (scripts/test.sh does) or set {env}",
        candidates[0]
    );
}

impl Browser {
    pub async fn start() -> Self {
        let driver_bin = binary(
            "GRIDHUB_CHROMEDRIVER",
            &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"],
        );
        let chromium = binary(
            "GRIDHUB_CHROMIUM",
            &["/usr/bin/chromium", "/usr/bin/chromium-browser"],
        );
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {driver_bin}: {e}"));
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = http.get(format!("{base}/status")).send().await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        ready = true;
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not become ready");
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1024,900", "--no-first-run",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new WebDriver session")
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {created}"))
            .to_owned();
        Self {
            http,
            session: format!("{base}/session/{session}"),
            driver,
            _profile: profile,
        }
    }

    /// One WebDriver command; a WebDriver error fails the test.
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if method != reqwest::Method::GET {
            req = req.json(&body.unwrap_or_else(|| json!({})));
        }
        let v: Value = req
            .send()
            .await
            .expect("WebDriver request")
            .json()
            .await
            .unwrap();
        if let Some(err) = v["value"]["error"].as_str() {
            panic!("WebDriver {path}: {err}: {}", v["value"]["message"]);
        }
        v["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        self.call(reqwest::Method::GET, path, None).await
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.get("/url").await.as_str().unwrap().to_owned()
    }

    pub async fn title(&self) -> String {
        self.get("/title").await.as_str().unwrap().to_owned()
    }

    pub async fn source(&self) -> String {
        self.get("/source").await.as_str().unwrap().to_owned()
    }

    /// Every element matching the CSS selector.
    pub async fn find_all(&self, css: &str) -> Vec<String> {
        let found = self
            .call(
                reqwest::Method::POST,
                "/elements",
                Some(json!({ "using": "css selector", "value": css })),
            )
            .await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("`{css}`: {found}"))
            .iter()
            .map(|e| {
                e[ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("`{css}`: {e}"))
                    .to_owned()
            })
            .collect()
    }

    /// The one element matching the CSS selector.
    pub async fn find(&self, css: &str) -> String {
        let all = self.find_all(css).await;
        assert_eq!(all.len(), 1, "`{css}` matched {} elements", all.len());
        all[0].clone()
    }

    pub async fn click(&self, element: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            None,
        )
        .await;
    }

    /// Clicks a control that submits a form or follows a link, and waits
    /// until the browser has left the current page.
    pub async fn click_and_wait(&self, element: &str) {
        let page = self.find("html").await;
        self.click(element).await;
        // Generous: CI machines run the whole suite in parallel.
        for _ in 0..400 {
            let v: Value = self
                .http
                .get(format!("{}/element/{page}/name", self.session))
                .send()
                .await
                .expect("WebDriver request")
                .json()
                .await
                .unwrap();
            if v["value"]["error"] == "stale element reference" {
                // The new page: wait until it has loaded.
                for _ in 0..400 {
                    if self.find_all("body").await.len() == 1 {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the page did not change after the click");
    }

    pub async fn type_into(&self, element: &str, text: &str) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/clear"),
            None,
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    pub async fn text(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/text"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn attribute(&self, element: &str, name: &str) -> Option<String> {
        self.get(&format!("/element/{element}/attribute/{name}"))
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// The accessible name assistive technology announces for the element.
    pub async fn accessible_name(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/computedlabel"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The element's computed ARIA role.
    pub async fn role(&self, element: &str) -> String {
        self.get(&format!("/element/{element}/computedrole"))
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Cookies visible to the current page.
    pub async fn cookies(&self) -> Vec<Value> {
        self.get("/cookie")
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
