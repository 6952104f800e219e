//! The fuzz targets on stable Rust, bounded: every stored corpus input (from the
//! libFuzzer runs, `fuzz/corpus/TARGET/`), then seeded mutations of them: bytes
//! flipped, inserted, cut, spliced from another input.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use kefu_fuzz::TARGETS;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

fn mutate(rng: &mut StdRng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..8) {
        let at = rng.random_range(0..=out.len());
        match rng.random_range(0..5) {
            0 if at < out.len() => out[at] ^= 1 << rng.random_range(0..8),
            1 => out.insert(at, rng.random()),
            2 if at < out.len() => {
                let end = rng.random_range(at..=out.len());
                out.drain(at..end);
            }
            3 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let to = rng.random_range(from..=other.len());
                out.splice(at..at, other[from..to].iter().copied());
            }
            _ => {
                // Characters parsers care about.
                const SPECIAL: [&[u8]; 10] = [
                    b"\"",
                    b"'",
                    b"\\",
                    b"\r\n",
                    b",",
                    b"-->",
                    "：".as_bytes(),
                    "转".as_bytes(),
                    b"\xff",
                    b"\0",
                ];
                out.splice(
                    at..at,
                    SPECIAL[rng.random_range(0..SPECIAL.len())].iter().copied(),
                );
            }
        }
    }
    out
}

#[test]
fn every_target_holds_on_its_corpus_and_mutations_of_it() {
    let mutations: usize = std::env::var("KEFU_TEST_FUZZ_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    for (name, target) in TARGETS {
        let inputs = corpus(name);
        assert!(!inputs.is_empty(), "{name}: no corpus");
        for input in &inputs {
            target(input);
        }
        let mut rng = StdRng::seed_from_u64(2026);
        for _ in 0..mutations {
            let a = &inputs[rng.random_range(0..inputs.len())];
            let b = &inputs[rng.random_range(0..inputs.len())];
            let input = mutate(&mut rng, a, b);
            let outcome = std::panic::catch_unwind(|| target(&input));
            assert!(
                outcome.is_ok(),
                "{name} failed on {:?}",
                String::from_utf8_lossy(&input)
            );
        }
        eprintln!(
            "{name}: {} corpus inputs, {mutations} mutations",
            inputs.len()
        );
    }
}
