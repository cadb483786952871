//! Which top-level module may import which (issue 21): no import circle among keychain-core's
//! top-level modules, and none in the CLI beyond clap's self-description.
//!
//! The graph is read from the source on disk, not from `cargo modules`: the files reachable from
//! `lib.rs` through `mod` declarations, without comments, string literals and `#[cfg(test)]` items
//! (test modules may reach anywhere). An arrow `a -> b` is a path `crate::b` (or a `use crate::{b,
//! ..}` group, or `super::` climbing to the crate root) in a file of module `a`. Each arrow keeps
//! the file and line it comes from, so a failure says where to look.
//!
//! `scripts/import-graph [REV]` prints the whole graph, its circles and the arrows pointing back up
//! (for a closing note's before/after); it compiles this file on its own with `rustc --test`, so the
//! file uses the standard library only and no helper of `support`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Arrows a circle may use, as `"crate: from -> to"` with the reason it must stay. Empty since
/// issue 21's merge: keychain-core has no import circle at all. The check drops these arrows
/// and then requires no circle; an arrow here that no longer exists fails, so the list never
/// holds an excuse for a circle that is gone.
const ALLOWED: &[(&str, &str)] = &[];

/// One allowed arrow: crate, from, to.
fn allowed(arrow: &str) -> (&str, &str, &str) {
    let (krate, rest) = arrow.split_once(": ").expect("\"crate: from -> to\"");
    let (from, to) = rest.split_once(" -> ").expect("\"crate: from -> to\"");
    (krate, from, to)
}

/// The crates this check reads: a name for messages and the allow-list, and its `src` folder.
const CRATES: &[(&str, &str)] = &[("core", "keychain-core/src"), ("cli", "src")];

/// The CLI's one tolerated circle: clap's self-description (the man pages and completions are
/// generated from the command tree, and the dispatcher runs the commands that print them).
const CLI_CIRCLE: &[&str] = &["cli", "cmd", "complete", "manpage"];

#[test]
fn no_import_circle_among_top_level_modules() {
    let mut failures = String::new();
    for &(krate, src) in CRATES {
        let graph = Graph::read(&repo_root().join(src));
        let mut kept = graph.clone();
        for &(arrow, why) in ALLOWED {
            let (k, from, to) = allowed(arrow);
            if k == krate && kept.remove(from, to).is_none() {
                let _ = writeln!(
                    failures,
                    "allowed arrow {arrow} ({why}) is gone; remove its line from ALLOWED"
                );
            }
        }
        for circle in kept.circles() {
            if krate == "cli" && circle.iter().all(|m| CLI_CIRCLE.contains(&m.as_str())) {
                continue;
            }
            failures.push_str(&kept.describe_circle(krate, &circle));
        }
    }
    assert!(
        failures.is_empty(),
        "import circles among top-level modules (issue 21); break them, or add an arrow to ALLOWED in \
         tests/it/architecture.rs with the reason it must stay:\n{failures}"
    );
}

/// `scripts/import-graph` runs this one: the graph, its circles and its arrows pointing back up.
#[test]
#[ignore = "prints the import graph; run by scripts/import-graph"]
fn print_import_graph() {
    for &(krate, src) in CRATES {
        let graph = Graph::read(&repo_root().join(src));
        println!("{}", graph.report(krate));
        for &(arrow, why) in ALLOWED {
            let (k, from, to) = allowed(arrow);
            if k == krate {
                let state = if graph.out(from).any(|t| t == to) {
                    "still there"
                } else {
                    "gone"
                };
                println!("allowed {arrow}: {state} ({why})");
            }
        }
    }
}

fn repo_root() -> PathBuf {
    // Under cargo the tests run in the package folder; scripts/import-graph runs the standalone
    // build from the tree it reads.
    std::env::var_os("KEYCHAIN_IMPORT_GRAPH_ROOT")
        .map(PathBuf::from)
        .or_else(|| option_env!("CARGO_MANIFEST_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Top-level modules and the arrows between them, each arrow with where it was seen.
#[derive(Clone, Default)]
struct Graph {
    modules: BTreeSet<String>,
    arrows: BTreeMap<String, BTreeMap<String, Vec<String>>>,
}

impl Graph {
    /// Reads the crate whose root (`lib.rs`) is in `src`.
    fn read(src: &Path) -> Graph {
        let lib = src.join("lib.rs");
        let root_code = code_of(&lib);
        let mut graph = Graph::default();
        let mut files = Vec::new();
        for name in mod_decls(&root_code) {
            graph.modules.insert(name.clone());
            let file = child_file(src, &name)
                .unwrap_or_else(|| panic!("no file for `mod {name};` in {}", lib.display()));
            files.push((name.clone(), vec![name], file));
        }
        while let Some((top, path, file)) = files.pop() {
            let code = code_of(&file);
            let is_mod_rs = file.file_name().is_some_and(|f| f == "mod.rs");
            let dir = if is_mod_rs {
                file.parent().unwrap().to_path_buf()
            } else {
                file.with_extension("")
            };
            for name in mod_decls(&code) {
                let child = child_file(&dir, &name).unwrap_or_else(|| {
                    panic!(
                        "no file for `mod {name};` in {} (a #[path] outside tests is not read)",
                        file.display()
                    )
                });
                let mut child_path = path.clone();
                child_path.push(name);
                files.push((top.clone(), child_path, child));
            }
            let shown = file.strip_prefix(src.parent().unwrap()).unwrap_or(&file);
            for (target, line) in targets(&code, path.len()) {
                if target != top {
                    graph
                        .arrows
                        .entry(top.clone())
                        .or_default()
                        .entry(target)
                        .or_default()
                        .push(format!("{}:{line}", shown.display()));
                }
            }
        }
        // Only arrows to the crate's own modules count (the CLI's `crate::store` is a re-export
        // of keychain-core; `crate::SomeItem` is no module).
        let modules = graph.modules.clone();
        for to in graph.arrows.values_mut() {
            to.retain(|t, _| modules.contains(t));
        }
        graph
    }

    fn remove(&mut self, from: &str, to: &str) -> Option<Vec<String>> {
        self.arrows.get_mut(from)?.remove(to)
    }

    fn out(&self, from: &str) -> impl Iterator<Item = &String> {
        self.arrows.get(from).into_iter().flat_map(|m| m.keys())
    }

    /// The strongly connected components with more than one module (Tarjan).
    fn circles(&self) -> Vec<Vec<String>> {
        struct State<'g> {
            graph: &'g Graph,
            index: BTreeMap<&'g str, usize>,
            low: BTreeMap<&'g str, usize>,
            stack: Vec<&'g str>,
            circles: Vec<Vec<String>>,
        }
        fn visit<'g>(s: &mut State<'g>, v: &'g str) {
            let i = s.index.len();
            s.index.insert(v, i);
            s.low.insert(v, i);
            s.stack.push(v);
            for w in s.graph.out(v) {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let lw = s.low[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(lw);
                } else if s.stack.contains(&w) {
                    let iw = s.index[w];
                    let lv = s.low.get_mut(v).unwrap();
                    *lv = (*lv).min(iw);
                }
            }
            if s.low[v] == s.index[v] {
                let mut comp = Vec::new();
                loop {
                    let w = s.stack.pop().unwrap();
                    comp.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if comp.len() > 1 {
                    comp.sort();
                    s.circles.push(comp);
                }
            }
        }
        let mut s = State {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            circles: Vec::new(),
        };
        for m in &self.modules {
            if !s.index.contains_key(m.as_str()) {
                visit(&mut s, m);
            }
        }
        s.circles.sort();
        s.circles
    }

    /// The arrows of one circle, and the few that point back up: the circle's modules ordered
    /// from top to bottom (Eades, Lin and Smyth's greedy order), an arrow from a lower module to
    /// a higher one is a back arrow; removing all of them breaks the circle.
    fn back_arrows(&self, circle: &[String]) -> Vec<(String, String)> {
        let inside = |m: &String| circle.contains(m);
        let mut left: BTreeSet<&String> = circle.iter().collect();
        let (mut top, mut bottom) = (Vec::new(), Vec::new());
        let degree = |m: &String, left: &BTreeSet<&String>, out: bool| {
            circle
                .iter()
                .filter(|o| left.contains(o))
                .filter(|o| {
                    let (a, b) = if out { (m, *o) } else { (*o, m) };
                    self.out(a).any(|t| t == b)
                })
                .count()
        };
        while !left.is_empty() {
            if let Some(&sink) = left.iter().find(|m| degree(m, &left, true) == 0) {
                left.remove(sink);
                bottom.push(sink.clone());
            } else if let Some(&source) = left.iter().find(|m| degree(m, &left, false) == 0) {
                left.remove(source);
                top.push(source.clone());
            } else {
                let &best = left
                    .iter()
                    .max_by_key(|m| {
                        degree(m, &left, true) as isize - degree(m, &left, false) as isize
                    })
                    .unwrap();
                left.remove(best);
                top.push(best.clone());
            }
        }
        bottom.reverse();
        top.extend(bottom);
        let rank = |m: &String| top.iter().position(|t| t == m).unwrap();
        let mut back = Vec::new();
        for a in circle {
            for b in self.out(a).filter(|b| inside(b)) {
                if rank(b) < rank(a) {
                    back.push((a.clone(), b.clone()));
                }
            }
        }
        back
    }

    fn describe_circle(&self, krate: &str, circle: &[String]) -> String {
        let mut text = format!(
            "{krate}: circle of {}: {}\n",
            circle.len(),
            circle.join(" ")
        );
        for a in circle {
            let inside: Vec<_> = self
                .out(a)
                .filter(|b| circle.contains(b))
                .cloned()
                .collect();
            let _ = writeln!(text, "  {a} -> {}", inside.join(" "));
        }
        text.push_str("  arrows pointing back up (one way to break it):\n");
        for (a, b) in self.back_arrows(circle) {
            let seen = &self.arrows[&a][&b];
            let more = if seen.len() > 1 {
                format!(" (+{} more)", seen.len() - 1)
            } else {
                String::new()
            };
            let _ = writeln!(text, "    {a} -> {b}   at {}{more}", seen[0]);
        }
        text
    }

    fn report(&self, krate: &str) -> String {
        let mut text = format!("== {krate}: {} top-level modules\n", self.modules.len());
        let arrows: usize = self.arrows.values().map(|m| m.len()).sum();
        let _ = writeln!(text, "{arrows} arrows:");
        for m in &self.modules {
            let to: Vec<_> = self.out(m).cloned().collect();
            if !to.is_empty() {
                let _ = writeln!(text, "  {m} -> {}", to.join(" "));
            }
        }
        let circles = self.circles();
        let _ = writeln!(text, "{} circle(s)", circles.len());
        for circle in circles {
            text.push_str(&self.describe_circle(krate, &circle));
            for (a, b) in self.back_arrows(&circle) {
                for at in &self.arrows[&a][&b] {
                    let _ = writeln!(text, "      {a} -> {b} at {at}");
                }
            }
        }
        text
    }
}

/// `name.rs` or `name/mod.rs` in `dir`.
fn child_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [
        dir.join(format!("{name}.rs")),
        dir.join(name).join("mod.rs"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// A file's code: comments and literals blanked, `#[cfg(test)]` items removed, as tokens.
fn code_of(file: &Path) -> Vec<Token> {
    let text = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    drop_test_items(tokens(&blank_comments_and_literals(&text)))
}

/// One token: an identifier, `::`, or a single other character, with its line.
#[derive(Clone, Debug, PartialEq)]
struct Token {
    text: String,
    line: usize,
}

impl Token {
    fn is(&self, s: &str) -> bool {
        self.text == s
    }
    fn is_ident(&self) -> bool {
        self.text
            .starts_with(|c: char| c.is_alphabetic() || c == '_')
    }
}

/// The same text with comments (doc comments too), string, raw string and character literals
/// replaced by spaces; line breaks stay, so lines still count.
fn blank_comments_and_literals(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, ch: char| out.push(if ch == '\n' { '\n' } else { ' ' });
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        let prev_ident = i > 0 && ident(c[i - 1]);
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
        } else if c[i] == 'r'
            && (!prev_ident || (i > 0 && c[i - 1] == 'b' && !(i > 1 && ident(c[i - 2]))))
            && matches!(c.get(i + 1), Some('"') | Some('#'))
            && {
                let mut j = i + 1;
                while c.get(j) == Some(&'#') {
                    j += 1;
                }
                c.get(j) == Some(&'"')
            }
        {
            // r"..." or r#"..."#
            let mut hashes = 0;
            i += 1;
            out.push(' ');
            while c[i] == '#' {
                hashes += 1;
                i += 1;
                out.push(' ');
            }
            i += 1;
            out.push(' ');
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '"' && (1..=hashes).all(|k| c.get(i + k) == Some(&'#')) {
                    for _ in 0..=hashes {
                        out.push(' ');
                    }
                    i += hashes + 1;
                    break;
                }
                blank(&mut out, c[i]);
                i += 1;
            }
        } else if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    blank(&mut out, c[i]);
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c[i] == '\'' && !prev_ident {
            // A character literal ('x', '\n', '\u{..}') or a lifetime ('a): only the first is
            // blanked.
            let end = if c.get(i + 1) == Some(&'\\') {
                (i + 2..c.len()).find(|&j| c[j] == '\'')
            } else if c.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    for &ch in &c[i..=end] {
                        blank(&mut out, ch);
                    }
                    i = end + 1;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn tokens(code: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut line = 1;
    let c: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Token {
                text: c[start..i].iter().collect(),
                line,
            });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            out.push(Token {
                text: ch.to_string(),
                line,
            });
            i += 1;
        }
    }
    out
}

/// The index just past the bracket that closes the one at `open`.
fn close_of(t: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    for (j, tok) in t.iter().enumerate().skip(open) {
        match tok.text.as_str() {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
    }
    t.len()
}

/// Whether an attribute's tokens (between `#[` and `]`) compile the item for tests only:
/// `cfg(test)`, or `cfg(all(.., test, ..))`.
fn test_only(attr: &[Token]) -> bool {
    let texts: Vec<&str> = attr.iter().map(|t| t.text.as_str()).collect();
    matches!(texts.as_slice(), ["cfg", "(", "test", ")"])
        || (texts.starts_with(&["cfg", "(", "all", "("]) && texts.contains(&"test"))
}

/// Removes each item under a test-only attribute: its attributes, then up to its `;` or the end of
/// its `{ .. }` block.
fn drop_test_items(t: Vec<Token>) -> Vec<Token> {
    let mut out = Vec::with_capacity(t.len());
    let mut i = 0;
    while i < t.len() {
        if t[i].is("#") && t.get(i + 1).is_some_and(|n| n.is("[")) {
            let end = close_of(&t, i + 1);
            if test_only(&t[i + 2..end - 1]) {
                let mut j = end;
                // further attributes of the same item
                while j < t.len() && t[j].is("#") && t.get(j + 1).is_some_and(|n| n.is("[")) {
                    j = close_of(&t, j + 1);
                }
                while j < t.len() {
                    match t[j].text.as_str() {
                        ";" => {
                            j += 1;
                            break;
                        }
                        "{" => {
                            j = close_of(&t, j);
                            break;
                        }
                        "(" | "[" => j = close_of(&t, j),
                        _ => j += 1,
                    }
                }
                i = j;
                continue;
            }
        }
        out.push(t[i].clone());
        i += 1;
    }
    out
}

/// `mod name;` declarations (with any visibility) in a file's code.
fn mod_decls(t: &[Token]) -> Vec<String> {
    t.windows(3)
        .filter(|w| w[0].is("mod") && w[1].is_ident() && w[2].is(";"))
        .map(|w| w[1].text.clone())
        .collect()
}

/// The crate-root names a file's paths start from, with their lines: `crate::x`, each first name
/// of `crate::{x, y::z}`, and `super::..::x` where the supers climb to the crate root from a
/// file `depth` modules deep.
fn targets(t: &[Token], depth: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let at_root = if t[i].is("crate") && t.get(i + 1).is_some_and(|n| n.is("::")) {
            Some(i + 2)
        } else if t[i].is("super")
            && t.get(i + 1).is_some_and(|n| n.is("::"))
            && !(i > 0 && t[i - 1].is("::"))
        {
            let mut j = i;
            let mut supers = 0;
            while t.get(j).is_some_and(|n| n.is("super"))
                && t.get(j + 1).is_some_and(|n| n.is("::"))
            {
                supers += 1;
                j += 2;
            }
            (supers >= depth).then_some(j)
        } else {
            None
        };
        let Some(j) = at_root else {
            i += 1;
            continue;
        };
        match t.get(j) {
            Some(name) if name.is_ident() => out.push((name.text.clone(), name.line)),
            Some(open) if open.is("{") => {
                let end = close_of(t, j);
                let mut depth_in = 0;
                for k in j..end {
                    match t[k].text.as_str() {
                        "{" => depth_in += 1,
                        "}" => depth_in -= 1,
                        _ => {}
                    }
                    if depth_in == 1
                        && t[k].is_ident()
                        && (t[k - 1].is("{") || t[k - 1].is(","))
                        && !t[k].is("self")
                    {
                        out.push((t[k].text.clone(), t[k].line));
                    }
                }
            }
            _ => {}
        }
        i = j;
    }
    out
}

#[test]
fn the_reader_skips_comments_literals_and_test_items() {
    let code = r##"
//! see [crate::doc_link]
/// and [`crate::other`]
use crate::{alpha, beta::{x, y}, gamma::z as w};
fn f() { let s = "crate::in_string"; let r = r#"crate::raw"#; let c = '"'; crate::delta::f(); }
/* crate::block /* nested crate::inner */ */
fn g<'a>(x: &'a str) -> &'a str { super::epsilon::h(x) }
#[cfg(test)]
mod tests { use crate::zeta; }
#[cfg(all(test, unix))]
fn only_in_tests() { crate::eta::f() }
#[cfg(test)]
mod props;
#[cfg(unix)]
fn real() { crate::theta::f() }
"##;
    let t = drop_test_items(tokens(&blank_comments_and_literals(code)));
    let names: Vec<String> = targets(&t, 1).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["alpha", "beta", "gamma", "delta", "epsilon", "theta"]
    );
    assert!(
        mod_decls(&t).is_empty(),
        "a test-only `mod props;` is no module"
    );
    // Two supers from a file one module deep also reach the root; one from two deep does not.
    let t = tokens("use super::super::kappa; use super::lambda;");
    assert_eq!(targets(&t, 2).len(), 1);
}

#[test]
fn circles_and_back_arrows() {
    let mut g = Graph::default();
    for (a, b) in [
        ("top", "mid"),
        ("mid", "low"),
        ("low", "mid"),
        ("top", "low"),
    ] {
        g.modules.insert(a.into());
        g.modules.insert(b.into());
        g.arrows
            .entry(a.into())
            .or_default()
            .insert(b.into(), vec!["f.rs:1".into()]);
    }
    g.modules.insert("alone".into());
    assert_eq!(g.circles(), [vec!["low".to_string(), "mid".to_string()]]);
    assert_eq!(g.back_arrows(&g.circles()[0]).len(), 1);
    g.remove("low", "mid");
    assert!(g.circles().is_empty());
}
