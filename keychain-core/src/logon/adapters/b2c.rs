//! Azure AD B2C "self-asserted" pages (Exact Online's sign-in). Such a page is a script, not a
//! form: `var SETTINGS = {...}` says where to post and with which anti-forgery token, and
//! `var SA_FIELDS = {...}` says which fields this step asks for. Which fields come in which step
//! changes over time, so they are read from every page, never assumed.
//!
//! One step of such a page is two requests: the asked fields are posted to `SelfAsserted`
//! (answered with JSON, `{"status":"200"}` when accepted), then the `confirmed` page is fetched,
//! which is the next step.
#![deny(missing_docs)]

use serde_json::Value;
use url::Url;

use super::super::LogonError;
use super::super::browser::Request;
use super::super::engine::Logon;
use super::super::guard::{Carries, Sent};
use super::super::html::Page;
use super::Adapter;
use crate::http::{self, SecretForm};

/// The fields a self-asserted step may ask for that carry a one-time code.
const CODE_FIELDS: &[&str] = &["totpVerificationCode", "verificationCode", "otpCode"];

/// The most of a provider's message shown (it is the provider's text, scrubbed by the engine).
const MAX_SAID: usize = 200;

/// Words with which Azure AD B2C (Exact Online's sign-in) says a code was not judged: used
/// already ("This verification code has already been used"), expired, or a clock that differs.
/// Anything else about a code ("does not match our records") is a wrong secret.
const CODE_NOT_TAKEN_WORDS: &[&str] = &[
    "already been used",
    "already used",
    "has been used",
    "expired",
    "clock",
    "out of sync",
];

/// A provider's message as one line of at most [`MAX_SAID`] characters.
fn said_of(message: &str) -> String {
    crate::text::escape_value(message.trim())
        .chars()
        .take(MAX_SAID)
        .collect()
}

/// Whether `message`, the answer to a one-time code, says the code was used or expired rather
/// than wrong.
pub(crate) fn code_not_taken(message: &str) -> bool {
    let lower = message.to_lowercase();
    CODE_NOT_TAKEN_WORDS.iter().any(|w| lower.contains(w))
}

pub(super) struct SelfAssertedPage;

impl Adapter for SelfAssertedPage {
    fn kind(&self) -> crate::logon::PageAdapter {
        crate::logon::PageAdapter::AzureB2c
    }

    fn accepts(&self, page: &Page) -> bool {
        detect(&page.scripts).is_some()
    }

    /// One Azure AD B2C step: post the asked fields, expect `{"status":"200"}`, then fetch the
    /// `confirmed` page, which is the next step.
    fn fill(
        &self,
        logon: &mut Logon<'_, '_, '_>,
        page_url: &Url,
        _status: u16,
        page: &Page,
    ) -> Result<Request, LogonError> {
        let path = crate::oauth::endpoint(page_url);
        let sa = detect(&page.scripts)
            .ok_or_else(|| LogonError::Protocol {
                step: "self-asserted page".into(),
                path: path.clone(),
                detail: "no SETTINGS script".into(),
            })?
            .map_err(|missing| LogonError::Protocol {
                step: "self-asserted page".into(),
                path: path.clone(),
                detail: format!("setting `{missing}` missing"),
            })?;
        let mut body = SecretForm::new();
        let mut carries = Carries::default();
        let mut unknown = Vec::new();
        for id in &sa.fields {
            match id.as_str() {
                "signInName" | "logonIdentifier" | "email" | "username" | "userName" => {
                    body.push_plain(id, logon.req.user)
                }
                "password" | "currentPassword" => {
                    carries.password = true;
                    body.push(id, logon.req.password.clone());
                }
                id if CODE_FIELDS.contains(&id) => carries.code = true,
                // What a browser's script sends about itself; the provider only records it.
                "userAgent" => body.push_plain(id, r#"{"client":"keychain"}"#),
                _ => unknown.push(id.clone()),
            }
        }
        if !unknown.is_empty() || sa.fields.is_empty() {
            return Err(LogonError::UnknownPage {
                path,
                status: 200,
                fields: sa.fields.clone(),
            });
        }
        let step = if carries.code {
            "one-time code"
        } else if carries.password {
            "password"
        } else {
            "user name"
        };
        let sent = Sent::new(step, sa.fields.clone());
        logon.claim(carries, &sent)?;
        if carries.code {
            let code = logon.one_time_code(page_url)?;
            for id in sa
                .fields
                .iter()
                .filter(|id| CODE_FIELDS.contains(&id.as_str()))
            {
                body.push(id, code.clone());
            }
            // Asked for by the TOTP step: keep the enrolled authenticator.
            body.push_plain("reset_totp", "false");
        }
        body.push_plain("request_type", "RESPONSE");
        let bad_url = |_| LogonError::Protocol {
            step: step.into(),
            path: path.clone(),
            detail: "SETTINGS.hosts.tenant does not make a URL".into(),
        };
        let post = Request {
            method: reqwest::Method::POST,
            url: sa.post_url(page_url).map_err(bad_url)?,
            body: Some(body),
            headers: vec![
                ("X-CSRF-TOKEN", sa.csrf.clone()),
                ("X-Requested-With", "XMLHttpRequest".into()),
                ("Accept", "application/json".into()),
            ],
            step: step.into(),
            has_password: carries.password,
            has_code: carries.code,
        };
        let (status, answer) = logon.browser.call(&post, http::MAX_JSON_ANSWER)?;
        if status == 429 || status >= 500 {
            return Err(LogonError::Unavailable {
                step: step.into(),
                path: crate::oauth::endpoint(&post.url),
                reason: format!("HTTP {status}"),
            });
        }
        let json: Option<Value> = serde_json::from_str(&answer).ok();
        let b2c_status = json.as_ref().and_then(|j| j.get("status")).map(|s| {
            s.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| s.to_string())
        });
        match b2c_status.as_deref() {
            Some("200") => {}
            // B2C refuses any step, a user name too, with a status of its own, and says why in
            // `message`. A code it took once already (RFC 6238 §5.2: once per person), or one
            // that expired, is not a wrong secret.
            Some(_) => {
                let said = json
                    .as_ref()
                    .and_then(|j| j.get("message"))
                    .and_then(Value::as_str)
                    .map(said_of);
                return Err(match said {
                    Some(said) if carries.code && code_not_taken(&said) => {
                        LogonError::CodeNotTaken { said }
                    }
                    said => sent.rejected_saying(said),
                });
            }
            None => {
                return Err(LogonError::Protocol {
                    step: step.into(),
                    path: crate::oauth::endpoint(&post.url),
                    detail: format!("HTTP {status} without a JSON `status`"),
                });
            }
        }
        Ok(Request::get(
            sa.confirmed_url(page_url).map_err(bad_url)?,
            "confirm",
        ))
    }
}

/// What one self-asserted page asks for and where its answers go.
#[derive(Debug, Clone)]
pub struct SelfAsserted {
    pub csrf: String,
    pub trans_id: String,
    pub tenant: String,
    pub policy: String,
    pub api: String,
    /// `AttributeFields[].ID`, in page order.
    pub fields: Vec<String>,
}

impl SelfAsserted {
    /// `<tenant>/SelfAsserted?tx=<transId>&p=<policy>`, resolved against the page's URL.
    pub fn post_url(&self, page: &Url) -> Result<Url, url::ParseError> {
        let mut url = page.join(&format!(
            "{}/SelfAsserted",
            self.tenant.trim_end_matches('/')
        ))?;
        url.query_pairs_mut()
            .clear()
            .append_pair("tx", &self.trans_id)
            .append_pair("p", &self.policy);
        Ok(url)
    }

    /// `<tenant>/api/<api>/confirmed?csrf_token=..&tx=..&p=..`: brings the next page.
    pub fn confirmed_url(&self, page: &Url) -> Result<Url, url::ParseError> {
        let mut url = page.join(&format!(
            "{}/api/{}/confirmed",
            self.tenant.trim_end_matches('/'),
            self.api
        ))?;
        url.query_pairs_mut()
            .clear()
            .append_pair("csrf_token", &self.csrf)
            .append_pair("tx", &self.trans_id)
            .append_pair("p", &self.policy);
        Ok(url)
    }
}

/// `None` when the page is not a self-asserted page; `Some(Err(missing))` when it looks like
/// one but lacks a setting (named in the error).
pub fn detect(scripts: &[String]) -> Option<Result<SelfAsserted, String>> {
    let settings = scripts.iter().find_map(|s| json_after(s, "var SETTINGS"))?;
    let sa_fields = scripts.iter().find_map(|s| json_after(s, "var SA_FIELDS"));
    Some(read(&settings, sa_fields.as_ref()))
}

fn read(settings: &Value, sa_fields: Option<&Value>) -> Result<SelfAsserted, String> {
    let text = |v: &Value, path: &[&str]| -> Result<String, String> {
        let mut cur = v;
        for key in path {
            cur = cur
                .get(key)
                .ok_or_else(|| format!("SETTINGS.{}", path.join(".")))?;
        }
        cur.as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("SETTINGS.{}", path.join(".")))
    };
    let fields = sa_fields
        .and_then(|v| v.get("AttributeFields"))
        .and_then(Value::as_array)
        .ok_or("SA_FIELDS.AttributeFields")?
        .iter()
        .filter_map(|f| f.get("ID").and_then(Value::as_str).map(str::to_string))
        .collect();
    Ok(SelfAsserted {
        csrf: text(settings, &["csrf"])?,
        trans_id: text(settings, &["transId"])?,
        tenant: text(settings, &["hosts", "tenant"])?,
        policy: text(settings, &["hosts", "policy"])?,
        api: text(settings, &["api"])?,
        fields,
    })
}

/// The JSON object that follows `marker = ` in a script; what comes after it is ignored.
fn json_after(script: &str, marker: &str) -> Option<Value> {
    let start = script.find(marker)? + marker.len();
    let rest = &script[start..];
    let brace = rest.find('{')?;
    // Only whitespace and `=` may stand between the name and the object.
    if !rest[..brace].chars().all(|c| c.is_whitespace() || c == '=') {
        return None;
    }
    serde_json::Deserializer::from_str(&rest[brace..])
        .into_iter::<Value>()
        .next()?
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 18, item 3: a used or expired code is told from a wrong one by B2C's words.
    #[test]
    fn a_used_or_expired_code_is_not_a_wrong_one() {
        for used in [
            "This verification code has already been used.",
            "The verification code has expired.",
            "Verification code was already used, wait for a new one",
            "Please check the clock of your device.",
        ] {
            assert!(code_not_taken(used), "{used}");
        }
        for wrong in [
            "The verification code you have entered does not match our records.",
            "Your password is incorrect.",
            "We can't seem to find your account.",
            "",
        ] {
            assert!(!code_not_taken(wrong), "{wrong}");
        }
        assert_eq!(said_of(&"x".repeat(500)).len(), MAX_SAID);
        assert_eq!(said_of(" a\nb "), "a\\x0ab");
    }

    #[test]
    fn reads_settings_and_fields() {
        let script = r#"
            var SETTINGS = {"csrf":"c1","transId":"StateProperties=xyz","api":"CombinedSigninAndSignup",
              "hosts":{"tenant":"/t/B2C_1A_SignIn","policy":"B2C_1A_SignIn"}};
            var SA_FIELDS = {"AttributeFields":[{"ID":"signInName"},{"ID":"userAgent"}]};"#;
        let sa = detect(&[script.to_string()]).unwrap().unwrap();
        assert_eq!(sa.fields, ["signInName", "userAgent"]);
        let page = Url::parse("http://h/t/B2C_1A_SignIn/oauth2/authorize?x=1").unwrap();
        assert_eq!(
            sa.post_url(&page).unwrap().as_str(),
            "http://h/t/B2C_1A_SignIn/SelfAsserted?tx=StateProperties%3Dxyz&p=B2C_1A_SignIn"
        );
        assert_eq!(
            sa.confirmed_url(&page).unwrap().as_str(),
            "http://h/t/B2C_1A_SignIn/api/CombinedSigninAndSignup/confirmed?csrf_token=c1&tx=StateProperties%3Dxyz&p=B2C_1A_SignIn"
        );
        assert!(detect(&["var x = 1;".to_string()]).is_none());
    }
}
