//! keychain's integration tests, in one binary: each file beside this one was its own test binary,
//! and twenty-six binaries that each link keychain and its dependencies made a build on two cores
//! slow. One module per area; `support` holds what they share (a keychain in a temporary folder,
//! LemonLDAP::NG, the Exact Online emulator, stub providers).
//!
//! Run one area with `cargo test --test it AREA::` (for example `cargo test --test it login_exact::`).

mod support;

mod architecture;
mod audit_anomalies;
mod audit_cli;
mod clock_back;
mod crash_safety;
mod demo_script;
mod docs_exit_codes;
mod exec_env_cli;
mod exec_supply;
mod failure_hook;
mod file_key_cache;
mod finding_shape;
mod header_times;
mod history;
mod hostile_files;
mod hot_paths;
mod human_output;
mod incomplete_accounts;
mod init_failure;
mod integrity_cli;
mod json_contract;
mod key_cache;
mod keystores;
mod lock_timeouts;
mod login_concurrency;
mod login_crash;
mod login_exact;
mod login_lemonldap;
mod logon_engine;
mod logon_safety;
mod loopback_owner;
mod man_page;
mod members_cli;
mod members_resume;
mod nights;
mod openbao_attacks;
mod openbao_fast_login;
mod openbao_join;
mod openbao_killed_login;
mod openbao_members;
mod openbao_requests;
mod openbao_shared;
mod openbao_store;
mod operator_cli;
mod operator_flags;
mod operator_hints;
mod output_cli;
mod plaintext_cli;
mod protocols;
mod provider_rules_shown;
mod provisioning;
mod readme;
mod references;
mod scrub_encodings;
mod secret_inputs;
mod status_cli;
mod store_cli;
mod streams_cli;
mod systemd_example;
mod totp_cli;
mod totp_per_secret;
mod umask_modes;
mod unattended;
