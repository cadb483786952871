//! `keychain set`: change fields of an account, under its lock, compared with what was read.

use crate::cli::SetArgs;
use crate::error::{Error, Result};
use crate::keychain::Keychain;
use crate::record::SecretField;
use crate::store::Expect;

use super::secrets::{self, Wanted};

pub fn run(kc: &Keychain, args: SetArgs) -> Result<()> {
    let now = crate::clock::now();
    kc.identity()?;
    let lock = kc.lock(&args.name)?;
    let (mut account, revision) = kc.read(&args.name)?;

    super::provider::apply(&mut account.header.provider, &args.provider)?;
    if let Some(user) = &args.user {
        account.header.user = user.clone();
    }
    let wanted = Wanted {
        password: false,
        password_required: false,
        totp: false,
        client_secret: false,
    };
    secrets::read_into(&mut account, &args.secrets, wanted, now)?;
    for field in &args.clear {
        let field = SecretField::from(*field);
        if !account.header.has(field) {
            return Err(Error::usage(format!(
                "account '{}' has no {field} to clear",
                args.name
            )));
        }
        account.set_secret(field, None, now);
        if field == SecretField::TotpSecret {
            account.header.totp = None;
        }
        if field == SecretField::AccessToken {
            account.header.access_token_expires = None;
        }
    }
    account.header.updated = now;
    kc.save(&*lock, Expect::At(revision), &account)?;
    eprintln!("Updated account '{}'.", args.name);
    Ok(())
}
