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

// A crate root looks for modules beside it; the scanner lives in a folder
// of its own so cargo does not take it for a test target.
#[path = "architecture/scan.rs"]
mod scan;

use scan::{crate_paths, reexports, strip};

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
fn cycles_are_found_and_traced() {
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
