//! Every crate's top-level modules form layers: no module reaches (through
//! `crate::…`) a module that reaches back to it. A cycle is printed with the
//! files that make it. (The crate graph itself is acyclic by Cargo's rules.)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        for e in std::fs::read_dir(p).unwrap() {
            rust_files(&e.unwrap().path(), out);
        }
    } else if p.extension().is_some_and(|e| e == "rs") {
        out.push(p.to_owned());
    }
}

/// The first path segments after `crate::`, including each of a group's
/// (`crate::{a, b::C}` names `a` and `b`). Comments are skipped.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or_default();
                out.extend(inner.split(',').map(|s| s.trim().split("::").next().unwrap_or_default().to_owned()));
            } else {
                out.insert(rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect());
            }
        }
    }
    out
}

/// Module → the modules it reaches, with a file that shows each edge.
fn graph(src: &Path) -> BTreeMap<String, BTreeMap<String, PathBuf>> {
    let mut modules = BTreeMap::new();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" || name == "main" {
            continue;
        }
        modules.entry(name).or_insert_with(Vec::new).push(p);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let mut g = BTreeMap::new();
    for (m, paths) in &modules {
        let mut files = Vec::new();
        for p in paths {
            rust_files(p, &mut files);
        }
        let mut edges = BTreeMap::new();
        for f in files {
            for r in referenced(&std::fs::read_to_string(&f).unwrap()) {
                if r != *m && names.contains(&r) {
                    edges.entry(r).or_insert(f.clone());
                }
            }
        }
        g.insert(m.clone(), edges);
    }
    g
}

fn find_cycle(g: &BTreeMap<String, BTreeMap<String, PathBuf>>) -> Option<Vec<String>> {
    fn visit(n: &str, g: &BTreeMap<String, BTreeMap<String, PathBuf>>, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            let mut c = path[i..].to_vec();
            c.push(n.to_owned());
            return Some(c);
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_owned());
        for next in g.get(n).into_iter().flat_map(|e| e.keys()) {
            if let Some(c) = visit(next, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|n| visit(n, g, &mut Vec::new(), &mut done))
}

#[test]
fn no_module_reaches_one_that_reaches_back() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut checked = 0;
    for e in std::fs::read_dir(&crates).unwrap() {
        let src = e.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let g = graph(&src);
        if let Some(cycle) = find_cycle(&g) {
            let why: Vec<String> = cycle.windows(2).map(|w| format!("{} → {} ({})", w[0], w[1], g[&w[0]][&w[1]].display())).collect();
            panic!("modules of {} form a cycle:\n  {}", src.display(), why.join("\n  "));
        }
        checked += 1;
    }
    assert!(checked >= 9, "found only {checked} crates under {}", crates.display());
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let g: BTreeMap<String, BTreeMap<String, PathBuf>> = [
        ("a".to_owned(), [("b".to_owned(), PathBuf::from("a.rs"))].into()),
        ("b".to_owned(), [("c".to_owned(), PathBuf::from("b.rs"))].into()),
        ("c".to_owned(), [("a".to_owned(), PathBuf::from("c.rs"))].into()),
    ]
    .into();
    assert_eq!(find_cycle(&g).unwrap(), ["a", "b", "c", "a"]);
    assert_eq!(referenced("use crate::{clock, error::ApiError};\n// crate::hidden\nlet x = crate::state::AppState;"), ["clock", "error", "state"].map(String::from).into());
}
