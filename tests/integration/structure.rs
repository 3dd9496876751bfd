//! The source tree's shape, checked: no module of any crate uses a module that uses it back.
//!
//! A module's uses are its paths through `crate::`, `super::` and its own child modules
//! (`mod x;` then `x::…`), resolved to the longest module prefix. A path to an item a crate
//! root merely re-exports (`pub use`) is not a use of the root: the root is the facade; nor is
//! a parent's `pub use child::Thing`. Grouped paths (`use super::{A, B}`) count as each of
//! their paths. Test modules (from `#[cfg(test)]` on) are left out: a test module uses what
//! it tests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// One crate's modules: path (`a::b`, "" for the root) → its file and the modules it uses,
/// each with the first line that uses it.
type Graph = BTreeMap<String, (PathBuf, BTreeMap<String, usize>)>;

/// The crate roots: every `crates/*/src/lib.rs`, and the binary's `crates/cli/main.rs`.
fn roots() -> Vec<PathBuf> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&crates)
        .unwrap()
        .map(|e| e.unwrap().path().join("src/lib.rs"))
        .filter(|p| p.exists())
        .collect();
    out.push(crates.join("cli/main.rs"));
    out.sort();
    out
}

/// The module path of `file` under the crate root directory `dir`.
fn module_of(dir: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(dir).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts.join("::")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The part of a file that is not tests, with `//` comments blanked and grouped paths
/// (`use super::{A, b::C}`) spelt out one by one, each on the line it starts.
fn code(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let blanked: Vec<&str> = text
        .lines()
        .take_while(|l| l.trim() != "#[cfg(test)]")
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect();
    let mut text = blanked.join("\n");
    let group =
        Regex::new(r"([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^{}]*)\}").unwrap();
    // Innermost groups first: `a::{b::{c, d}, e}` becomes `a::b::c a::b::d a::e`.
    while group.is_match(&text) {
        text = group
            .replace_all(&text, |c: &regex::Captures| {
                let items: Vec<String> = c[2]
                    .split(',')
                    .flat_map(|item| item.split_whitespace())
                    .filter(|i| *i != "as" && !i.starts_with('_'))
                    .filter(|i| i.chars().next().is_some_and(|ch| ch.is_alphabetic()))
                    .map(|i| format!("{}::{i}", &c[1]))
                    .collect();
                let lines = c[0].matches('\n').count();
                format!("{}{}", items.join(" "), "\n".repeat(lines))
            })
            .into_owned();
    }
    text.lines().map(String::from).collect()
}

fn graph(root: &Path) -> Graph {
    let dir = root.parent().unwrap();
    let mut files = Vec::new();
    rust_files(dir, &mut files);
    let modules: BTreeMap<String, PathBuf> = files
        .iter()
        .map(|f| (module_of(dir, f), f.clone()))
        .filter(|(m, f)| m.is_empty() == (f == root))
        .collect();
    let root_items = root_items(root);
    let path_re = Regex::new(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)").unwrap();
    let reexport = Regex::new(r"^\s*pub(?:\([a-z]+\))?\s+use\s").unwrap();
    let mod_re = Regex::new(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?mod\s+([a-z_0-9]+)\s*;").unwrap();
    let mut g = Graph::new();
    for (m, file) in &modules {
        let lines = code(file);
        let children: Vec<String> = lines
            .iter()
            .filter_map(|l| mod_re.captures(l).map(|c| c[1].to_string()))
            .collect();
        let child_re = (!children.is_empty()).then(|| {
            Regex::new(&format!(
                r"(?:^|[^A-Za-z0-9_:])((?:{})(?:::[A-Za-z_][A-Za-z0-9_]*)+)",
                children.join("|")
            ))
            .unwrap()
        });
        let mut uses = BTreeMap::new();
        for (n, line) in lines.iter().enumerate() {
            // A re-export is a facade, not a use: `pub use child::Thing` in a parent.
            if reexport.is_match(line) {
                continue;
            }
            let mut targets = Vec::new();
            for c in path_re.captures_iter(line) {
                let base = match &c[1] {
                    "crate" => String::new(),
                    "super" => parent(m),
                    _ => m.clone(),
                };
                targets.push(join(&base, &c[2][2..]));
            }
            if let Some(re) = &child_re {
                for c in re.captures_iter(line) {
                    targets.push(join(m, &c[1]));
                }
            }
            for t in targets {
                if let Some(t) = resolve(&t, &modules, &root_items) {
                    if t != *m {
                        uses.entry(t).or_insert(n + 1);
                    }
                }
            }
        }
        g.insert(m.clone(), (file.clone(), uses));
    }
    g
}

/// The names a crate root defines itself (not its `pub use` re-exports).
fn root_items(root: &Path) -> BTreeSet<String> {
    let re = Regex::new(
        r"^\s*(?:pub(?:\([a-z]+\))?\s+)?(?:async\s+)?(?:struct|enum|fn|trait|const|static|type)\s+([A-Za-z_][A-Za-z0-9_]*)",
    )
    .unwrap();
    code(root)
        .iter()
        .filter_map(|l| re.captures(l).map(|c| c[1].to_string()))
        .collect()
}

/// The module `super::` names from module `m` (whether its file is `m.rs` or `m/mod.rs`).
fn parent(m: &str) -> String {
    m.rsplit_once("::")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

fn join(base: &str, rest: &str) -> String {
    if base.is_empty() {
        rest.to_string()
    } else {
        format!("{base}::{rest}")
    }
}

/// The longest module prefix of `path`; the root only for an item it defines itself.
fn resolve(
    path: &str,
    modules: &BTreeMap<String, PathBuf>,
    root_items: &BTreeSet<String>,
) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    for n in (1..=parts.len()).rev() {
        let prefix = parts[..n].join("::");
        if modules.contains_key(&prefix) {
            return Some(prefix);
        }
    }
    root_items.contains(parts[0]).then(String::new)
}

/// The strongly connected groups of more than one module (Tarjan's algorithm).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct State<'g> {
        g: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'g>(s: &mut State<'g>, v: &'g str) {
        let i = s.index.len();
        s.index.insert(v, i);
        s.low.insert(v, i);
        s.stack.push(v);
        s.on_stack.insert(v);
        for w in s.g[v].1.keys() {
            let w = w.as_str();
            if !s.g.contains_key(w) {
                continue;
            }
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.out.push(group);
            }
        }
    }
    let mut s = State {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// Each cycle's uses, `file:line a -> b`, for the failure message.
fn describe(g: &Graph, group: &[String]) -> String {
    let mut out = String::new();
    for m in group {
        let (file, uses) = &g[m];
        for (t, line) in uses.iter().filter(|(t, _)| group.contains(t)) {
            let shown = if t.is_empty() { "(root)" } else { t };
            out.push_str(&format!("    {}:{line} {m} -> {shown}\n", file.display()));
        }
    }
    out
}

#[test]
fn no_module_uses_a_module_that_uses_it_back() {
    let mut found = String::new();
    let mut modules = 0;
    for root in roots() {
        let g = graph(&root);
        modules += g.len();
        for group in cycles(&g) {
            found.push_str(&format!(
                "{}: {}\n{}",
                root.display(),
                group.join(" <-> "),
                describe(&g, &group)
            ));
        }
    }
    assert!(modules > 100, "read only {modules} modules");
    assert!(found.is_empty(), "module cycles:\n{found}");
}

/// The checker itself finds a two-module cycle, through `super::` and a child module.
#[test]
fn the_checker_sees_a_cycle_through_super_and_a_child() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "pub mod a;\npub use a::Thing;\n").unwrap();
    std::fs::write(
        src.join("a.rs"),
        "mod b;\npub struct Thing;\nfn f() { b::g(); }\n",
    )
    .unwrap();
    std::fs::write(src.join("a/b.rs"), "use super::Thing;\npub fn g() {}\n").unwrap();
    let g = graph(&src.join("lib.rs"));
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "a::b".to_string()]]);
    std::fs::write(src.join("a/b.rs"), "use crate::Thing;\npub fn g() {}\n").unwrap();
    assert!(
        cycles(&graph(&src.join("lib.rs"))).is_empty(),
        "a re-export"
    );
    // A grouped path, over lines, is a use of each of its paths.
    std::fs::write(
        src.join("a/b.rs"),
        "use super::{\n    Other,\n    Thing,\n};\npub fn g() {}\n",
    )
    .unwrap();
    let g = graph(&src.join("lib.rs"));
    assert_eq!(cycles(&g), vec![vec!["a".to_string(), "a::b".to_string()]]);
    assert_eq!(g["a::b"].1.get("a"), Some(&1), "from the line it starts");
    // A parent re-exporting its child's items does not use the child.
    std::fs::write(
        src.join("a.rs"),
        "mod b;\npub use b::{g};\npub struct Thing;\n",
    )
    .unwrap();
    assert!(cycles(&graph(&src.join("lib.rs"))).is_empty());
}
