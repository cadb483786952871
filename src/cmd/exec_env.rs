//! `keychain exec --env VAR=ACCOUNT:FIELD`: which value of which account goes into which
//! variable. Parsing and checking only; `exec` obtains the values.

use crate::record::SecretField;

/// What an `--env` names. Secrets are a field of their own kind: never implied by another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvField {
    AccessToken,
    User,
    ClientId,
    ApiUrl,
    Secret(SecretField),
}

/// One `--env VAR=ACCOUNT:FIELD`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvSpec {
    pub var: String,
    pub account: String,
    pub field: EnvField,
}

/// The field names `--env` accepts, in help order.
pub const FIELDS: [&str; 8] = [
    "access-token",
    "user",
    "client-id",
    "api-url",
    "password",
    "totp-secret",
    "client-secret",
    "refresh-token",
];

/// Parses `VAR=ACCOUNT:FIELD` (clap's value parser for `--env`).
pub fn parse(text: &str) -> Result<EnvSpec, String> {
    let (var, rest) = text
        .split_once('=')
        .ok_or_else(|| format!("'{text}' is not VAR=ACCOUNT:FIELD"))?;
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
    let field = match field {
        "access-token" => EnvField::AccessToken,
        "user" => EnvField::User,
        "client-id" => EnvField::ClientId,
        "api-url" => EnvField::ApiUrl,
        other => match SecretField::ALL.iter().find(|f| f.as_str() == other) {
            Some(SecretField::AccessToken) | None => {
                return Err(format!(
                    "'{other}' is not a field: use one of {}",
                    FIELDS.join(", ")
                ));
            }
            Some(secret) => EnvField::Secret(*secret),
        },
    };
    Ok(EnvSpec {
        var: var.to_string(),
        account: account.to_string(),
        field,
    })
}

/// A portable environment variable name.
pub fn is_var_name(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "=a:user",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
