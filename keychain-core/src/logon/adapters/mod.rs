//! Page adapters: each knows one kind of logon page, says whether a page is one of its kind, and
//! fills it in. The engine asks them in order and sends what the first that accepts the page
//! answers. A provider with pages of a new kind gets a new adapter here (one module, one line
//! in [`ADAPTERS`]); the browser, the credential guard and the finisher stay as they are.
//!
//! Adapters never send a password or code without claiming it from the credential guard first
//! ([`Logon::claim`]), and never send anything but through the browser.

mod b2c;
mod html_form;

#[cfg(test)]
pub(super) use b2c::detect as detect_b2c;
use url::Url;

use super::LogonError;
use super::browser::Request;
use super::engine::Logon;
use super::html::Page;

/// One kind of logon page.
pub(super) trait Adapter: Sync {
    /// A short name, to tell adapters apart.
    #[allow(
        dead_code,
        reason = "only the selection tests tell adapters apart so far"
    )]
    fn name(&self) -> &'static str;
    /// Whether `page` is of this adapter's kind (it may still be malformed: `fill` says so).
    fn accepts(&self, page: &Page) -> bool;
    /// The request that answers `page`, served with `status` at `page_url`.
    fn fill(
        &self,
        logon: &mut Logon<'_, '_, '_>,
        page_url: &Url,
        status: u16,
        page: &Page,
    ) -> Result<Request, LogonError>;
}

/// In the order they are asked: a B2C self-asserted page may carry a form too, and its script
/// is what the provider reads.
const ADAPTERS: &[&dyn Adapter] = &[&b2c::SelfAssertedPage, &html_form::HtmlForm];

/// The adapter that answers `page`, if any.
pub(super) fn select(page: &Page) -> Option<&'static dyn Adapter> {
    ADAPTERS.iter().copied().find(|a| a.accepts(page))
}

#[cfg(test)]
mod tests {
    use super::super::html;
    use super::*;

    fn adapter_of(page: &str) -> Option<&'static str> {
        select(&html::parse(page)).map(|a| a.name())
    }

    const B2C_SCRIPT: &str = r#"<script>var SETTINGS = {"csrf":"c","transId":"T","api":"A",
        "hosts":{"tenant":"/t","policy":"P"}};
        var SA_FIELDS = {"AttributeFields":[{"ID":"signInName"}]};</script>"#;

    #[test]
    fn a_b2c_page_goes_to_the_b2c_adapter_even_with_a_form_on_it() {
        assert_eq!(adapter_of(B2C_SCRIPT), Some("azure-b2c"));
        let with_form =
            format!("{B2C_SCRIPT}<form method=post><input type=password name=pw></form>");
        assert_eq!(adapter_of(&with_form), Some("azure-b2c"));
        // Malformed settings are still B2C's to report (as a protocol error), not a form's.
        let broken =
            r#"<script>var SETTINGS = {"csrf":"c"};</script><form><input name=user></form>"#;
        assert_eq!(adapter_of(broken), Some("azure-b2c"));
    }

    #[test]
    fn login_forms_and_lone_forms_go_to_the_html_form_adapter() {
        let login = r#"<form id=search><input name=q></form>
            <form method=post><input name=user><input type=password name=password></form>"#;
        assert_eq!(adapter_of(login), Some("html-form"));
        let auto_submit =
            r#"<form method=post action=/cb><input type=hidden name=code value=x></form>"#;
        assert_eq!(adapter_of(auto_submit), Some("html-form"));
    }

    #[test]
    fn pages_no_adapter_knows_are_left_unanswered() {
        assert_eq!(adapter_of("<p>Service unavailable</p>"), None);
        assert_eq!(adapter_of("<script>var x = 1;</script>"), None);
        // Two forms and none of them a login form: guessing could post the wrong one.
        let two = r#"<form><input name=q></form><form><input name=lang></form>"#;
        assert_eq!(adapter_of(two), None);
    }
}
