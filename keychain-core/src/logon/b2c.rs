//! Azure AD B2C "self-asserted" pages (Exact Online's sign-in). Such a page is a script, not a
//! form: `var SETTINGS = {...}` says where to post and with which anti-forgery token, and
//! `var SA_FIELDS = {...}` says which fields this step asks for. Which fields come in which step
//! changes over time, so they are read from every page, never assumed.

use serde_json::Value;
use url::Url;

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
