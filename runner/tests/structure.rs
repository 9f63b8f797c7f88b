//! The layout rules of `runner/src`, checked from the source:
//!
//! - no import cycle between modules: at the top (`config`, `docker`,
//!   `plugin`, ...) and between the files of every folder (`config/servers`
//!   and `config/proxy`, ...);
//! - no file over 800 lines, tests aside (`tests.rs`, `*_tests.rs`, and
//!   everything from a file's `#[cfg(test)]` on).
//!
//! References are read as text (`crate::a::b`, `super::c`, `use` groups)
//! and resolved against the module files that exist, so an edge is a real
//! `use` or path between two modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 800;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src` with its module path (`["config", "proxy"]`).
fn modules() -> Vec<(PathBuf, Vec<String>)> {
    let root = src();
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(&root).unwrap();
                let mut parts: Vec<String> = rel
                    .iter()
                    .map(|c| c.to_string_lossy().into_owned())
                    .collect();
                let file = parts.pop().unwrap();
                match file.as_str() {
                    "lib.rs" | "main.rs" | "mod.rs" => {}
                    f => parts.push(f.trim_end_matches(".rs").to_string()),
                }
                out.push((p, parts));
            }
        }
    }
    out.sort();
    out
}

/// The code before the file's tests.
fn code(text: &str) -> &str {
    match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => text,
    }
}

/// `text` without `//` comments (doc links name modules without using them).
fn uncommented(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // Not inside a string like "http://".
            Some(i) if l[..i].matches('"').count() % 2 == 0 => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Each path written after `crate::` or `super::` (including each branch of
/// a `{...}` group), as its segments; `super` kept as a segment.
fn paths(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            // Not part of a longer identifier (`my_crate::`).
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
                continue;
            }
            let first = start.trim_end_matches("::").to_string();
            expand(&text[at + start.len()..], vec![first], &mut out);
        }
    }
    out
}

/// Reads `a::b::{c, d::e}` at the start of `rest` onto `prefix`.
fn expand(rest: &str, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    let mut s = rest;
    loop {
        if let Some(inner) = s.strip_prefix('{') {
            let mut depth = 0;
            let mut part = String::new();
            for c in inner.chars() {
                match c {
                    '{' => {
                        depth += 1;
                        part.push(c);
                    }
                    '}' if depth == 0 => {
                        expand(part.trim(), path.clone(), out);
                        return;
                    }
                    '}' => {
                        depth -= 1;
                        part.push(c);
                    }
                    ',' if depth == 0 => {
                        expand(part.trim(), path.clone(), out);
                        part.clear();
                    }
                    c => part.push(c),
                }
            }
            return;
        }
        let word: String = s
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if word.is_empty() {
            out.push(path);
            return;
        }
        path.push(word.clone());
        s = &s[word.len()..];
        match s.strip_prefix("::") {
            Some(r) => s = r,
            None => {
                out.push(path);
                return;
            }
        }
    }
}

/// `path` as written in the file of module `me`, resolved to the deepest
/// module that exists.
fn resolve(
    me: &[String],
    is_mod_file: bool,
    path: &[String],
    known: &BTreeSet<Vec<String>>,
    alias: &BTreeMap<Vec<String>, Vec<String>>,
) -> Vec<String> {
    let mut abs: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        // `super` in `a/b.rs` (module a::b) is `a`; in `a/b/mod.rs` (module
        // a::b) it is `a` as well.
        Some("super") => {
            let _ = is_mod_file;
            me[..me.len().saturating_sub(1)].to_vec()
        }
        _ => return Vec::new(),
    };
    let mut rest = &path[1..];
    while let Some(seg) = rest.first() {
        if seg == "super" {
            abs.pop();
            rest = &rest[1..];
        } else {
            break;
        }
    }
    for seg in rest {
        let mut next = abs.clone();
        next.push(seg.clone());
        if let Some(real) = alias.get(&next) {
            abs = real.clone();
        } else if known.contains(&next) {
            abs = next;
        } else {
            break;
        }
    }
    abs
}

/// Module aliases (`pub use wit::latest as bindings;` in `plugin`): the
/// alias's path and the module it stands for, resolved until fixed.
fn aliases(
    mods: &[(PathBuf, Vec<String>)],
    known: &mut BTreeSet<Vec<String>>,
) -> BTreeMap<Vec<String>, Vec<String>> {
    let mut found: Vec<(Vec<String>, bool, Vec<String>, String)> = Vec::new();
    for (file, me) in mods {
        let text = uncommented(code(&std::fs::read_to_string(file).unwrap()));
        let is_mod = file.file_name().is_some_and(|f| f == "mod.rs");
        for line in text.lines() {
            let l = line.trim();
            let Some(rest) = l.strip_prefix("pub use ").and_then(|r| r.strip_suffix(';')) else {
                continue;
            };
            let Some((path, name)) = rest.split_once(" as ") else {
                continue;
            };
            let mut segs: Vec<String> = path.split("::").map(String::from).collect();
            if !matches!(segs[0].as_str(), "crate" | "super" | "self") {
                segs.insert(0, "self".into());
            }
            found.push((me.clone(), is_mod, segs, name.trim().to_string()));
        }
    }
    let mut out = BTreeMap::new();
    for _ in 0..4 {
        for (me, is_mod, segs, name) in &found {
            let target = if segs[0] == "self" {
                let mut p = vec!["crate".to_string()];
                p.extend(me.iter().cloned());
                p.extend(segs[1..].iter().cloned());
                resolve(me, *is_mod, &p, known, &out)
            } else {
                resolve(me, *is_mod, segs, known, &out)
            };
            let mut alias = me.clone();
            alias.push(name.clone());
            if target.len() > 1 || (!target.is_empty() && target != *me) {
                known.insert(alias.clone());
                out.insert(alias, target);
            }
        }
    }
    out
}

/// The edges between siblings: for a reference from `a::b::c` to `a::d::e`,
/// `a::b -> a::d` (they part under `a`).
fn edges() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let mods = modules();
    let mut known: BTreeSet<Vec<String>> = mods.iter().map(|(_, m)| m.clone()).collect();
    let alias = aliases(&mods, &mut known);
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (file, me) in &mods {
        let text = std::fs::read_to_string(file).unwrap();
        let is_mod = file.file_name().is_some_and(|f| f == "mod.rs");
        for p in paths(&uncommented(code(&text))) {
            let to = resolve(me, is_mod, &p, &known, &alias);
            let common = me.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == me.len() || common == to.len() {
                continue; // a parent and its own child
            }
            graph
                .entry(me[..=common].to_vec())
                .or_default()
                .insert(to[..=common].to_vec());
        }
    }
    graph
}

/// The cycles of `graph` (strongly connected sets of more than one node).
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    // Kosaraju: order by finish time, then walk the reversed graph.
    let nodes: BTreeSet<&Vec<String>> = graph
        .iter()
        .flat_map(|(a, bs)| std::iter::once(a).chain(bs))
        .collect();
    let mut seen = BTreeSet::new();
    let mut order = Vec::new();
    fn visit<'a>(
        n: &'a Vec<String>,
        g: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        seen: &mut BTreeSet<&'a Vec<String>>,
        order: &mut Vec<&'a Vec<String>>,
    ) {
        if !seen.insert(n) {
            return;
        }
        for m in g.get(n).into_iter().flatten() {
            visit(m, g, seen, order);
        }
        order.push(n);
    }
    for n in &nodes {
        visit(n, graph, &mut seen, &mut order);
    }
    let mut reverse: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (a, bs) in graph {
        for b in bs {
            reverse.entry(b).or_default().push(a);
        }
    }
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in order.into_iter().rev() {
        if done.contains(n) {
            continue;
        }
        let mut component = Vec::new();
        let mut stack = vec![n];
        while let Some(x) = stack.pop() {
            if !done.insert(x) {
                continue;
            }
            component.push(x.clone());
            stack.extend(reverse.get(x).into_iter().flatten().copied());
        }
        if component.len() > 1 {
            component.sort();
            out.push(component);
        }
    }
    out
}

#[test]
fn the_reader_sees_the_imports() {
    let p =
        paths("use crate::{config::{self, Config}, docker::Docker};\nlet x = super::super::a::b;");
    assert!(p.contains(&vec!["crate".into(), "config".into(), "self".into()]));
    assert!(p.contains(&vec!["crate".into(), "docker".into(), "Docker".into()]));
    assert!(p.contains(&vec![
        "super".into(),
        "super".into(),
        "a".into(),
        "b".into()
    ]));
    let g = edges();
    assert!(
        g.get(&vec!["stages".to_string()])
            .is_some_and(|to| to.contains(&vec!["run".to_string()])),
        "stages uses run: {g:?}"
    );
}

#[test]
fn no_module_cycles() {
    let graph = edges();
    let found = cycles(&graph);
    let show = |c: &Vec<Vec<String>>| {
        let names: Vec<String> = c.iter().map(|m| m.join("::")).collect();
        let arrows: Vec<String> = c
            .iter()
            .flat_map(|a| {
                graph
                    .get(a)
                    .into_iter()
                    .flatten()
                    .filter(|b| c.contains(b))
                    .map(move |b| format!("{} -> {}", a.join("::"), b.join("::")))
            })
            .collect();
        format!("{} ({})", names.join(", "), arrows.join("; "))
    };
    assert!(
        found.is_empty(),
        "import cycles in runner/src:\n  {}",
        found.iter().map(show).collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn no_file_over_800_lines() {
    let mut long = Vec::new();
    for (file, _) in modules() {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if name == "tests.rs" || name.ends_with("_tests.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let n = code(&text).lines().count();
        if n > MAX_LINES {
            long.push(format!("{} ({n} lines)", file.display()));
        }
    }
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (tests aside):\n  {}",
        long.join("\n  ")
    );
}
