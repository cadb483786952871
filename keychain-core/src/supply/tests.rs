//! When the keeper asks for the next token, on a fixed clock.

use super::*;
use crate::providers::Admission;

const NOW: i64 = 1_700_000_000;

fn exact() -> Admission {
    crate::providers::ProviderKind::Exact(crate::providers::ExactCountry::Nl)
        .provider()
        .admission()
}

#[test]
fn an_oauth2_token_is_renewed_the_margin_before_it_expires() {
    let at = refresh_at(&Admission::ANY_TIME, Some(NOW), Some(NOW + 600), 60, NOW);
    assert_eq!(at, NOW + 540);
}

#[test]
fn an_exact_token_is_renewed_no_sooner_than_570_s_after_the_last() {
    // With a margin of 60 s the engine would be asked at 540 s and answer the same token.
    let at = refresh_at(&exact(), Some(NOW), Some(NOW + 600), 60, NOW);
    assert_eq!(at, NOW + 570);
    // Asked at 560 s (the clock jumped): still 570, not now.
    let at = refresh_at(&exact(), Some(NOW), Some(NOW + 600), 60, NOW + 560);
    assert_eq!(at, NOW + 570);
}

#[test]
fn a_token_shorter_than_the_margin_is_not_asked_for_at_every_tick() {
    let at = refresh_at(&Admission::ANY_TIME, Some(NOW), Some(NOW + 30), 60, NOW);
    assert!(at > NOW && at <= NOW + 30, "{at}");
    assert_eq!(
        refresh_at(&Admission::ANY_TIME, Some(NOW), None, 60, NOW),
        i64::MAX
    );
}
