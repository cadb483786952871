//! What the logon engine needs from an HTML page: its forms, its scripts and LemonLDAP's
//! message markers. A tokenizer is enough for that; no tree is built.
#![deny(missing_docs)]

use html5gum::{DefaultEmitter, Token, Tokenizer};

/// One form as a browser would see it.
#[derive(Debug, Clone, Default)]
pub struct Form {
    /// The raw `action` attribute; `None`, empty and `#` all mean "the current URL".
    pub action: Option<String>,
    /// `get` or `post`, lower case.
    pub method: String,
    pub fields: Vec<Field>,
}

/// One `input`, `select`, `textarea` or named `button` of a form.
#[derive(Debug, Clone, Default)]
pub struct Field {
    /// The `type` attribute, lower case (`text` when absent, `submit` for a button).
    pub kind: String,
    pub name: String,
    pub id: String,
    pub value: String,
    pub autocomplete: String,
    pub checked: bool,
    pub disabled: bool,
}

/// A message marker on a LemonLDAP::NG page (`<span trmsg="5">`), and whether it sits in an
/// element styled as an error.
#[derive(Debug, Clone)]
pub struct Message {
    pub code: String,
    pub is_error: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Page {
    pub forms: Vec<Form>,
    pub scripts: Vec<String>,
    pub messages: Vec<Message>,
    /// The page's text outside scripts and form fields, words separated by single spaces, up
    /// to [`MAX_TEXT`] bytes: where a plain HTML provider says why it did not take a code.
    pub text: String,
}

/// The most of a page's text kept in [`Page::text`].
pub const MAX_TEXT: usize = 64 * 1024;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub fn parse(html: &str) -> Page {
    let mut emitter = DefaultEmitter::default();
    // Without state switching, script bodies would be tokenized as markup.
    emitter.naively_switch_states(true);
    let mut page = Page::default();
    let mut form: Option<Form> = None;
    let mut in_script = false;
    let mut in_textarea = false;
    let mut in_select = false;
    let mut select_has_selection = false;
    // The class of the innermost open element that carries one, to judge message markers.
    let mut class_stack: Vec<(String, String)> = Vec::new();

    for token in Tokenizer::new_with_emitter(html, emitter).flatten() {
        match token {
            Token::StartTag(tag) => {
                let name = text(&tag.name);
                let attr = |key: &str| tag.attributes.get(key.as_bytes()).map(|v| text(&v.value));
                if let Some(class) = attr("class")
                    && !tag.self_closing
                    && !is_void(&name)
                {
                    class_stack.push((name.clone(), class));
                }
                if let Some(code) = attr("trmsg") {
                    let mut is_error = false;
                    let own = attr("class").unwrap_or_default();
                    for c in std::iter::once(&own)
                        .chain(class_stack.iter().rev().take(3).map(|(_, c)| c))
                    {
                        if ["danger", "error", "negative"]
                            .iter()
                            .any(|m| c.contains(m))
                        {
                            is_error = true;
                        }
                    }
                    page.messages.push(Message { code, is_error });
                }
                match name.as_str() {
                    "script" => in_script = !tag.self_closing,
                    "form" => {
                        if let Some(f) = form.take() {
                            page.forms.push(f);
                        }
                        form = Some(Form {
                            action: attr("action"),
                            method: attr("method")
                                .unwrap_or_else(|| "get".into())
                                .to_ascii_lowercase(),
                            fields: Vec::new(),
                        });
                    }
                    "input" | "select" | "textarea" | "button" => {
                        let Some(f) = form.as_mut() else { continue };
                        let default_kind = match name.as_str() {
                            "button" => "submit",
                            "input" => "text",
                            other => other,
                        };
                        f.fields.push(Field {
                            kind: attr("type")
                                .map(|t| t.to_ascii_lowercase())
                                .unwrap_or_else(|| default_kind.into()),
                            name: attr("name").unwrap_or_default(),
                            id: attr("id").unwrap_or_default(),
                            value: attr("value").unwrap_or_default(),
                            autocomplete: attr("autocomplete")
                                .unwrap_or_default()
                                .to_ascii_lowercase(),
                            checked: attr("checked").is_some(),
                            disabled: attr("disabled").is_some(),
                        });
                        in_textarea = name == "textarea";
                        if name == "select" {
                            in_select = true;
                            select_has_selection = false;
                        }
                    }
                    "option" if in_select => {
                        let value = attr("value").unwrap_or_default();
                        let selected = attr("selected").is_some();
                        if let Some(field) = form.as_mut().and_then(|f| f.fields.last_mut()) {
                            // A browser submits the selected option, else the first one.
                            if selected || (!select_has_selection && field.value.is_empty()) {
                                field.value = value;
                                select_has_selection |= selected;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Token::EndTag(tag) => {
                let name = text(&tag.name);
                if let Some(pos) = class_stack.iter().rposition(|(n, _)| *n == name) {
                    class_stack.truncate(pos);
                }
                match name.as_str() {
                    "script" => in_script = false,
                    "textarea" => in_textarea = false,
                    "select" => in_select = false,
                    "form" => {
                        if let Some(f) = form.take() {
                            page.forms.push(f);
                        }
                    }
                    _ => {}
                }
            }
            Token::String(s) => {
                if in_script {
                    page.scripts.push(text(&s.value));
                } else if in_textarea
                    && let Some(field) = form.as_mut().and_then(|f| f.fields.last_mut())
                {
                    field.value.push_str(&text(&s.value));
                } else {
                    for word in text(&s.value).split_whitespace() {
                        if page.text.len() + word.len() >= MAX_TEXT {
                            break;
                        }
                        if !page.text.is_empty() {
                            page.text.push(' ');
                        }
                        page.text.push_str(word);
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(f) = form.take() {
        page.forms.push(f);
    }
    page
}

fn is_void(name: &str) -> bool {
    matches!(
        name,
        "input"
            | "br"
            | "img"
            | "meta"
            | "link"
            | "hr"
            | "area"
            | "base"
            | "col"
            | "embed"
            | "source"
            | "wbr"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_fields_and_markers() {
        let page = parse(
            r##"<div class="message message-danger"><span trmsg="5"></span></div>
            <form id="lform" action="#" method="POST">
              <input type="hidden" name="token" value="a&amp;b">
              <input name="user" type="text">
              <input type="checkbox" name="checkLogins">
              <select name="lang"><option value="en">en</option><option value="fr" selected>fr</option></select>
              <textarea name="t">x</textarea>
              <button type="submit">Go</button>
            </form>
            <script>var SETTINGS = {"a": "<form>"};</script>"##,
        );
        assert_eq!(page.messages.len(), 1);
        assert!(page.messages[0].is_error && page.messages[0].code == "5");
        let f = &page.forms[0];
        assert_eq!(f.method, "post");
        assert_eq!(f.action.as_deref(), Some("#"));
        assert_eq!(f.fields[0].value, "a&b");
        assert_eq!(f.fields[1].kind, "text");
        assert_eq!(f.fields[3].value, "fr");
        assert_eq!(f.fields[4].value, "x");
        assert_eq!(page.forms.len(), 1);
        assert!(page.scripts[0].contains("SETTINGS"));
    }
}
