//! Generic HTML login forms (LemonLDAP::NG, Exact's classic pages, most identity providers):
//! the login form of the page, filled as a browser would submit it with the user name, the
//! password and a one-time code typed in.
#![deny(missing_docs)]

use url::Url;

use super::super::LogonError;
use super::super::browser::Request;
use super::super::engine::Logon;
use super::super::forms;
use super::super::guard::Sent;
use super::super::html::Page;
use super::Adapter;

pub(super) struct HtmlForm;

impl Adapter for HtmlForm {
    fn kind(&self) -> crate::logon::PageAdapter {
        crate::logon::PageAdapter::HtmlForm
    }

    fn accepts(&self, page: &Page) -> bool {
        forms::pick_form(&page.forms).is_some()
    }

    fn fill(
        &self,
        logon: &mut Logon<'_, '_, '_>,
        page_url: &Url,
        status: u16,
        page: &Page,
    ) -> Result<Request, LogonError> {
        let Some(form) = forms::pick_form(&page.forms) else {
            return Err(LogonError::UnknownPage {
                path: crate::oauth::endpoint(page_url),
                status,
                fields: forms::all_field_names(page),
            });
        };
        let mut filled = forms::fill(form, logon.req.user, logon.req.password);
        if !filled.is_answerable() {
            return Err(LogonError::UnknownPage {
                path: crate::oauth::endpoint(page_url),
                status,
                fields: form.fields.iter().map(|f| f.name.clone()).collect(),
            });
        }
        let step = filled.step();
        logon.claim(
            filled.carries,
            &Sent::new(step, forms::credential_fields(form)),
        )?;
        if filled.carries.code {
            let code = logon.one_time_code(page_url)?;
            for field in forms::code_fields(form) {
                filled.body.push(&field.name, code.clone());
            }
        }
        let url = forms::form_action(page_url, form.action.as_deref()).ok_or_else(|| {
            LogonError::Protocol {
                step: step.into(),
                path: crate::oauth::endpoint(page_url),
                detail: "the form's action is not a URL".into(),
            }
        })?;
        let (has_password, has_code) = (filled.carries.password, filled.carries.code);
        Ok(if form.method == "get" {
            let mut url = url;
            url.set_query(Some(&filled.body.encode()));
            Request {
                has_password,
                has_code,
                ..Request::get(url, step)
            }
        } else {
            Request {
                method: reqwest::Method::POST,
                url,
                body: Some(filled.body),
                headers: Vec::new(),
                step: step.into(),
                has_password,
                has_code,
            }
        })
    }
}
