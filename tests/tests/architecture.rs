//! The dependency picture the code keeps, checked on the sources and on Cargo's graph: arrows
//! point one way (entry → domains → core → model), the model knows no web, the API's domains and
//! catalog take nothing from the loaders and importers.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(rust_files(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// The lines of a file that are code (not comments).
fn code_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn only_the_command_line_and_start_up_call_the_loaders() {
    let api = workspace().join("api/src");
    let allowed = ["server.rs", "cli.rs", "db.rs"];
    for f in rust_files(&api) {
        let name = f.strip_prefix(&api).unwrap().to_string_lossy().into_owned();
        if allowed.contains(&name.as_str()) {
            continue;
        }
        for l in code_lines(&f) {
            assert!(!l.contains("seed::"), "{name} uses the seed crate: {l}");
        }
    }
}

#[test]
fn the_catalog_knows_no_domain() {
    let catalog = workspace().join("api/src/catalog");
    for f in rust_files(&catalog) {
        for l in code_lines(&f) {
            for domain in ["tiles", "feeds", "offers", "qr", "layers", "ogc", "graphql", "stats", "auth"] {
                assert!(!l.contains(&format!("crate::{domain}")), "{} imports {domain}: {l}", f.display());
            }
        }
    }
}

#[test]
fn no_domain_imports_another_domain_s_resolvers() {
    let api = workspace().join("api/src");
    for f in rust_files(&api) {
        let name = f.strip_prefix(&api).unwrap().to_string_lossy().into_owned();
        if name.starts_with("offers/") {
            continue;
        }
        for l in code_lines(&f) {
            for resolvers in ["offers::query", "offers::mutation"] {
                assert!(!l.contains(resolvers), "{name} imports {resolvers}: {l}");
            }
        }
    }
}

#[test]
fn the_model_depends_on_no_web_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args(["tree", "-p", "entities", "-e", "normal", "--prefix", "none", "--offline"])
        .current_dir(workspace())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.lines().any(|l| l.starts_with("sea-orm ")), "the tree lists the model's dependencies:\n{tree}");
    for web in ["axum", "async-graphql", "tower", "hyper", "tower-http"] {
        assert!(!tree.lines().any(|l| l.starts_with(&format!("{web} "))), "entities depends on {web}");
    }
}
