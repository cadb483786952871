//! References to one value of one account, `ACCOUNT/FIELD` or `keychain://ACCOUNT/FIELD`: the
//! one field vocabulary of every way a value leaves keychain (`read`, `inject` templates,
//! `exec --env` and `--env-file`, `login`). Parsing is pure (templates, env files, single
//! references) and imports no module above the records; [`crate::ops::resolve`] obtains the values.
//!
//! What it must never do: quote a value in an error; accept an account name that could leave
//! the accounts folder.

use crate::record::SecretField;

/// The scheme a reference may start with, and must in templates and env files.
pub const SCHEME: &str = "keychain://";

/// One value of an account. The secrets are a kind of their own: never implied by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A valid access token, as `login` gives it (from the cache, by refresh or by a logon).
    AccessToken,
    /// The user name at the provider.
    User,
    /// The OAuth2 client id.
    ClientId,
    /// The provider's REST API base (Exact Online's), where keychain knows it.
    ApiUrl,
    /// The current TOTP code (recorded in the audit log, as `keychain totp` is).
    Totp,
    /// A stored secret, only when named: password, totp-secret, client-secret, refresh-token.
    Secret(SecretField),
}

/// Every field name, in help order.
pub const FIELDS: [&str; 9] = [
    "access-token",
    "user",
    "client-id",
    "api-url",
    "totp",
    "password",
    "totp-secret",
    "client-secret",
    "refresh-token",
];

impl Field {
    /// The field a name stands for; `None` for anything else (the stored access token is
    /// `access-token`: always a valid one, never a stale copy).
    pub fn from_name(name: &str) -> Option<Field> {
        Some(match name {
            "access-token" => Field::AccessToken,
            "user" => Field::User,
            "client-id" => Field::ClientId,
            "api-url" => Field::ApiUrl,
            "totp" => Field::Totp,
            "password" => Field::Secret(SecretField::Password),
            "totp-secret" => Field::Secret(SecretField::TotpSecret),
            "client-secret" => Field::Secret(SecretField::ClientSecret),
            "refresh-token" => Field::Secret(SecretField::RefreshToken),
            _ => return None,
        })
    }

    /// The field's name, as references spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::AccessToken => "access-token",
            Field::User => "user",
            Field::ClientId => "client-id",
            Field::ApiUrl => "api-url",
            Field::Totp => "totp",
            Field::Secret(secret) => secret.as_str(),
        }
    }
}

/// `ACCOUNT/FIELD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The account's name, checked as the store checks names (no `/`, no `..`).
    pub account: String,
    /// Which of its values.
    pub field: Field,
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.account, self.field.as_str())
    }
}

/// Why a reference, a template or an env file cannot be used. Never quotes a value; quotes a
/// name only escaped (`{:?}`), so a control character cannot reach a terminal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Not `[keychain://]ACCOUNT/FIELD`.
    #[error("{0:?} is not a reference: write keychain://ACCOUNT/FIELD")]
    Shape(String),
    /// The account part is not a valid account name.
    #[error(
        "{0:?} is not an account name (letters, digits, '.', '_', '-'; first a letter or digit)"
    )]
    Account(String),
    /// The field part is not in the vocabulary.
    #[error("{0:?} is not a field: use one of {fields}", fields = FIELDS.join(", "))]
    Field(String),
    /// A template's reference does not end with `}}` on its line.
    #[error("line {line}: a reference opened with '{{{{' has no '}}}}' on the same line")]
    Unterminated {
        /// 1-based.
        line: usize,
    },
    /// A problem at a line of a template or an env file.
    #[error("line {line}: {reason}")]
    AtLine {
        /// 1-based.
        line: usize,
        /// What is wrong, without the line's text.
        reason: String,
    },
}

/// Parses `ACCOUNT/FIELD` or `keychain://ACCOUNT/FIELD`.
pub fn parse(text: &str) -> std::result::Result<Reference, ReferenceError> {
    let rest = text.strip_prefix(SCHEME).unwrap_or(text);
    let Some((account, field)) = rest.split_once('/') else {
        return Err(ReferenceError::Shape(text.into()));
    };
    if !crate::name::is_valid(account) {
        return Err(ReferenceError::Account(account.into()));
    }
    let field = Field::from_name(field).ok_or_else(|| ReferenceError::Field(field.into()))?;
    Ok(Reference {
        account: account.into(),
        field,
    })
}

/// A piece of a template: text kept as it is, or a reference to fill in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Copied to the output unchanged.
    Text(&'a str),
    /// Replaced by the value.
    Ref(Reference),
}

/// Parses a template: `{{ keychain://ACCOUNT/FIELD }}` (spaces inside the braces optional) is
/// a reference, ended by `}}` on the same line; every other byte is kept as it is, including a
/// `{{` that does not open a `keychain://` reference (other template languages pass through).
/// `\{{` before `keychain://` is the literal text `{{` (the backslash is dropped); a backslash
/// anywhere else is kept. Errors name the line, never its text.
pub fn parse_template(text: &str) -> std::result::Result<Vec<Piece<'_>>, ReferenceError> {
    let mut pieces = Vec::new();
    let mut copied = 0; // text[copied..] is not yet in `pieces`
    let mut at = 0; // where to look for the next `{{`
    while let Some(found) = text[at..].find("{{") {
        let open = at + found;
        let inner_start = open + 2;
        let inner = &text[inner_start..];
        let trimmed = inner.trim_start_matches([' ', '\t']);
        if !trimmed.starts_with(SCHEME) {
            at = open + 1;
            continue;
        }
        let line = text[..open].matches('\n').count() + 1;
        if open > 0 && text.as_bytes()[open - 1] == b'\\' {
            // Escaped: everything up to the backslash, then `{{` as text.
            pieces.push(Piece::Text(&text[copied..open - 1]));
            copied = open;
            at = inner_start;
            continue;
        }
        let line_end = inner.find('\n').unwrap_or(inner.len());
        let Some(close) = inner[..line_end].find("}}") else {
            return Err(ReferenceError::Unterminated { line });
        };
        let body = inner[..close].trim_matches([' ', '\t']);
        let reference = parse(body).map_err(|e| ReferenceError::AtLine {
            line,
            reason: e.to_string(),
        })?;
        if open > copied {
            pieces.push(Piece::Text(&text[copied..open]));
        }
        pieces.push(Piece::Ref(reference));
        copied = inner_start + close + 2;
        at = copied;
    }
    if copied < text.len() {
        pieces.push(Piece::Text(&text[copied..]));
    }
    pieces.retain(|p| !matches!(p, Piece::Text("")));
    Ok(pieces)
}

/// A portable environment variable name: letters, digits, `_`, not first a digit.
pub fn is_var_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Parses an env file: one `VAR=keychain://ACCOUNT/FIELD` per line; blank lines and lines
/// starting with `#` are skipped. The value must be a reference (a literal value has no place
/// in a file that says where values come from); a variable may appear once.
pub fn parse_env_file(text: &str) -> std::result::Result<Vec<(String, Reference)>, ReferenceError> {
    let mut entries: Vec<(String, Reference)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let at = |reason: String| ReferenceError::AtLine { line, reason };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let Some((var, value)) = trimmed.split_once('=') else {
            return Err(at("not VAR=keychain://ACCOUNT/FIELD".into()));
        };
        let var = var.trim_end();
        if !is_var_name(var) {
            return Err(at(format!(
                "{var:?} is not a valid environment variable name (letters, digits, '_', not first a digit)"
            )));
        }
        let value = value.trim_start();
        if !value.starts_with(SCHEME) {
            return Err(at(format!(
                "the value of {var} is not a keychain:// reference"
            )));
        }
        let reference = parse(value).map_err(|e| at(e.to_string()))?;
        if entries.iter().any(|(v, _)| v == var) {
            return Err(at(format!(
                "{var} is given twice; each variable gets one value"
            )));
        }
        entries.push((var.to_string(), reference));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(account: &str, field: Field) -> Reference {
        Reference {
            account: account.into(),
            field,
        }
    }

    #[test]
    fn every_field_name_parses_and_names_itself() {
        for name in FIELDS {
            let field = Field::from_name(name).unwrap();
            assert_eq!(field.as_str(), name);
            assert_eq!(parse(&format!("a/{name}")).unwrap().field, field);
            assert_eq!(parse(&format!("keychain://a/{name}")).unwrap().field, field);
        }
        assert_eq!(
            parse("keychain://acme-prod/password").unwrap(),
            r("acme-prod", Field::Secret(SecretField::Password))
        );
    }

    /// Hostile references: unknown fields, traversal, extra segments, other schemes, control
    /// characters, the stored (possibly stale) access token under its record name.
    #[test]
    fn hostile_references_are_refused() {
        for bad in [
            "",
            "acme",
            "acme/",
            "/user",
            "keychain://",
            "keychain://acme",
            "acme/secrets",
            "acme/Password",
            "acme/user/extra",
            "../acme/user",
            "acme/../user",
            "./acme/user",
            ".acme/user",
            "a b/user",
            "acme\n/user",
            "acme/user\n",
            "keychain:/acme/user",
            "op://acme/user",
            "keychain://keychain://acme/user",
            "KEYCHAIN://acme/user",
            "acme/access_token",
            "acme/totp-code",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        // An error never carries a control character to a terminal.
        let e = parse("acme/\u{1b}[2J").unwrap_err().to_string();
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn templates_keep_text_and_find_references() {
        let t = "url={{ keychain://books/api-url }}\ntoken={{keychain://books/access-token}}!\n";
        assert_eq!(
            parse_template(t).unwrap(),
            vec![
                Piece::Text("url="),
                Piece::Ref(r("books", Field::ApiUrl)),
                Piece::Text("\ntoken="),
                Piece::Ref(r("books", Field::AccessToken)),
                Piece::Text("!\n"),
            ]
        );
        // Other template languages' braces pass through untouched.
        let jinja = "{{ name }} {{{ x }}} {% if %} }} {{";
        assert_eq!(parse_template(jinja).unwrap(), vec![Piece::Text(jinja)]);
        assert_eq!(parse_template("").unwrap(), vec![]);
        // A third brace before the reference stays text.
        assert_eq!(
            parse_template("{{{ keychain://a/user }}}").unwrap(),
            vec![
                Piece::Text("{"),
                Piece::Ref(r("a", Field::User)),
                Piece::Text("}")
            ]
        );
    }

    #[test]
    fn an_escaped_reference_is_text() {
        assert_eq!(
            parse_template(r"a \{{ keychain://a/password }} b \x").unwrap(),
            vec![
                Piece::Text("a "),
                Piece::Text("{{ keychain://a/password }} b \\x"),
            ]
        );
    }

    #[test]
    fn bad_template_references_name_the_line() {
        for (bad, line) in [
            ("x\n{{ keychain://a/user\n}}", 2),
            ("{{ keychain://a/user }", 1),
            ("ok\nok\n{{ keychain://a/user", 3),
        ] {
            assert_eq!(
                parse_template(bad).unwrap_err(),
                ReferenceError::Unterminated { line },
                "{bad:?}"
            );
        }
        for (bad, line) in [
            ("{{ keychain://a/nope }}", 1),
            ("\n{{ keychain://../x/user }}", 2),
            ("{{ keychain://a/user extra }}", 1),
            ("{{ keychain://a/user/x }}", 1),
            ("{{ keychain:// }}", 1),
        ] {
            match parse_template(bad) {
                Err(ReferenceError::AtLine { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn env_files_map_variables_to_references() {
        let text = "# job\n\nTOKEN=keychain://books/access-token\n  USER = keychain://books/user\nPW=keychain://crm/password\n";
        assert_eq!(
            parse_env_file(text).unwrap(),
            vec![
                ("TOKEN".to_string(), r("books", Field::AccessToken)),
                ("USER".to_string(), r("books", Field::User)),
                (
                    "PW".to_string(),
                    r("crm", Field::Secret(SecretField::Password))
                ),
            ]
        );
        for (bad, line) in [
            ("TOKEN", 1),
            ("X=books/user", 1),
            ("X=literal", 1),
            ("1X=keychain://a/user", 1),
            ("X-Y=keychain://a/user", 1),
            ("\nX=keychain://a/nope", 2),
            ("X=keychain://../a/user", 1),
            ("X=keychain://a/user\nX=keychain://a/user", 2),
            ("=keychain://a/user", 1),
        ] {
            match parse_env_file(bad) {
                Err(ReferenceError::AtLine { line: l, .. }) => assert_eq!(l, line, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
