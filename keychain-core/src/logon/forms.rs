//! The form logic: what a field of an HTML form is for (user name, password, code, a hidden
//! value, a button), which form of a page is the login form, where it posts, and the body a
//! browser would send with the user name and password typed in. Pure functions over parsed
//! pages: nothing here sends, and the one-time code is filled by the adapter once the credential
//! guard has let the step through.
#![deny(missing_docs)]

use secrecy::SecretString;
use url::Url;

use super::guard::Carries;
use super::html::{Field, Form, Page};
use crate::http::SecretForm;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Hidden,
    /// A visible field with a value of its own (pre-filled); sent as is.
    Value,
    Choice,
    Submit,
    Ignore,
    User,
    Password,
    Code,
    Unknown,
}

/// The last segment of a field name, without separators: `LoginForm$UserName` → `username`.
fn base_name(name: &str) -> String {
    name.rsplit(['$', ':', '.', '['])
        .next()
        .unwrap_or(name)
        .to_ascii_lowercase()
        .replace(['_', '-', ']'], "")
}

pub(super) fn role(f: &Field) -> Role {
    let name = base_name(&f.name);
    let id = base_name(&f.id);
    let is = |list: &[&str]| list.contains(&name.as_str()) || list.contains(&id.as_str());
    match f.kind.as_str() {
        "hidden" => return Role::Hidden,
        "checkbox" | "radio" => return Role::Choice,
        "submit" | "image" => return Role::Submit,
        "button" | "reset" | "file" => return Role::Ignore,
        _ => {}
    }
    if f.autocomplete == "one-time-code"
        || is(&[
            "code",
            "otp",
            "totp",
            "otpcode",
            "totpcode",
            "verificationcode",
            "totpverificationcode",
            "passcode",
        ])
    {
        return Role::Code;
    }
    if f.kind == "password"
        || f.autocomplete == "current-password"
        || is(&["password", "passwd", "pwd"])
    {
        return Role::Password;
    }
    if f.autocomplete == "username"
        || f.kind == "email"
        || is(&[
            "user",
            "username",
            "login",
            "email",
            "userid",
            "loginname",
            "signinname",
            "logonidentifier",
            "identifier",
            "jusername",
        ])
    {
        return Role::User;
    }
    if f.value.is_empty() {
        Role::Unknown
    } else {
        Role::Value
    }
}

/// The login form (one with a password, code or user field), else the only form.
pub(super) fn pick_form(forms: &[Form]) -> Option<&Form> {
    let has = |f: &Form, r: Role| f.fields.iter().any(|x| role(x) == r);
    forms
        .iter()
        .find(|f| has(f, Role::Password))
        .or_else(|| forms.iter().find(|f| has(f, Role::Code)))
        .or_else(|| forms.iter().find(|f| has(f, Role::User)))
        .or_else(|| {
            if forms.len() == 1 {
                forms.first()
            } else {
                None
            }
        })
}

/// A form's `action`: absent, empty or a bare fragment mean the current URL with its query.
pub(super) fn form_action(page: &Url, action: Option<&str>) -> Option<Url> {
    let mut url = match action.map(str::trim) {
        None | Some("") => page.clone(),
        Some(a) if a.starts_with('#') => page.clone(),
        Some(a) => page.join(a).ok()?,
    };
    url.set_fragment(None);
    Some(url)
}

/// Every named field of every form: what an "unknown page" error lists.
pub(super) fn all_field_names(page: &Page) -> Vec<String> {
    page.forms
        .iter()
        .flat_map(|f| &f.fields)
        .filter(|f| !f.name.is_empty())
        .map(|f| f.name.clone())
        .collect()
}

/// A form as a browser would submit it, before the one-time code is typed in.
pub(super) struct Filled {
    pub body: SecretForm,
    pub carries: Carries,
    pub has_user: bool,
    /// Visible fields keychain cannot fill (sent empty).
    pub unknown_visible: Vec<String>,
}

impl Filled {
    /// keychain's name of the step, for progress lines and a rejection.
    pub fn step(&self) -> &'static str {
        if self.carries.code {
            "one-time code"
        } else if self.carries.password {
            "password"
        } else if self.has_user {
            "user name"
        } else {
            "auto-submit form"
        }
    }

    /// A page keychain can answer: one asking for a credential, or one without visible fields
    /// it does not know (an auto-submit form).
    pub fn is_answerable(&self) -> bool {
        self.unknown_visible.is_empty()
            || self.carries.password
            || self.carries.code
            || self.has_user
    }
}

/// Fills `form` with the user name and password; code fields are left for the caller.
pub(super) fn fill(form: &Form, user: &str, password: &SecretString) -> Filled {
    let mut filled = Filled {
        body: SecretForm::new(),
        carries: Carries::default(),
        has_user: false,
        unknown_visible: Vec::new(),
    };
    let body = &mut filled.body;
    let mut clicked = false;
    for field in form
        .fields
        .iter()
        .filter(|f| !f.name.is_empty() && !f.disabled)
    {
        match role(field) {
            Role::Hidden | Role::Value => body.push_plain(&field.name, &field.value),
            Role::Choice => {
                // Browsers leave unchecked boxes out; LemonLDAP's `checkLogins=on` would
                // add a page.
                if field.checked {
                    let value = if field.value.is_empty() {
                        "on"
                    } else {
                        &field.value
                    };
                    body.push_plain(&field.name, value);
                }
            }
            Role::Submit => {
                // A browser sends the name of the button that was clicked: the first one.
                if !clicked {
                    body.push_plain(&field.name, &field.value);
                    clicked = true;
                }
            }
            Role::Ignore => {}
            Role::User => {
                filled.has_user = true;
                body.push_plain(&field.name, user);
            }
            Role::Password => {
                filled.carries.password = true;
                body.push(&field.name, password.clone());
            }
            // Filled by the caller, once the step is known to be new.
            Role::Code => filled.carries.code = true,
            Role::Unknown => {
                filled.unknown_visible.push(field.name.clone());
                body.push_plain(&field.name, "");
            }
        }
    }
    filled
}

/// The fields of `form` that carry the user name, password or code: what a rejection names.
pub(super) fn credential_fields(form: &Form) -> Vec<String> {
    form.fields
        .iter()
        .filter(|f| matches!(role(f), Role::User | Role::Password | Role::Code))
        .map(|f| f.name.clone())
        .collect()
}

/// The fields of `form` the one-time code goes into.
pub(super) fn code_fields(form: &Form) -> impl Iterator<Item = &Field> {
    form.fields.iter().filter(|f| role(f) == Role::Code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: &str, name: &str, ac: &str) -> Field {
        Field {
            kind: kind.into(),
            name: name.into(),
            autocomplete: ac.into(),
            ..Field::default()
        }
    }

    #[test]
    fn actions_resolve_like_a_browser() {
        let page = Url::parse("http://h/oauth2/authorize?a=1&b=2#frag").unwrap();
        for a in [None, Some(""), Some("#"), Some("#x")] {
            assert_eq!(
                form_action(&page, a).unwrap().as_str(),
                "http://h/oauth2/authorize?a=1&b=2"
            );
        }
        assert_eq!(
            form_action(&page, Some("/totp2fcheck")).unwrap().as_str(),
            "http://h/totp2fcheck"
        );
        assert_eq!(
            form_action(&page, Some("./Login.aspx?x=1"))
                .unwrap()
                .as_str(),
            "http://h/oauth2/Login.aspx?x=1"
        );
    }

    #[test]
    fn field_roles() {
        let f = field;
        assert_eq!(role(&f("text", "LoginForm$UserName", "")), Role::User);
        assert_eq!(role(&f("text", "code", "")), Role::Code);
        assert_eq!(role(&f("text", "x", "one-time-code")), Role::Code);
        assert_eq!(role(&f("password", "pw", "")), Role::Password);
        assert_eq!(role(&f("email", "x", "")), Role::User);
        assert_eq!(role(&f("text", "favourite", "")), Role::Unknown);
    }

    #[test]
    fn a_login_form_is_filled_as_a_browser_submits_it() {
        let mut remember = field("checkbox", "remember", "");
        remember.checked = true;
        let mut hidden = field("hidden", "token", "");
        hidden.value = "t1".into();
        let form = Form {
            fields: vec![
                hidden,
                field("text", "user", ""),
                field("password", "password", ""),
                field("text", "otp", ""),
                remember,
                field("checkbox", "unchecked", ""),
                field("submit", "go", ""),
                field("submit", "cancel", ""),
            ],
            ..Form::default()
        };
        let pw = SecretString::from("pw".to_string());
        let filled = fill(&form, "dwho", &pw);
        assert_eq!(
            filled.body.encode(),
            "token=t1&user=dwho&password=pw&remember=on&go="
        );
        assert!(filled.carries.password && filled.carries.code && filled.has_user);
        assert_eq!(filled.step(), "one-time code");
        assert_eq!(credential_fields(&form), ["user", "password", "otp"]);
        assert_eq!(
            code_fields(&form)
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            ["otp"]
        );
    }
}
