//! A real OpenID Provider for the sign-in tests (npm `oidc-provider`, run by
//! `fixtures/oidc/provider.mjs`), and a browser that signs in at it by
//! filling in its forms, as a person would. Test support: a failure here
//! panics with what to fix.
#![allow(clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub struct Provider {
    pub issuer: String,
    child: Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("oidc")
}

/// A port nobody listens on now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    l.local_addr().expect("no local address").port()
}

impl Provider {
    /// Start the provider; `redirect_uris` are the client's (Sesame's
    /// `/auth/callback`). Fails, saying what to run, when Node or the
    /// package is missing.
    pub fn start(redirect_uris: &[&str]) -> Provider {
        let dir = fixture_dir();
        assert!(
            dir.join("node_modules").join("oidc-provider").is_dir(),
            "the test OpenID Provider is not installed: run `npm ci --prefix {}` (scripts/test does)",
            dir.display()
        );
        let port = free_port();
        let mut child = Command::new("node")
            .arg(dir.join("provider.mjs"))
            .arg(port.to_string())
            .env("OIDC_REDIRECT_URIS", redirect_uris.join(","))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run node (apt-get install nodejs): {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let issuer = loop {
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(i) = l.strip_prefix("listening ") {
                        break i.trim().to_owned();
                    }
                }
                _ => panic!("the test OpenID Provider did not start (node {}/provider.mjs {port})", dir.display()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Provider { issuer, child }
    }

    /// Start signing with a new key (published beside the old one).
    pub async fn rotate_keys(&self) {
        let r = reqwest::Client::new().post(format!("{}/test/rotate", self.issuer)).send().await.expect("rotate");
        assert!(r.status().is_success(), "rotating the provider's keys failed: {}", r.status());
    }
}

/// A browser: keeps cookies, follows redirects (unless told to stop at a
/// path), fills in forms.
pub struct Browser {
    pub http: reqwest::Client,
}

/// The `name="…" value="…"` pairs of a page's inputs.
pub fn inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in html.split("<input").skip(1) {
        let tag = tag.split('>').next().unwrap_or("");
        let attr = |k: &str| tag.split(&format!("{k}=\"")).nth(1).and_then(|r| r.split('"').next()).map(str::to_owned);
        if let Some(name) = attr("name") {
            out.push((name, attr("value").unwrap_or_default()));
        }
    }
    out
}

/// The `action` of a page's first form.
pub fn form_action(html: &str) -> Option<String> {
    html.split("<form").nth(1)?.split("action=\"").nth(1)?.split('"').next().map(str::to_owned)
}

impl Browser {
    /// Stops before following a redirect to a URL whose path is `stop_at`.
    pub fn new(stop_at: Option<&'static str>) -> Browser {
        let policy = reqwest::redirect::Policy::custom(move |a| match stop_at {
            Some(p) if a.url().path() == p => a.stop(),
            _ if a.previous().len() > 20 => a.error("too many redirects"),
            _ => a.follow(),
        });
        Browser { http: reqwest::Client::builder().cookie_store(true).redirect(policy).build().expect("browser") }
    }

    /// Sign in as `login` at the provider's page the browser is on (`page`,
    /// at `url`); returns the last response.
    pub async fn sign_in_at(&self, url: &reqwest::Url, page: &str, login: &str) -> reqwest::Response {
        let action = form_action(page).unwrap_or_else(|| panic!("no sign-in form at {url}: {page}"));
        let target = url.join(&action).expect("form action");
        self.http.post(target).form(&[("login", login)]).send().await.expect("sign-in form")
    }

    /// Browse to `start` (Sesame's `/auth/login`), sign in as `login`.
    pub async fn code_flow(&self, start: &str, login: &str) -> reqwest::Response {
        let r = self.http.get(start).send().await.expect("start sign-in");
        let url = r.url().clone();
        let page = r.text().await.expect("page");
        self.sign_in_at(&url, &page, login).await
    }

    /// Approve a device sign-in: enter the code, confirm, sign in as `login`.
    pub async fn device_flow(&self, verification_uri: &str, user_code: &str, login: &str) -> String {
        let r = self.http.get(verification_uri).send().await.expect("device page");
        let url = r.url().clone();
        let page = r.text().await.expect("page");
        let mut form = inputs(&page);
        form.retain(|(k, _)| k != "user_code");
        form.push(("user_code".into(), user_code.into()));
        let action = url.join(&form_action(&page).unwrap_or_else(|| panic!("no code form: {page}"))).expect("action");
        let r = self.http.post(action.clone()).form(&form).send().await.expect("enter the code");
        let confirm = r.text().await.expect("page");
        let r = self.http.post(action).form(&inputs(&confirm)).send().await.expect("confirm");
        let url = r.url().clone();
        let page = r.text().await.expect("page");
        self.sign_in_at(&url, &page, login).await.text().await.expect("done page")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read_as_a_browser_reads_them() {
        let page = r#"<form id="f" method="post" action="/device"><input type="hidden" name="xsrf" value="abc"/>
            <input name="user_code" form="f"></form>"#;
        assert_eq!(form_action(page).as_deref(), Some("/device"));
        assert_eq!(inputs(page), vec![("xsrf".to_owned(), "abc".to_owned()), ("user_code".to_owned(), String::new())]);
    }
}
