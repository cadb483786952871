//! Many `keychain login` processes at the same moment on one account whose token has expired:
//! exactly one refresh reaches the provider (Exact's single-use refresh tokens would break the
//! chain otherwise), and every process prints the same valid token.

use crate::support;

use support::exact_emulator::Config;
use support::login::Exact;
use support::stampede::stampede;
use support::{Kc, assert_success};

const PROCESSES: usize = 32;
const ROUNDS: usize = 4;

#[test]
fn thirty_two_simultaneous_logins_make_one_refresh_and_print_one_token() {
    let mut exact = Exact::start(Config::default());
    let kc = Kc::with_file_store();
    exact.add(&kc, "ex", &Config::default().password);
    exact.ok(&kc, &["login", "ex"]);

    for round in 0..ROUNDS {
        // The token expires now, and the 570 s rule allows a refresh.
        exact.advance(600);
        let before = exact.stats();
        let outputs = stampede(PROCESSES, || {
            let mut cmd = exact.std_cmd(&kc);
            cmd.args(["login", "ex"]);
            cmd
        });
        let after = exact.stats();
        for out in &outputs {
            assert_success(out, &["login", "ex"]);
        }
        let token = String::from_utf8(outputs[0].stdout.clone()).unwrap();
        assert!(
            outputs.iter().all(|o| o.stdout == token.as_bytes()),
            "round {round}: the processes printed different tokens"
        );
        assert_eq!(
            after.token_requests - before.token_requests,
            1,
            "round {round}: exactly one token request"
        );
        assert_eq!(
            (
                after.refreshes - before.refreshes,
                after.logons,
                after.errors
            ),
            (1, 1, 0),
            "round {round}"
        );
        // The token printed is the one stored, and it is valid: a later call serves it from the
        // cache without asking the provider.
        assert_eq!(exact.ok(&kc, &["login", "ex"]), token);
        assert_eq!(exact.stats().token_requests, after.token_requests);
        eprintln!("round {round}: {PROCESSES} processes, 1 token request, 1 token");
    }
}
