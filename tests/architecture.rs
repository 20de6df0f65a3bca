//! The layering of src/, checked from the source text: no import cycle among
//! the top-level modules, and no actix below the actor layer. A cycle makes
//! every module in it depend on every other, so none can be read, tested or
//! replaced alone; this test names the modules and the lines that close it.
//!
//! Each file or folder directly under src/ is one module (`metrics.rs` and
//! `metrics/` are the same one). An import is any path through `crate::`,
//! through `super::` that climbs out of the module, or through a name lib.rs
//! re-exports — in `use` lines and inline paths alike, braces nested or not.
//! Comments and string literals are ignored.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module using another: where, for the failure message.
#[derive(Clone, Debug)]
struct Edge {
    to: String,
    file: PathBuf,
    line: usize,
}

#[test]
fn top_level_modules_of_src_form_no_import_cycle() {
    let graph = module_graph(&src());
    let cycles = strongly_connected(&graph);
    assert!(
        !graph.is_empty() && graph.contains_key("protocol") && graph.contains_key("broker"),
        "the scan found no modules in src/ (found {:?})",
        graph.keys().collect::<Vec<_>>()
    );
    if cycles.is_empty() {
        return;
    }
    let mut report = String::new();
    for members in &cycles {
        report.push_str(&format!(
            "\ncycle among {{{}}}:\n",
            members.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
        for edge in cycle_through(&graph, members) {
            report.push_str(&format!("  {edge}\n"));
        }
    }
    panic!("import cycles among the top-level modules of src/:{report}");
}

#[test]
fn protocol_and_model_know_nothing_of_actix() {
    let mut found = Vec::new();
    for module in ["protocol", "model"] {
        let dir = src().join(module);
        assert!(dir.is_dir(), "src/{module}/ is missing");
        for file in rust_files(&dir) {
            let code = strip(&read(&file));
            for (i, line) in code.lines().enumerate() {
                let words = line.split(|c: char| !(c.is_alphanumeric() || c == '_'));
                if words
                    .into_iter()
                    .any(|w| w == "actix" || w.starts_with("actix_"))
                {
                    let shown = file
                        .strip_prefix(src())
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    found.push(format!("src/{shown}:{}: {}", i + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "protocol and model sit below the actors and must not use actix:\n{}",
        found.join("\n")
    );
}

/// The crate's src/ directory.
fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Every .rs file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("list {}: {e}", d.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Module name -> the modules it imports (with one example site each).
fn module_graph(src: &Path) -> BTreeMap<String, Vec<Edge>> {
    let mut files: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for entry in std::fs::read_dir(src).expect("list src/") {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("utf-8 file name")
            .to_string();
        if path.is_dir() {
            files.entry(name).or_default().extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            files.entry(name).or_default().push(path);
        }
    }
    let modules: BTreeSet<String> = files.keys().cloned().collect();
    let reexports = reexports(&read(&src.join("lib.rs")), &modules);
    let mut graph = BTreeMap::new();
    for (module, paths) in &files {
        let mut edges: BTreeMap<String, Edge> = BTreeMap::new();
        for file in paths {
            let depth = file_depth(src, file);
            for (line, target) in crate_paths(&strip(&read(file)), depth) {
                let to = reexports.get(&target).unwrap_or(&target);
                if modules.contains(to) && to != module && !edges.contains_key(to) {
                    edges.insert(
                        to.clone(),
                        Edge {
                            to: to.clone(),
                            file: file.strip_prefix(src).unwrap_or(file).to_path_buf(),
                            line,
                        },
                    );
                }
            }
        }
        graph.insert(module.clone(), edges.into_values().collect());
    }
    graph
}

/// How many modules deep a file's own module is: src/x.rs and src/x/mod.rs
/// are 1, src/x/y.rs is 2.
fn file_depth(src: &Path, file: &Path) -> usize {
    let parts = file
        .strip_prefix(src)
        .expect("file under src/")
        .components()
        .count();
    if file.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

/// lib.rs's `pub use module::{Name, ...}`: Name -> module, so `crate::Name`
/// counts as an import of the module that defines it.
fn reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let tokens = tokens(&strip(lib));
    for (i, t) in tokens.iter().enumerate() {
        if t.text != "use" {
            continue;
        }
        let Some(module) = tokens.get(i + 1).map(|t| t.text.as_str()) else {
            continue;
        };
        if !modules.contains(module) {
            continue;
        }
        for t in tokens[i + 2..].iter().take_while(|t| t.text != ";") {
            if is_ident(&t.text) {
                out.insert(t.text.clone(), module.to_string());
            }
        }
    }
    out
}

/// A word or a punctuation mark of the code, with its line.
struct Token {
    text: String,
    line: usize,
}

fn is_ident(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// Splits code (already stripped of comments and literals) into identifiers,
/// `::`, and single punctuation characters.
fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c.is_alphanumeric() || c == '_' {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token {
                    text: chars[start..i].iter().collect(),
                    line: n + 1,
                });
                continue;
            }
            if c == ':' && chars.get(i + 1) == Some(&':') {
                out.push(Token {
                    text: "::".into(),
                    line: n + 1,
                });
                i += 2;
                continue;
            }
            if !c.is_whitespace() {
                out.push(Token {
                    text: c.to_string(),
                    line: n + 1,
                });
            }
            i += 1;
        }
    }
    out
}

/// Every crate-root name a file reaches: (line, name). `depth` is the file's
/// module depth; inline `mod x { ... }` blocks add one while open.
fn crate_paths(code: &str, depth: usize) -> Vec<(usize, String)> {
    let tokens = tokens(code);
    let mut out = Vec::new();
    // Brace depths at which inline modules opened.
    let mut inline: Vec<usize> = Vec::new();
    let mut braces = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let t = &tokens[i];
        match t.text.as_str() {
            "{" => braces += 1,
            "}" => {
                braces = braces.saturating_sub(1);
                if inline.last() == Some(&braces) {
                    inline.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t.text == "{") => inline.push(braces),
            _ => {}
        }
        let at_root = if t.text == "crate" && !preceded_by_dollar(&tokens, i) {
            Some(i + 1)
        } else if t.text == "super" && (i == 0 || tokens[i - 1].text != "::") {
            // Climb: each `super` leaves one module; out of ours means the root.
            let mut j = i;
            let mut climbs = 0;
            while tokens.get(j).is_some_and(|t| t.text == "super")
                && tokens.get(j + 1).is_some_and(|t| t.text == "::")
            {
                climbs += 1;
                j += 2;
            }
            (climbs > 0 && climbs >= depth + inline.len()).then_some(j - 1)
        } else {
            None
        };
        if let Some(sep) = at_root {
            if tokens.get(sep).is_some_and(|t| t.text == "::") {
                out.extend(first_segments(&tokens, sep + 1));
            }
        }
        i += 1;
    }
    out
}

fn preceded_by_dollar(tokens: &[Token], i: usize) -> bool {
    i > 0 && tokens[i - 1].text == "$"
}

/// The first segment of the path at `at`, or of each path in the `{...}`
/// group there (nested groups belong to those first segments).
fn first_segments(tokens: &[Token], at: usize) -> Vec<(usize, String)> {
    let Some(t) = tokens.get(at) else {
        return Vec::new();
    };
    if t.text != "{" {
        return if is_ident(&t.text) {
            vec![(t.line, t.text.clone())]
        } else {
            Vec::new()
        };
    }
    let mut out = Vec::new();
    let mut level = 0;
    let mut expect_first = true;
    for t in &tokens[at..] {
        match t.text.as_str() {
            "{" => {
                level += 1;
                if level == 1 {
                    expect_first = true;
                }
            }
            "}" => {
                level -= 1;
                if level == 0 {
                    break;
                }
            }
            "," if level == 1 => expect_first = true,
            s if level == 1 && expect_first => {
                if is_ident(s) {
                    out.push((t.line, s.to_string()));
                }
                expect_first = false;
            }
            _ => {}
        }
    }
    out
}

/// `code` with comments, string and char literals blanked (line breaks
/// kept, so line numbers still match the file).
fn strip(code: &str) -> String {
    let c: Vec<char> = code.chars().collect();
    let mut out = String::with_capacity(code.len());
    let mut i = 0;
    let keep_lines = |s: &[char], out: &mut String| {
        for ch in s {
            out.push(if *ch == '\n' { '\n' } else { ' ' });
        }
    };
    while i < c.len() {
        let start = i;
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut nest = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    nest += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (c.get(i + 1) == Some(&'"') || c.get(i + 1) == Some(&'#'))
            && (i == 0 || !(c[i - 1].is_alphanumeric() || c[i - 1] == '_'))
        {
            // Raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= c.len() {
                    break;
                }
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j;
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c[i] == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let close = if c.get(i + 1) == Some(&'\\') {
                (i + 3..c.len().min(i + 12)).find(|&j| c[j] == '\'')
            } else {
                (c.get(i + 2) == Some(&'\'')).then_some(i + 2)
            };
            match close {
                Some(j) => i = j + 1,
                None => {
                    out.push(c[i]);
                    i += 1;
                    continue;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
            continue;
        }
        keep_lines(&c[start..i.min(c.len())], &mut out);
    }
    out
}

/// Tarjan's algorithm: the strongly connected components with more than one
/// module (a module importing itself is not an edge here).
fn strongly_connected(graph: &BTreeMap<String, Vec<Edge>>) -> Vec<BTreeSet<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, Vec<Edge>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        next: usize,
        out: Vec<BTreeSet<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        let graph = s.graph;
        for e in graph.get(v).into_iter().flatten() {
            let w = e.to.as_str();
            if !s.index.contains_key(w) {
                visit(s, w);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = BTreeSet::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.insert(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

/// One cycle inside `members`, as its edges with their import sites: a
/// shortest path from the first member back to itself.
fn cycle_through(graph: &BTreeMap<String, Vec<Edge>>, members: &BTreeSet<String>) -> Vec<String> {
    let start = members.iter().next().expect("non-empty component");
    // Breadth-first from `start`, remembering the edge that reached each module.
    let mut came: BTreeMap<&str, (&str, &Edge)> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.as_str()]);
    while let Some(v) = queue.pop_front() {
        for e in graph.get(v).into_iter().flatten() {
            if !members.contains(&e.to) || came.contains_key(e.to.as_str()) {
                continue;
            }
            came.insert(&e.to, (v, e));
            if e.to == *start {
                queue.clear();
                break;
            }
            queue.push_back(&e.to);
        }
    }
    let mut path = Vec::new();
    let mut at = start.as_str();
    while let Some((from, e)) = came.get(at) {
        path.push(format!(
            "{from} -> {} ({}:{})",
            e.to,
            e.file.display(),
            e.line
        ));
        at = from;
        if at == start {
            break;
        }
    }
    path.reverse();
    path
}

#[test]
fn the_scanner_reads_the_import_forms_it_claims_to() {
    let code = strip(
        "use crate::{a::X, b::{c, d}, e};\n\
         // use crate::commented;\n\
         let s = \"crate::in_string\";\n\
         fn f() { crate::g::h(); super::sib::x(); }\n\
         mod tests { use super::*; use super::super::up::Y; }\n\
         macro_rules! m { () => { $crate::macro_path } }\n\
         let q = '\\''; let d = '\"'; let r = r#\"crate::raw\"#; crate::after::x();\n",
    );
    let names: Vec<String> = crate_paths(&code, 1).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["a", "b", "e", "g", "sib", "up", "after"]);
    // From a file one level deeper, one `super` stays inside the module.
    let names: Vec<String> = crate_paths(&strip("use super::sib; use super::super::top;"), 2)
        .into_iter()
        .map(|(_, n)| n)
        .collect();
    assert_eq!(names, ["top"]);

    let mut g: BTreeMap<String, Vec<Edge>> = BTreeMap::new();
    let edge = |to: &str| Edge {
        to: to.into(),
        file: "x.rs".into(),
        line: 1,
    };
    g.insert("protocol".into(), vec![edge("broker")]);
    g.insert("broker".into(), vec![edge("router")]);
    g.insert("router".into(), vec![edge("protocol")]);
    g.insert("model".into(), vec![edge("protocol")]);
    let cycles = strongly_connected(&g);
    assert_eq!(cycles.len(), 1);
    assert_eq!(
        cycles[0].iter().cloned().collect::<Vec<_>>(),
        ["broker", "protocol", "router"]
    );
    assert_eq!(cycle_through(&g, &cycles[0]).len(), 3);
}
