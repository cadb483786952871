//! A small checker for the JSON Schema subset the files in `tests/schemas/` use: `type`,
//! `enum`, `const`, `properties`, `required`, `additionalProperties`, `items`, `allOf`,
//! `$ref` (into `common.json` or the same file), `pattern`, `minimum` and `format: date-time`.
//!
//! The `jsonschema` crate would pull in an HTTP client and dozens of crates for remote
//! references keychain never uses; this subset is all the contract needs. The schema files
//! stay standard JSON Schema (draft 2020-12), so any full validator reads them too. An
//! unknown keyword fails the check, so a schema cannot silently ask for more than is checked.

use std::path::Path;

use serde_json::Value;

const KNOWN: [&str; 16] = [
    "$schema",
    "$id",
    "$defs",
    "description",
    "type",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "allOf",
    "$ref",
    "pattern",
    "minimum",
    "format",
];

pub struct Schemas {
    dir: std::path::PathBuf,
    common: Value,
}

impl Schemas {
    pub fn load() -> Self {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas");
        let common = read(&dir.join("common.json"));
        Schemas { dir, common }
    }

    /// Checks `doc` against `tests/schemas/NAME.json`; panics with every problem found.
    pub fn check(&self, name: &str, doc: &Value) {
        let schema = read(&self.dir.join(format!("{name}.json")));
        let mut problems = Vec::new();
        self.walk(&schema, &schema, doc, "$", &mut problems);
        assert!(
            problems.is_empty(),
            "{name}: {}\n{}",
            problems.join("\n"),
            serde_json::to_string_pretty(doc).unwrap()
        );
    }

    fn resolve<'a>(&'a self, file: &'a Value, reference: &str) -> (&'a Value, &'a Value) {
        let (doc, pointer) = match reference.split_once('#') {
            Some(("common.json", p)) => (&self.common, p),
            Some(("", p)) => (file, p),
            _ => panic!("unsupported $ref {reference}"),
        };
        let target = doc
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no {reference}"));
        (doc, target)
    }

    fn walk(&self, file: &Value, schema: &Value, v: &Value, at: &str, out: &mut Vec<String>) {
        let s = schema.as_object().expect("a schema is an object");
        for key in s.keys() {
            assert!(
                KNOWN.contains(&key.as_str()),
                "unsupported keyword {key} at {at}"
            );
        }
        if let Some(r) = s.get("$ref").and_then(Value::as_str) {
            let (file, target) = self.resolve(file, r);
            self.walk(file, target, v, at, out);
        }
        for sub in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.walk(file, sub, v, at, out);
        }
        if let Some(t) = s.get("type") {
            let types: Vec<&str> = match t {
                Value::String(t) => vec![t.as_str()],
                Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                _ => panic!("bad type at {at}"),
            };
            if !types.iter().any(|t| is_type(v, t)) {
                out.push(format!("{at}: {v} is not {types:?}"));
                return;
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array)
            && !options.contains(v)
        {
            out.push(format!("{at}: {v} is not one of {options:?}"));
        }
        if let Some(c) = s.get("const")
            && c != v
        {
            out.push(format!("{at}: {v} is not {c}"));
        }
        if let (Some(min), Some(n)) = (s.get("minimum").and_then(Value::as_f64), v.as_f64())
            && n < min
        {
            out.push(format!("{at}: {n} < {min}"));
        }
        if let (Some(p), Some(text)) = (s.get("pattern").and_then(Value::as_str), v.as_str())
            && !regex::Regex::new(p).unwrap().is_match(text)
        {
            out.push(format!("{at}: {text:?} does not match {p}"));
        }
        if s.get("format").and_then(Value::as_str) == Some("date-time")
            && let Some(text) = v.as_str()
            && (humantime::parse_rfc3339_weak(text).is_err() || !text.ends_with('Z'))
        {
            out.push(format!("{at}: {text:?} is not an RFC 3339 UTC time"));
        }
        if let Some(obj) = v.as_object() {
            for key in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = key.as_str().unwrap();
                if !obj.contains_key(key) {
                    out.push(format!("{at}: missing {key}"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            for (key, value) in obj {
                let path = format!("{at}.{key}");
                match props.and_then(|p| p.get(key)) {
                    Some(sub) => self.walk(file, sub, value, &path, out),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => out.push(format!("{path}: not in the schema")),
                        Some(sub @ Value::Object(_)) => self.walk(file, sub, value, &path, out),
                        _ => {}
                    },
                }
            }
        }
        if let (Some(items), Some(array)) = (s.get("items"), v.as_array()) {
            for (i, item) in array.iter().enumerate() {
                self.walk(file, items, item, &format!("{at}[{i}]"), out);
            }
        }
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown type {other}"),
    }
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
