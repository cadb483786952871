//! `--min-valid` against the access token's lifetime (issue 23): a margin the token can never
//! have left means no token is served from the cache once the provider allows a new one, so
//! each call asks for one. keychain says so, with the lifetime, on every such call (a job's log
//! shows it). It does not refuse: asking for more validity than the cache has is also how a
//! person forces one refresh. The provider is not hammered: Exact's 570 s rule still serves the
//! last token within 570 s of issuing it (`providers::Admission`), whatever `--min-valid` says.

use crate::record::Header;

/// `Options::min_valid` of a caller that refuses the cache on purpose (`refresh`): no warning.
pub const REFUSE_CACHE: i64 = i64::MAX;

/// The lifetime of the account's access tokens and where it comes from: the provider's own
/// (Exact's 10 minutes), else what the provider granted the last token (`expires - issued`);
/// `None` before any token of a provider that states none.
fn lifetime(h: &Header) -> Option<(i64, &'static str)> {
    if let Some(secs) = h.provider.kind.provider().access_token_lifetime() {
        return Some((secs, "lives"));
    }
    let granted = h
        .access_token_expires?
        .checked_sub(h.access_token_issued?)?;
    (granted > 0).then_some((granted, "was granted for"))
}

/// The warning for a `min_valid` no access token of `h`'s account can satisfy, if it is one.
pub fn warning(h: &Header, min_valid: i64) -> Option<String> {
    if min_valid == REFUSE_CACHE {
        return None;
    }
    let (secs, how) = lifetime(h)?;
    // Every login passes here: nothing is formatted unless there is something to say.
    if min_valid < secs {
        return None;
    }
    let admission = h.provider.kind.provider().admission();
    let bounded = match admission.check_interval(Some(0), 0) {
        Err(crate::providers::NotAdmitted::TooSoon { interval, .. }) => format!(
            " once the provider allows one ({interval} s after the last; until then the last is served)"
        ),
        _ => String::new(),
    };
    Some(format!(
        "warning: --min-valid {min_valid} is not less than the access token's lifetime ({} {how} {secs} s): no token can have that much left, so every call asks the provider for a new one{bounded}; give --min-valid less than {secs} (the default is 60)\n",
        if how == "lives" {
            format!("an access token of {}", h.provider.kind)
        } else {
            "the last access token".to_string()
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::{ExactCountry, ProviderKind, ProviderSettings};

    fn header(kind: ProviderKind) -> Header {
        Header::new("a", ProviderSettings::new(kind), "u".into(), 1_700_000_000)
    }

    #[test]
    fn exacts_ten_minutes_are_known_before_any_token() {
        let h = header(ProviderKind::Exact(ExactCountry::Nl));
        assert!(warning(&h, 540).is_none());
        let w = warning(&h, 900).unwrap();
        assert!(w.contains("600 s") && w.contains("570 s"), "{w}");
        assert!(warning(&h, REFUSE_CACHE).is_none());
    }

    #[test]
    fn another_providers_lifetime_is_its_last_granted_one() {
        let mut h = header(ProviderKind::Oauth2);
        assert!(
            warning(&h, 100_000).is_none(),
            "no token yet: nothing known"
        );
        h.access_token_issued = Some(1_700_000_000);
        h.access_token_expires = Some(1_700_000_300);
        assert!(warning(&h, 299).is_none());
        let w = warning(&h, 300).unwrap();
        assert!(w.contains("300 s") && !w.contains("570"), "{w}");
    }
}
