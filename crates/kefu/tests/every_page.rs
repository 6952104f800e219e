//! Every console page a person can reach reads in words, on the demo data, for
//! every role: `kefu demo` fills the database, the real `kefu serve` runs on it,
//! and headless Chromium (1366×768) walks from each role's home along every link
//! to a console page — each list's first detail page included — once per kind of
//! address. A page fails on text a person would see that is a snake_case code, an
//! unfilled `{placeholder}`, an id shown as a person ("#3", "system:…"), or on a
//! table header that wraps one character per line. The manager's pages are
//! walked again in English. Both backends; each page's
//! screenshot is kept in `target/console-screenshots/<backend>/every-page/`.
#![allow(clippy::unwrap_used)]

#[path = "../../kefu-console/tests/browser/mod.rs"]
mod browser;
#[path = "../../kefu-server/tests/common/mod.rs"]
mod common;

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use browser::*;
use fantoccini::Client;
use kefu_store::backend_tests;
use kefu_store::testing::TestDb;

backend_tests!(every_page_reads_in_words_for_every_role);

const DEMO_PASSWORD: &str = "kefu-demo-2026";

/// Pages per role at most (one per kind of address).
const MAX_PAGES: usize = 90;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kefu(db: &TestDb, dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kefu"));
    command
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_CONFIG");
    let _ = db;
    command
}

/// The demo data, then `kefu serve` on it; the server and its URL.
fn start(db: &TestDb, dir: &std::path::Path) -> (Server, String) {
    let demo = kefu(db, dir)
        .args([
            "demo",
            "--customers",
            "3000",
            "--work-orders",
            "1500",
            "--contacts",
            "2000",
        ])
        .args(["--database-url", &db.url.to_string()])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(demo.success(), "kefu demo failed");
    // Killed and waited for when dropped, whatever happens below.
    let mut server = Server(
        kefu(db, dir)
            .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
            .arg(db.url.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut lines = BufReader::new(server.0.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        if let Some(rest) = line.strip_prefix("Kefu is serving on ") {
            let url = rest.split_whitespace().next().unwrap().to_owned();
            // Keep reading the banner so the server never blocks on its pipe.
            std::thread::spawn(move || for _ in lines {});
            return (server, url);
        }
        seen.push(line);
        assert!(seen.len() < 60, "no URL in {seen:?}");
    }
    panic!("server did not start: {seen:?}");
}

/// An address's kind: digits replaced, the query left out.
fn kind_of(path: &str) -> String {
    let mut out = String::new();
    let mut digits = false;
    for c in path.chars() {
        if c.is_ascii_digit() {
            if !digits {
                out.push('#');
            }
            digits = true;
        } else {
            digits = false;
            out.push(c);
        }
    }
    out
}

/// Console pages only: not downloads, fragments, assets or switches.
fn walkable(path: &str) -> bool {
    path.starts_with("/console")
        && !path.starts_with("/console/lang/")
        && !path.starts_with("/console/assets/")
        && !path.starts_with("/console/events")
        && !path.starts_with("/console/catalog")
        && !path.starts_with("/console/desk/pop/")
        && !path.starts_with("/console/desk/callbacks")
        && !path.starts_with("/console/login")
        && !(path.starts_with("/console/dashboard/") && path.contains('.'))
        && !path.ends_with("/call")
}

/// What the page shows a person that is not in words, as findings.
const CHECK: &str = r#"
const skip = new Set(["SCRIPT", "STYLE", "TEMPLATE", "CODE", "TEXTAREA", "NOSCRIPT"]);
const texts = [];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT, {
  acceptNode(node) {
    for (let el = node.parentElement; el; el = el.parentElement) {
      if (skip.has(el.tagName) || el.hidden || el.closest("[data-literal]")) return NodeFilter.FILTER_REJECT;
    }
    return NodeFilter.FILTER_ACCEPT;
  }
});
while (walker.nextNode()) {
  const t = walker.currentNode.textContent.trim();
  if (t) texts.push(t);
}
for (const el of document.querySelectorAll("input[placeholder], textarea[placeholder]")) {
  if (!el.closest("[data-literal]")) texts.push(el.placeholder);
}
const found = [];
for (const t of texts) {
  const words = t.split(/\s+/).filter((w) => !w.includes("@") && !w.includes("://") && !w.includes("/"));
  for (const w of words) {
    const m = w.match(/(^|[^A-Za-z0-9_])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?![A-Za-z0-9_])/);
    if (m) found.push("code: " + m[2] + " in «" + t.slice(0, 80) + "»");
  }
  const p = t.match(/\{[A-Za-z_][A-Za-z0-9_.@]*\}/);
  if (p) found.push("placeholder: " + p[0] + " in «" + t.slice(0, 80) + "»");
  const id = t.match(/(^|[^A-Za-z0-9&])#\d+/);
  if (id) found.push("id as a person: «" + t.slice(0, 80) + "»");
  if (/system:|staff:/.test(t)) found.push("actor label: «" + t.slice(0, 80) + "»");
}
for (const th of document.querySelectorAll("th")) {
  const text = th.innerText.trim();
  if (text.length < 2 || th.offsetParent === null) continue;
  const range = document.createRange();
  range.selectNodeContents(th);
  const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
  if (tops.size >= 2 && tops.size >= text.length) found.push("header wraps per character: " + text);
}
return found;
"#;

/// Walks one role's console from its home; every finding with its page. Each
/// page's screenshot goes to `dir` for a person to look over.
async fn walk(
    c: &Client,
    base: &str,
    home: &str,
    role: &str,
    dir: &std::path::Path,
) -> (Vec<String>, usize) {
    let mut findings = Vec::new();
    let mut seen = BTreeSet::new();
    let mut queue = VecDeque::from([home.to_owned()]);
    let mut visited = 0;
    while let Some(path) = queue.pop_front() {
        if visited >= MAX_PAGES || !seen.insert(kind_of(&path)) {
            continue;
        }
        visited += 1;
        c.goto(&format!("{base}{path}")).await.unwrap();
        // Pages that load parts by script settle first.
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        let found = c.execute(CHECK, vec![]).await.unwrap();
        let name = kind_of(&path).replace(['/', '#'], "_");
        shot(c, dir, &format!("{role}{name}")).await;
        for f in found.as_array().unwrap() {
            findings.push(format!("{role} {path}: {}", f.as_str().unwrap_or_default()));
        }
        let links = c
            .execute(
                "return Array.from(document.querySelectorAll('a[href]')).map((a) => a.getAttribute('href'));",
                vec![],
            )
            .await
            .unwrap();
        for href in links.as_array().unwrap() {
            let href = href.as_str().unwrap_or_default();
            let path = href.split(['?', '#']).next().unwrap_or_default();
            if walkable(path) && !seen.contains(&kind_of(path)) {
                queue.push_back(path.to_owned());
            }
        }
    }
    (findings, visited)
}

async fn every_page_reads_in_words_for_every_role(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let (_server, base) = start(db, dir.path());
    let Some((_driver, c)) = driver().await else {
        return;
    };
    let shots = shots(db.store.backend().as_str()).join("every-page");
    std::fs::create_dir_all(&shots).unwrap();
    let mut findings = Vec::new();
    for (staff_no, role, home) in [
        ("KF1001", "agent", "/console/desk"),
        ("WX2001", "handler", "/console/inbox"),
        ("manager", "manager", "/console/dashboard"),
        ("admin", "admin", "/console/admin"),
    ] {
        sign_in_as(&c, &base, staff_no, DEMO_PASSWORD).await;
        wait_path(&c, home).await;
        let (found, pages) = walk(&c, &base, home, role, &shots).await;
        eprintln!("{role}: {pages} pages, {} findings", found.len());
        assert!(pages >= 5, "{role} reached only {pages} pages");
        findings.extend(found);
    }
    // The manager's console in English reads in words too.
    c.goto(&format!("{base}/console/lang/en")).await.unwrap();
    let (found, pages) = walk(&c, &base, "/console/dashboard", "manager-en", &shots).await;
    eprintln!("manager (English): {pages} pages, {} findings", found.len());
    findings.extend(found);
    findings.sort();
    findings.dedup();
    assert!(
        findings.is_empty(),
        "{} findings:\n{}",
        findings.len(),
        findings.join("\n")
    );
}
