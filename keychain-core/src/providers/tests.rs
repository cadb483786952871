use url::Url;

use super::ProviderSettings as Settings;
use super::*;
use crate::exit::Failure as _;

/// The names records, exports and scripts already hold: never renamed, never dropped.
const NAMES: [&str; 9] = [
    "exact-nl", "exact-be", "exact-de", "exact-uk", "exact-us", "exact-es", "exact-fr", "oidc",
    "oauth2",
];

fn exact(country: ExactCountry) -> ProviderKind {
    ProviderKind::Exact(country)
}

/// No network: none of the providers tested with it discovers anything.
fn client() -> reqwest::blocking::Client {
    crate::oauth::http::client().unwrap()
}

#[test]
fn every_name_of_today_parses_and_prints_back_and_nothing_else_does() {
    for name in NAMES {
        assert_eq!(name.parse::<ProviderKind>().unwrap().to_string(), name);
    }
    let kinds = all();
    for (i, kind) in kinds.iter().enumerate() {
        assert_eq!(kind.to_string().parse(), Ok(*kind));
        assert!(!kinds[..i].contains(kind), "{kind} listed twice");
    }
    for bad in ["exact-xx", "exact-", "Exact-nl", "oidc ", "", "keycloak"] {
        let e = bad.parse::<ProviderKind>().unwrap_err().to_string();
        assert!(e.contains("use one of: exact-nl, "), "{e}");
    }
    for kind in all() {
        assert!(!kind.description().is_empty(), "{kind}");
    }
}

/// Records, exports and `--json` keep the kind as the same string as before it had a type, so
/// records written by earlier versions read unchanged.
#[test]
fn records_keep_the_kind_as_its_name() {
    let settings = Settings::new(exact(ExactCountry::Uk));
    let json = serde_json::to_value(&settings).unwrap();
    assert_eq!(json["kind"], "exact-uk");
    let back: Settings = serde_json::from_str(r#"{"kind":"oidc"}"#).unwrap();
    assert_eq!(back.kind, ProviderKind::Oidc);
    let e = serde_json::from_str::<Settings>(r#"{"kind":"evil"}"#).unwrap_err();
    assert!(
        e.to_string().contains("\"evil\" is not one keychain knows"),
        "{e}"
    );
}

#[test]
fn exact_endpoints_per_country() {
    let want = [
        (ExactCountry::Nl, "https://start.exactonline.nl/api/oauth2/"),
        (ExactCountry::Be, "https://start.exactonline.be/api/oauth2/"),
        (ExactCountry::De, "https://start.exactonline.de/api/oauth2/"),
        (
            ExactCountry::Uk,
            "https://start.exactonline.co.uk/api/oauth2/",
        ),
        (
            ExactCountry::Us,
            "https://start.exactonline.com/api/oauth2/",
        ),
        (ExactCountry::Es, "https://start.exactonline.es/api/oauth2/"),
        (ExactCountry::Fr, "https://start.exactonline.fr/api/oauth2/"),
    ];
    assert_eq!(want.len(), ExactCountry::ALL.len());
    for (country, prefix) in want {
        let kind = exact(country);
        let e = kind
            .provider()
            .endpoints(&Settings::new(kind), &client())
            .unwrap();
        assert_eq!(e.authorize.as_str(), format!("{prefix}auth"), "{kind}");
        assert_eq!(e.token.as_str(), format!("{prefix}token"), "{kind}");
    }
    let local = exact::endpoints_at(&Url::parse("http://127.0.0.1:1234").unwrap());
    assert_eq!(
        local.token.as_str(),
        "http://127.0.0.1:1234/api/oauth2/token"
    );
}

/// Explicit URLs point an Exact account at a proxy or the emulator; Exact's rules stay.
#[test]
fn explicit_urls_override_exacts_built_in_ones() {
    let kind = exact(ExactCountry::Nl);
    let settings = Settings {
        authorize_url: Some("http://127.0.0.1:9/api/oauth2/auth".into()),
        token_url: Some("http://127.0.0.1:9/api/oauth2/token".into()),
        ..Settings::new(kind)
    };
    let e = kind.provider().endpoints(&settings, &client()).unwrap();
    assert_eq!(e.token.as_str(), "http://127.0.0.1:9/api/oauth2/token");
    assert!(kind.provider().admission().counts_errors());
    assert_eq!(
        kind.provider().api_url(&settings).as_deref(),
        Some("http://127.0.0.1:9/api")
    );
}

#[test]
fn oauth2_endpoints_are_the_accounts_own_and_name_what_is_missing() {
    let kind = ProviderKind::Oauth2;
    let mut settings = Settings::new(kind);
    let e = kind.provider().endpoints(&settings, &client()).unwrap_err();
    assert_eq!(e.to_string(), "has no authorize URL");
    settings.authorize_url = Some("https://idp.example.com/auth".into());
    settings.token_url = Some("not a url".into());
    let e = kind.provider().endpoints(&settings, &client()).unwrap_err();
    assert_eq!(e.to_string(), "has a token URL that is not a URL");
    let oidc = ProviderKind::Oidc;
    let e = oidc
        .provider()
        .endpoints(&Settings::new(oidc), &client())
        .unwrap_err();
    assert_eq!(e.to_string(), "has no issuer");
}

#[test]
fn default_scopes() {
    assert_eq!(
        ProviderKind::Oidc.provider().default_scope(),
        "openid offline_access"
    );
    assert_eq!(ProviderKind::Oauth2.provider().default_scope(), "");
    assert_eq!(exact(ExactCountry::De).provider().default_scope(), "");
}

#[test]
fn exact_admits_no_new_token_within_570_s_of_the_last() {
    let a = exact(ExactCountry::Nl).provider().admission();
    let issued = 1_000_000;
    assert_eq!(a.check_interval(None, issued), Ok(()));
    assert_eq!(
        a.check_interval(Some(issued), issued + 569),
        Err(NotAdmitted::TooSoon {
            provider: "Exact Online",
            interval: 570,
            wait: 1
        })
    );
    let e = a.check_interval(Some(issued), issued).unwrap_err();
    assert_eq!(
        e.to_string(),
        "Exact Online allows a new access token 570 s after the previous one"
    );
    assert_eq!(e.hint().as_deref(), Some("try again in 570 s"));
    assert_eq!(a.check_interval(Some(issued), issued + 570), Ok(()));
    // A token "issued" in the future (a clock set back) may be seconds old: the full interval,
    // never more (`login` stores the time as now, so it does not block for ever).
    assert!(matches!(
        a.check_interval(Some(issued), issued - 1),
        Err(NotAdmitted::TooSoon { wait: 570, .. })
    ));
    assert_eq!(a.check_interval(Some(i64::MIN), i64::MAX), Ok(()));
}

#[test]
fn exact_stops_at_8_errors_in_the_last_hour_and_forgets_older_ones() {
    let a = exact(ExactCountry::Nl).provider().admission();
    let now = 1_000_000;
    let mut errors: Vec<i64> = (0..7).map(|i| now - 60 * i).collect();
    errors.push(now - 3600); // an hour old: forgotten
    assert_eq!(a.check_errors(&mut errors, now), Ok(()));
    assert_eq!(errors.len(), 7);
    errors.push(now);
    let e = a.check_errors(&mut errors, now).unwrap_err();
    assert_eq!(
        e,
        NotAdmitted::ErrorBudgetSpent {
            provider: "Exact Online",
            errors: 8,
            limit: 10,
            retry_at: now - 360 + 3600,
        }
    );
    assert!(
        e.to_string()
            == "8 errors from Exact Online in the last hour: keychain stops before Exact Online blocks the app (10 per hour)",
        "{e}"
    );
    assert!(
        e.hint().is_some_and(|h| h.starts_with("try again after ")),
        "{:?}",
        e.hint()
    );
}

#[test]
fn only_exact_has_admission_rules() {
    for kind in [ProviderKind::Oidc, ProviderKind::Oauth2] {
        let a = kind.provider().admission();
        assert!(!a.counts_errors());
        let mut errors = vec![0; 100];
        assert_eq!(a.check_errors(&mut errors, 1), Ok(()));
        assert_eq!(a.check_interval(Some(1), 1), Ok(()));
    }
}

#[test]
fn exacts_login_hosts_are_its_countrys() {
    assert_eq!(
        exact(ExactCountry::Uk).provider().login_hosts(),
        ["start.exactonline.co.uk", "login.exactonline.co.uk"]
    );
    assert!(ProviderKind::Oidc.provider().login_hosts().is_empty());
    assert_eq!(
        exact(ExactCountry::Us)
            .provider()
            .api_url(&Settings::new(exact(ExactCountry::Us)))
            .as_deref(),
        Some("https://start.exactonline.com/api")
    );
    assert_eq!(
        ProviderKind::Oauth2
            .provider()
            .api_url(&Settings::new(ProviderKind::Oauth2)),
        None
    );
}

#[test]
fn every_provider_is_logged_on_to_headlessly_with_the_adapters_it_needs() {
    for kind in all() {
        assert_eq!(kind.provider().grant(), Grant::HeadlessBrowser, "{kind}");
        assert!(
            kind.provider()
                .page_adapters()
                .contains(&PageAdapter::HtmlForm),
            "{kind}"
        );
    }
    assert!(
        exact(ExactCountry::Nl)
            .provider()
            .page_adapters()
            .contains(&PageAdapter::AzureB2c)
    );
}

#[test]
fn each_kind_checks_its_own_settings() {
    let rule = ProviderRule::Complete;
    let oidc = ProviderKind::Oidc;
    assert!(oidc.provider().check(&Settings::new(oidc), rule).is_err());
    let oauth2 = ProviderKind::Oauth2;
    let bare = Settings::new(oauth2);
    assert!(oauth2.provider().check(&bare, rule).is_err());
    assert!(
        oauth2
            .provider()
            .check(&bare, ProviderRule::FromSettings)
            .is_ok()
    );
    let nl = exact(ExactCountry::Nl);
    let with_issuer = Settings {
        issuer: Some("https://login.example.com".into()),
        ..Settings::new(nl)
    };
    let e = nl.provider().check(&with_issuer, rule).unwrap_err();
    assert!(e.message.contains("leave out --issuer"), "{e:?}");
    assert!(nl.provider().check(&Settings::new(nl), rule).is_ok());
}

#[test]
fn maps_api_urls_to_providers() {
    for (url, want) in [
        ("https://start.exactonline.nl", "exact-nl"),
        ("https://start.exactonline.be/api", "exact-be"),
        ("https://start.exactonline.de", "exact-de"),
        ("https://start.exactonline.co.uk", "exact-uk"),
        ("https://start.exactonline.com", "exact-us"),
        ("https://start.exactonline.es", "exact-es"),
        ("https://START.ExactOnline.FR", "exact-fr"),
        ("https://start.exactonline.nl.evil.example", "oauth2"),
        ("https://notexactonline.nl", "oauth2"),
        ("http://start.exactonline.nl", "oauth2"),
        ("https://login.example.org/oauth2", "oauth2"),
        ("not a url", "oauth2"),
    ] {
        assert_eq!(for_api_url(url).to_string(), want, "{url}");
    }
}

#[test]
fn the_570_s_rule_with_a_previous_token_in_the_future_waits_the_interval_and_no_longer() {
    let exact = crate::providers::ProviderKind::from_name("exact-nl")
        .unwrap()
        .provider()
        .admission();
    let now: i64 = 1_800_000_000;
    for ahead in [1, 570, 86_400, i64::MAX / 2] {
        match exact.check_interval(Some(now.saturating_add(ahead)), now) {
            Err(NotAdmitted::TooSoon { wait, .. }) => assert_eq!(wait, 570, "{ahead}"),
            other => panic!("{ahead}: {other:?}"),
        }
    }
    assert!(exact.check_interval(Some(i64::MIN), now).is_ok());
    let mut errors = vec![now + 86_400; 8];
    assert!(
        exact.check_errors(&mut errors, now).is_err(),
        "future errors count"
    );
}
