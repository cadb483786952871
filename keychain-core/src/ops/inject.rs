//! `keychain inject`'s rendering: a parsed template with each `{{ keychain://ACCOUNT/FIELD }}`
//! replaced by its value. Every value is obtained (each secret and TOTP code recorded in the
//! audit log) before any text is returned, and a failure returns none; where the result goes
//! (a 0600 file, written atomically, or standard output) is the front end's.
#![deny(missing_docs)]

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use super::resolve::Resolver;
use crate::error::Result;
use crate::keychain::Keychain;
use crate::reference::Piece;

use super::login::Options;

/// What to render.
pub struct InjectOptions<'a, 't> {
    /// The template, parsed (`crate::reference::parse_template`).
    pub pieces: &'a [Piece<'t>],
    /// The template's length in bytes: the room the result starts with.
    pub template_len: usize,
    /// How access tokens are obtained.
    pub login: &'a Options,
}

/// The template with every reference replaced by its value.
pub fn render(kc: &Keychain, opts: &InjectOptions<'_, '_>) -> Result<Zeroizing<String>> {
    let pieces = opts.pieces;
    let mut resolver = Resolver::new(kc, opts.login, "inject");
    resolver.prepare(pieces.iter().filter_map(|p| match p {
        Piece::Ref(r) => Some(r),
        Piece::Text(_) => None,
    }))?;
    let mut rendered = Zeroizing::new(String::with_capacity(opts.template_len));
    for piece in pieces {
        match piece {
            Piece::Text(t) => rendered.push_str(t),
            Piece::Ref(r) => rendered.push_str(resolver.value(r)?.text.expose_secret()),
        }
    }
    Ok(rendered)
}
