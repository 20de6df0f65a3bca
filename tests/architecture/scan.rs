//! Reading import paths out of Rust source text: comments and literals
//! blanked, then a token scan for `crate::`, climbing `super::` chains and
//! `use` groups. Enough of Rust's grammar for imports, and no more.

use std::collections::{BTreeMap, BTreeSet};

/// lib.rs's `pub use module::{Name, ...}`: Name -> module, so `crate::Name`
/// counts as an import of the module that defines it.
pub(crate) fn reexports(lib: &str, modules: &BTreeSet<String>) -> BTreeMap<String, String> {
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
pub(crate) fn crate_paths(code: &str, depth: usize) -> Vec<(usize, String)> {
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
pub(crate) fn strip(code: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_import_forms_it_claims_to() {
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
    }
}
