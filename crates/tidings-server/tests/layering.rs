//! The shape of `src/` checked on every test run: imports run one way down the layers of
//! ADR 0014 (docs/adr/0014-one-way-imports.md), and no source file grows past 700 lines.
//!
//! The check reads the source as text. It finds every `crate::<module>` path (in `use`
//! statements, grouped `use crate::{a, b}` forms, inline paths and `$crate::` in macros) and
//! compares the layer of the importing file's top-level module with the layer of the module it
//! names. Comments are skipped. The violations in today's tree are listed below, so the test
//! fails on any new one, and also on an entry that no longer occurs, so the lists only shrink.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers of `tidings-server`, bottom first. A module may import modules on a lower layer
/// and itself, nothing on its own layer or above. Future capabilities are listed so that their
/// place is decided before their first import.
const LAYERS: &[&[&str]] = &[
    // Plumbing shared by every capability; it knows none of them. The dashboard shell renders
    // errors with http's `ApiError`; `events` carries domain events up to their subscribers.
    &["http", "telemetry", "events"],
    // Who is calling and what they may do: roles, the permission matrix, `Auth` and the
    // `Caller` services take. Identity authenticates; every capability checks.
    &["access"],
    &["dashboard"],
    // Services every capability may record to, store secrets in or send mail with.
    &["vault", "audit", "mail"],
    &["identity"],
    &["inbox"],
    &["channels"],
    &["pipeline"],
    &["health"],
    &["automations"],
    &["analytics"],
    &["billing"],
    &["privacy"],
    // The operator's view (health, queues, the status page) observes every capability.
    &["system"],
    &["demo"],
    &["openapi"],
    // The composition root: nothing imports it.
    &["app"],
];

/// Modules outside the layers. `state` holds `AppState`, the one value axum hands to every
/// handler and layer, so every module may name it and it names every service (ADR 0014).
const UNLAYERED: &[&str] = &["state"];

/// Items that `lib.rs` re-exports at the crate root, with the module they come from, so that
/// `crate::Application` counts as an import of `app`.
const ROOT_REEXPORTS: &[(&str, &str)] = &[
    ("AppState", "state"),
    ("Services", "state"),
    ("Application", "app"),
    ("Mode", "app"),
    ("StartError", "app"),
    ("api_document", "app"),
];

/// Imports that break the layers, as (file under `src/`, module it imports). Empty since issue
/// 12; do not add to it: move the code to the layer it belongs to instead (ADR 0014).
const ALLOWED_VIOLATIONS: &[(&str, &str)] = &[];

/// A source file longer than this holds more than one concern; split it by concern.
const MAX_LINES: usize = 700;

/// One `crate::<module>` reference.
#[derive(Debug)]
struct Import {
    file: String,
    line: usize,
    from: String,
    to: String,
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, as paths relative to it with `/` separators, sorted.
fn source_files() -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).expect("under src/");
                let parts: Vec<_> =
                    relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
                out.push(parts.join("/"));
            }
        }
    }
    let root = source_dir();
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    files
}

fn read(file: &str) -> String {
    fs::read_to_string(source_dir().join(file)).expect("a source file is readable")
}

/// The top-level module a file belongs to (`inbox/pages/thread.rs` → `inbox`), or `None` for the
/// crate root.
fn module_of(file: &str) -> Option<String> {
    let first = file.split('/').next().unwrap_or(file);
    let module = first.strip_suffix(".rs").unwrap_or(first);
    (module != "lib").then(|| module.to_owned())
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The source with comments (line, doc and block) replaced by spaces, so that line numbers and
/// offsets stay as they were. String literals are kept as they are: none names a module path.
fn without_comments(source: &str) -> String {
    let bytes = source.as_bytes();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let mut in_string = false;
    while i < bytes.len() {
        let rest = &source[i..];
        if in_string {
            if rest.starts_with("\\\"") || rest.starts_with("\\\\") {
                out.push_str(&rest[..2]);
                i += 2;
                continue;
            }
            in_string = bytes[i] != b'"';
        } else if rest.starts_with("//") {
            let end = rest.find('\n').unwrap_or(rest.len());
            out.extend(std::iter::repeat_n(' ', end));
            i += end;
            continue;
        } else if rest.starts_with("/*") {
            let end = rest.find("*/").map_or(rest.len(), |at| at + 2);
            out.extend(rest[..end].chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
            i += end;
            continue;
        } else if bytes[i] == b'"' && !rest_is_char_literal(source, i) {
            in_string = true;
        }
        let c = rest.chars().next().expect("not at the end");
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Whether the `"` at `at` is the character literal `'"'`.
fn rest_is_char_literal(source: &str, at: usize) -> bool {
    at > 0 && source.as_bytes()[at - 1] == b'\'' && source.as_bytes().get(at + 1) == Some(&b'\'')
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Every module named after `crate::` in one file, with its line.
fn imports_in(file: &str) -> Vec<Import> {
    scan(file, &read(file))
}

/// Every module named after `crate::` in `source`, the text of `file`.
fn scan(file: &str, source: &str) -> Vec<Import> {
    let Some(from) = module_of(file) else { return Vec::new() };
    let source = without_comments(source);
    let bytes = source.as_bytes();
    let line_at = |offset: usize| source[..offset].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut push = |offset: usize, name: &str| {
        let to = ROOT_REEXPORTS.iter().find(|(item, _)| *item == name).map_or(name, |(_, module)| module);
        found.push(Import { file: file.to_owned(), line: line_at(offset), from: from.clone(), to: to.to_owned() });
    };
    let mut search = 0;
    while let Some(at) = source[search..].find("crate::").map(|at| at + search) {
        search = at + "crate::".len();
        if at > 0 && (is_ident_byte(bytes[at - 1])) {
            continue;
        }
        let after = &source[search..];
        let trimmed = after.trim_start();
        let start = search + (after.len() - trimmed.len());
        if let Some(group) = trimmed.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level item.
            let mut depth = 1;
            let mut item_start = true;
            for (offset, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    ',' if depth == 1 => item_start = true,
                    c if item_start && (c.is_ascii_alphabetic() || c == '_') && depth == 1 => {
                        item_start = false;
                        let name: String =
                            group[offset..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        if name != "self" {
                            push(start + 1 + offset, &name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name: String = trimmed.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !name.is_empty() {
                push(start, &name);
            }
        }
    }
    found
}

/// Why an import breaks the layers, or `None` when it does not.
fn broken_rule(import: &Import) -> Option<String> {
    if import.from == import.to || UNLAYERED.contains(&import.from.as_str()) || UNLAYERED.contains(&import.to.as_str())
    {
        return None;
    }
    let from = layer_of(&import.from)?;
    let Some(to) = layer_of(&import.to) else {
        return Some(format!("`{}` is in no layer of tests/layering.rs: give it one", import.to));
    };
    match to.cmp(&from) {
        std::cmp::Ordering::Less => None,
        std::cmp::Ordering::Equal => {
            Some(format!("`{}` and `{}` share a layer and must not import each other", import.from, import.to))
        }
        std::cmp::Ordering::Greater => {
            Some(format!("`{}` is below `{}` and must not import it", import.from, import.to))
        }
    }
}

#[test]
fn every_top_level_module_has_a_layer() {
    let unplaced: BTreeSet<String> = source_files()
        .iter()
        .filter_map(|file| module_of(file))
        .filter(|module| layer_of(module).is_none() && !UNLAYERED.contains(&module.as_str()))
        .collect();
    assert!(unplaced.is_empty(), "modules missing from LAYERS in tests/layering.rs (see ADR 0014): {unplaced:?}");
}

#[test]
fn imports_run_down_the_layers() {
    let mut new = Vec::new();
    let mut seen_allowed = BTreeSet::new();
    for file in source_files() {
        for import in imports_in(&file) {
            let Some(rule) = broken_rule(&import) else { continue };
            if ALLOWED_VIOLATIONS.contains(&(import.file.as_str(), import.to.as_str())) {
                seen_allowed.insert((import.file.clone(), import.to.clone()));
            } else {
                new.push(format!("src/{}:{}: imports crate::{}: {rule}", import.file, import.line, import.to));
            }
        }
    }
    let stale: Vec<String> = ALLOWED_VIOLATIONS
        .iter()
        .filter(|(file, to)| !seen_allowed.contains(&((*file).to_owned(), (*to).to_owned())))
        .map(|(file, to)| format!("src/{file} no longer imports crate::{to}: remove it from ALLOWED_VIOLATIONS"))
        .collect();
    assert!(
        new.is_empty() && stale.is_empty(),
        "imports must run down the layers of docs/adr/0014-one-way-imports.md\n{}",
        new.iter().chain(&stale).cloned().collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn no_source_file_is_above_the_line_limit() {
    let mut problems = Vec::new();
    for file in source_files() {
        let lines = read(&file).lines().count();
        if lines > MAX_LINES {
            problems.push(format!("src/{file} has {lines} lines, more than {MAX_LINES}: split it by concern"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The parser itself, on the forms the tree uses.
#[test]
fn the_scan_finds_every_form_of_crate_path() {
    let source = "use crate::inbox::store;\n\
                  // use crate::demo::seed;\n\
                  /* crate::billing */ use crate::{AppState, audit,\n    channels::{self, store}};\n\
                  let x = crate::identity::store::members();\n\
                  let s = \"//\"; $crate::vault::Vault; crate::Application::new();\n";
    let found: Vec<(usize, String)> = scan("identity/pages.rs", source).into_iter().map(|i| (i.line, i.to)).collect();
    let expected =
        [(1, "inbox"), (3, "state"), (3, "audit"), (4, "channels"), (5, "identity"), (6, "vault"), (6, "app")];
    assert_eq!(found, expected.map(|(line, to)| (line, to.to_owned())));
    let import = Import { file: "inbox/service.rs".into(), line: 1, from: "inbox".into(), to: "system".into() };
    assert!(broken_rule(&import).is_some_and(|rule| rule.contains("`inbox` is below `system`")));
}
