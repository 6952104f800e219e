//! Headless Chromium through chromedriver for the console tests: starting it,
//! screenshots, waiting for elements and text, signing in.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use kefu_domain::Role;
use serde_json::json;

use crate::common::{PASSWORD, staff_no};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, killed when dropped.
pub struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
    /// Where the browser saves downloads.
    pub downloads: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A test that fails before closing the session leaves Chromium running
        // under its own profile directory: end it by that directory.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("user-data-dir={}", self._profile.path().display()))
            .status();
    }
}

pub async fn driver() -> Option<(Driver, Client)> {
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        eprintln!("skipped: Chromium is not installed (apt-get install chromium chromium-driver)");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let profile = tempfile::tempdir().unwrap();
    let mut driver = Driver {
        child,
        url,
        _profile: profile,
        downloads: tempfile::tempdir().unwrap(),
    };
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run",
                "--disable-dev-shm-usage", "--window-size=1366,768", "--lang=zh-CN",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ],
            "prefs": {
                "download.default_directory": driver.downloads.path().display().to_string(),
                "download.prompt_for_download": false,
            }
        }),
    );
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await;
    match client {
        Ok(c) => Some((driver, c)),
        Err(e) => {
            let _ = driver.child.kill();
            panic!("cannot start Chromium through chromedriver: {e}");
        }
    }
}

pub fn shots(backend: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/console-screenshots")
        .join(backend);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

pub async fn shot(c: &Client, dir: &std::path::Path, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

pub async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(15))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
}

pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub async fn click_in(e: &fantoccini::elements::Element, css: &str) {
    e.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

pub async fn type_in(e: &fantoccini::elements::Element, css: &str, text: &str) {
    e.find(Locator::Css(css))
        .await
        .unwrap()
        .send_keys(text)
        .await
        .unwrap();
}

/// Waits until `css`'s text contains `needle`.
pub async fn wait_text(c: &Client, css: &str, needle: &str) -> String {
    for _ in 0..150 {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(text) = e.text().await
            && text.contains(needle)
        {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let source = c.source().await.unwrap_or_default();
    panic!(
        "'{needle}' never appeared in {css}; page: {}",
        &source[..source.len().min(3000)]
    );
}

pub async fn sign_in(c: &Client, base: &str, role: Role) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&format!("{base}/console/login")).await.unwrap();
    wait_for(c, "#staff_no")
        .await
        .send_keys(staff_no(role))
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    c.find(Locator::Css("#login-form button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let home = match role {
        Role::Agent => "/console/desk",
        Role::Handler => "/console/inbox",
        Role::Manager => "/console/dashboard",
        Role::Admin => "/console/admin",
    };
    for _ in 0..150 {
        if c.current_url().await.unwrap().path() == home {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{role:?} did not land on {home}: at {}",
        c.current_url().await.unwrap()
    );
}

pub async fn nav_links(c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    for a in c.find_all(Locator::Css(".top nav a")).await.unwrap() {
        out.push(a.attr("href").await.unwrap().unwrap_or_default());
    }
    out
}

pub async fn click_command(c: &Client, command: &str, note: Option<&str>) {
    if let Some(note) = note {
        c.find(Locator::Css("#action-note"))
            .await
            .unwrap()
            .send_keys(note)
            .await
            .unwrap();
    }
    let button = wait_for(c, &format!("button.transition[data-command={command}]")).await;
    button.click().await.unwrap();
}

/// Serves the test app's state (and its live-event hub) over a real loopback
/// socket for the browser; returns the base URL and the server task.
pub async fn serve(app: &crate::common::TestApp) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let served = kefu_console::app(app.state.clone())
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, served).await;
    });
    (base, server)
}

/// Signs in with any staff number and password; does not wait for a page.
pub async fn sign_in_as(c: &Client, base: &str, staff_no: &str, password: &str) {
    c.delete_all_cookies().await.unwrap();
    c.goto(&format!("{base}/console/login")).await.unwrap();
    wait_for(c, "#staff_no")
        .await
        .send_keys(staff_no)
        .await
        .unwrap();
    c.find(Locator::Css("#password"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    click(c, "#login-form button[type=submit]").await;
}

/// Waits until the browser is at `path`.
pub async fn wait_path(c: &Client, path: &str) {
    for _ in 0..150 {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "never reached {path}: at {}",
        c.current_url().await.unwrap()
    );
}

/// Accepts the page's confirmation dialog (the console's own, in the page) once
/// it shows.
pub async fn accept_confirm(c: &Client) {
    confirm_with(c, None).await;
}

/// Answers the page's confirmation dialog: with `reason` written in its reason
/// field when given, then 确定.
pub async fn confirm_with(c: &Client, reason: Option<&str>) {
    for _ in 0..50 {
        let open: bool = c
            .execute(
                "return !!document.querySelector('#confirm-dialog[open]');",
                vec![],
            )
            .await
            .unwrap()
            .as_bool()
            .unwrap_or(false);
        if open {
            if let Some(reason) = reason {
                c.find(Locator::Css("#confirm-reason"))
                    .await
                    .unwrap()
                    .send_keys(reason)
                    .await
                    .unwrap();
            }
            c.find(Locator::Css("#confirm-ok"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no confirmation was asked");
}

/// A file the browser downloaded into `dir`, once it is complete.
pub async fn downloaded(dir: &std::path::Path) -> PathBuf {
    for _ in 0..100 {
        if let Some(file) = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                p.extension()
                    .is_some_and(|e| e != "crdownload" && e != "tmp")
            })
        {
            return file;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nothing was downloaded into {}", dir.display());
}

/// Replaces the text in the field at `css`.
pub async fn fill(c: &Client, css: &str, text: &str) {
    let e = wait_for(c, css).await;
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Chooses the option labelled `label` in the select at `css`.
pub async fn select_label(c: &Client, css: &str, label: &str) {
    wait_for(c, css)
        .await
        .select_by_label(label)
        .await
        .unwrap_or_else(|e| panic!("{css} has no option {label}: {e}"));
}

pub async fn text_of(c: &Client, css: &str) -> String {
    wait_for(c, css).await.text().await.unwrap()
}

/// A secret the page shows once (a one-time password, a token): waits until the
/// element at `css` holds text starting with `prefix` and returns it.
pub async fn shown_once(c: &Client, css: &str, prefix: &str) -> String {
    for _ in 0..150 {
        let shown = text_of(c, css).await;
        if !shown.is_empty() && shown.starts_with(prefix) {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never showed a secret");
}
