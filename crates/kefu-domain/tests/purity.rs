//! Keeps the domain crate pure: its manifest may not name IO crates.

const FORBIDDEN: &[&str] = &[
    "sqlx",
    "tokio",
    "axum",
    "hyper",
    "reqwest",
    "tower",
    "tower-http",
    "rusqlite",
    "postgres",
    "tokio-postgres",
    "lettre",
    "async-std",
    "mio",
    "kefu-store",
    "kefu-server",
];

#[test]
fn domain_manifest_names_no_io_crate() {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("read own Cargo.toml");
    let mut offending = Vec::new();
    let mut in_deps = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line.contains("dependencies");
            continue;
        }
        if !in_deps {
            continue;
        }
        let name = line
            .split(['=', '.', ' '])
            .next()
            .unwrap_or_default()
            .trim_matches('"');
        if FORBIDDEN.contains(&name) {
            offending.push(name.to_owned());
        }
    }
    assert!(
        offending.is_empty(),
        "domain crate depends on IO crates: {offending:?}"
    );
}

#[test]
fn domain_sources_never_read_the_clock() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).expect("read src") {
            let entry = entry.expect("dir entry").path();
            if entry.is_dir() {
                stack.push(entry);
            } else if entry.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&entry).expect("read source");
                for needle in [
                    "Timestamp::now",
                    "SystemTime::now",
                    "Instant::now",
                    "Zoned::now",
                ] {
                    assert!(
                        !text.contains(needle),
                        "{} reads the clock ({needle}); take `now` as a parameter",
                        entry.display()
                    );
                }
            }
        }
    }
}
