//! A customer going through the hosted Connect pages with plain HTTP (no
//! browser): keeps the flow cookie and never follows redirects, so tests and
//! benchmarks can look at each step.

use reqwest::header::{HeaderMap, COOKIE, LOCATION, ORIGIN, SET_COOKIE};

/// A customer's browser at the HTTP level: keeps the flow cookie, never
/// follows redirects (the tests look at each one).
pub struct Customer {
    http: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
}

impl Customer {
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookie: None,
        }
    }

    pub async fn get(&mut self, url: &str) -> reqwest::Response {
        let url = if url.starts_with("http") {
            url.to_owned()
        } else {
            format!("{}{url}", self.base)
        };
        let mut req = self.http.get(url);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookie(resp.headers());
        resp
    }

    fn keep_cookie(&mut self, headers: &HeaderMap) {
        if let Some(set) = headers.get(SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            self.cookie = Some(pair);
        }
    }

    pub async fn post(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        origin: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(c) = &self.cookie {
            req = req.header(COOKIE, c);
        }
        if let Some(o) = origin {
            req = req.header(ORIGIN, o);
        }
        req.send().await.unwrap()
    }

    /// The CSRF value of the flow page the customer is on.
    pub async fn csrf(&mut self, sid: &str) -> String {
        let html = self
            .get(&format!("/connect/s/{sid}"))
            .await
            .text()
            .await
            .unwrap();
        let start = html.find("name=\"csrf\" value=\"").expect("a form") + 19;
        html[start..start + 64].to_owned()
    }
}

pub fn location(resp: &reqwest::Response) -> String {
    resp.headers()[LOCATION].to_str().unwrap().to_owned()
}
