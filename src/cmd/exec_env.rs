//! `keychain exec --env VAR=ACCOUNT:FIELD`: which value of which account goes into which
//! variable. Parsing and checking only; `exec` obtains the values.

/// What an `--env` names: the one field vocabulary of every way out
/// ([`crate::reference::Field`]); secrets are a kind of their own, never implied by another.
pub type EnvField = crate::reference::Field;

/// One `--env VAR=ACCOUNT:FIELD` (the core's, since `ops::exec` obtains the values).
pub use crate::ops::exec::EnvSpec;

/// The field names `--env` accepts, in help order (the references' own).
pub use crate::reference::FIELDS;

/// Parses `VAR=ACCOUNT:FIELD` (clap's value parser for `--env`).
pub fn parse(text: &str) -> Result<EnvSpec, String> {
    let (var, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not VAR=ACCOUNT:FIELD"))?;
    // The references' own spelling works too: VAR=keychain://ACCOUNT/FIELD.
    if rest.starts_with(crate::reference::SCHEME) {
        if !is_var_name(var) {
            return Err(format!("'{var}' is not a valid environment variable name"));
        }
        let r = crate::reference::parse(rest).map_err(|e| e.to_string())?;
        return Ok(EnvSpec {
            var: var.to_string(),
            account: r.account,
            field: r.field,
        });
    }
    let (account, field) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}' is not VAR=ACCOUNT:FIELD (no ':FIELD')"))?;
    if !is_var_name(var) {
        return Err(format!(
            "'{var}' is not a valid environment variable name (letters, digits, '_', not first a digit)"
        ));
    }
    // clap shows one text for a bad value: the rule goes with it.
    crate::store::validate_name(account)
        .map_err(|e| format!("{e}; {}", e.hint().unwrap_or_default()))?;
    let field = EnvField::from_name(field)
        .ok_or_else(|| format!("'{field}' is not a field: use one of {}", FIELDS.join(", ")))?;
    Ok(EnvSpec {
        var: var.to_string(),
        account: account.to_string(),
        field,
    })
}

/// A portable environment variable name.
pub fn is_var_name(name: &str) -> bool {
    crate::reference::is_var_name(name)
}

/// The variables of each `--env-file FILE`: `VAR=keychain://ACCOUNT/FIELD` lines, `#`
/// comments (see [`crate::reference::parse_env_file`]). An error names the file and the line,
/// never the line's text.
pub fn from_files(files: &[std::path::PathBuf]) -> crate::error::Result<Vec<EnvSpec>> {
    crate::input::one_stdin(files.iter().map(|f| ("--env-file", Some(f.as_path()))))?;
    let mut specs = Vec::new();
    for file in files {
        let text = super::inject::read_text(file, "env file")?;
        let entries = crate::reference::parse_env_file(&text).map_err(|e| {
            crate::error::Error::usage_hint(
                format!("{}: {e}", file.display()),
                "each line is VAR=keychain://ACCOUNT/FIELD; '#' starts a comment",
            )
        })?;
        specs.extend(entries.into_iter().map(|(var, r)| EnvSpec {
            var,
            account: r.account,
            field: r.field,
        }));
    }
    Ok(specs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::SecretField;

    #[test]
    fn parses_each_field_and_refuses_what_is_not_one() {
        let spec = parse("TOKEN=acme-prod:access-token").unwrap();
        assert_eq!(
            spec,
            EnvSpec {
                var: "TOKEN".into(),
                account: "acme-prod".into(),
                field: EnvField::AccessToken
            }
        );
        assert_eq!(parse("T=a:totp").unwrap().field, EnvField::Totp);
        assert_eq!(
            parse("T=keychain://a/totp").unwrap(),
            parse("T=a:totp").unwrap()
        );
        assert_eq!(
            parse("P=a:password").unwrap().field,
            EnvField::Secret(SecretField::Password)
        );
        for bad in [
            "TOKEN",
            "TOKEN=acme",
            "1X=a:user",
            "X-Y=a:user",
            "X=../a:user",
            "X=a:secrets",
            "X=a:",
            "X=a:access_token",
            "X=keychain://a:user",
            "X=keychain://../a/user",
            "1X=keychain://a/user",
            "=a:user",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
