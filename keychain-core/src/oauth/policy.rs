//! Where an account's credentials may go: the one check made before every request that carries
//! a password, a one-time code, a client secret, a refresh token or an authorization code.
//!
//! The rule (README, "Where credentials may go"): only over https (loopback excepted, and plain
//! http elsewhere only for an account added with `--insecure-http`), only in a POST body, and
//! only to hosts the account allows: those of its authorize and token URLs, its issuer's, its
//! provider's built-in login hosts (`providers::ProviderRules::login_hosts`: Exact Online's), and
//! those recorded with `--allow-host`. A page that
//! asks for anything else (a form posting to another host or over http, a `method=get` form, a
//! 307 that carries the form elsewhere) stops the logon before anything is sent.
#![deny(missing_docs)]

use url::Url;

use super::Endpoints;

/// Why keychain refused to send a credential. Names the step, the host and the flag that
/// would allow it; never a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialRefused {
    /// The target host is not one the account allows.
    #[error(
        "{step}: the provider asked for the credentials to go to {host}, which this account does not allow; nothing was sent"
    )]
    Host {
        /// The step that asked (e.g. "token request"); never a value.
        step: String,
        /// The host the credentials were to go to.
        host: String,
    },
    /// Not https: plain http to a host other than loopback without `--insecure-http`, or any
    /// other scheme.
    #[error(
        "{step}: the provider asked for the credentials to go over plain http to {host}; nothing was sent"
    )]
    Insecure {
        /// The step that asked.
        step: String,
        /// The host the credentials were to go to.
        host: String,
    },
    /// The server on a loopback port belongs to another user (a neighbour who took the port
    /// while the provider was down); found on the connection itself, before anything was sent.
    #[error("{step}: {reason}; nothing was sent")]
    Neighbour {
        /// The step that asked.
        step: String,
        /// The server's address and port.
        server: String,
        /// What was found ([`super::loopback::ForeignListener`]'s text).
        reason: String,
    },
    /// The credentials would travel in the URL (a `method=get` form), where logs and
    /// `Referer` headers keep them.
    #[error(
        "{step}: the provider asked for the credentials in a URL (a GET to {host}) rather than a POST body; nothing was sent"
    )]
    NotInBody {
        /// The step that asked.
        step: String,
        /// The host the credentials were to go to.
        host: String,
    },
}

impl CredentialRefused {
    /// The same refusal with the host (text from a page) scrubbed of the account's secrets.
    pub fn scrubbed(self, scrubber: &crate::scrub::Scrubber) -> Self {
        let s = |t: String| scrubber.scrub(&t);
        match self {
            CredentialRefused::Host { step, host } => CredentialRefused::Host {
                step,
                host: s(host),
            },
            CredentialRefused::Insecure { step, host } => CredentialRefused::Insecure {
                step,
                host: s(host),
            },
            CredentialRefused::NotInBody { step, host } => CredentialRefused::NotInBody {
                step,
                host: s(host),
            },
            e @ CredentialRefused::Neighbour { .. } => e,
        }
    }

    /// The refusal of a send that failed because a neighbour holds the loopback port, if
    /// that is why `e` failed.
    pub fn from_send_error(step: &str, e: &reqwest::Error) -> Option<Self> {
        super::loopback::foreign_listener(e).map(|f| CredentialRefused::Neighbour {
            step: step.to_string(),
            server: f.server.to_string(),
            reason: f.to_string(),
        })
    }
}

/// The hosts and schemes one account's credentials may go to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CredentialPolicy {
    hosts: Vec<String>,
    insecure_http: bool,
}

impl crate::advice::AccountAdvice for CredentialRefused {
    /// What a person can do about it.
    fn hint_for(&self, account: Option<&str>) -> Option<String> {
        Some(match self {
            CredentialRefused::Host { host, .. } => format!(
                "if {host} is a legitimate logon host of this provider, allow it with {}",
                crate::advice::account_command("set", account, &format!(" --allow-host {host}"))
            ),
            CredentialRefused::Insecure { host, .. } => format!(
                "use an https URL; if {host} can only be reached over http on a trusted network, allow it with {}",
                crate::advice::account_command("set", account, " --insecure-http")
            ),
            CredentialRefused::Neighbour { server, .. } => format!(
                "see who listens there ('ss -ltnpe' shows the owner's uid of {server}); start the provider as yourself or root, or give the account an https URL"
            ),
            CredentialRefused::NotInBody { .. } => {
                "keychain never puts a credential in a URL; report the provider's page (rerun with --debug-pages DIR)".into()
            }
        })
    }
}

impl CredentialPolicy {
    /// The hosts of `endpoints`, plus `extra` (issuer, built-in hosts, `--allow-host`).
    pub fn new<'a>(
        endpoints: &Endpoints,
        extra: impl IntoIterator<Item = &'a str>,
        insecure_http: bool,
    ) -> Self {
        let mut policy = CredentialPolicy {
            hosts: Vec::new(),
            insecure_http,
        };
        for url in [&endpoints.authorize, &endpoints.token] {
            if let Some(host) = url.host_str() {
                policy.allow(host);
            }
        }
        for host in extra {
            policy.allow(host);
        }
        policy
    }

    /// For an account's endpoints alone: what a test or a library caller gets by default.
    pub fn for_endpoints(endpoints: &Endpoints) -> Self {
        Self::new(endpoints, [], false)
    }

    fn allow(&mut self, host: &str) {
        let host = normalise_host(host);
        if !host.is_empty() && !self.hosts.contains(&host) {
            self.hosts.push(host);
        }
    }

    /// The allowed hosts, lowercase and without a trailing dot, in the order they were added.
    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }

    /// Checks one request that carries a credential, before it is sent. `in_post_body`: the
    /// credentials travel in the body of a POST (never in the URL).
    pub fn check(
        &self,
        step: &str,
        url: &Url,
        in_post_body: bool,
    ) -> Result<(), CredentialRefused> {
        let host = url.host_str().map(normalise_host).unwrap_or_default();
        let shown = || url.host_str().unwrap_or("(no host)").to_string();
        if !in_post_body {
            return Err(CredentialRefused::NotInBody {
                step: step.into(),
                host: shown(),
            });
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(url) || self.insecure_http => {}
            _ => {
                return Err(CredentialRefused::Insecure {
                    step: step.into(),
                    host: shown(),
                });
            }
        }
        if !self.hosts.contains(&host) {
            return Err(CredentialRefused::Host {
                step: step.into(),
                host: shown(),
            });
        }
        Ok(())
    }
}

/// Lowercase, without a trailing dot: `Login.Example.COM.` and `login.example.com` are one host.
fn normalise_host(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// `127.0.0.0/8`, `::1` or `localhost`: traffic that never leaves the machine.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether a URL given at `add`/`set` would send credentials in the clear: `http` to anything
/// but loopback.
pub fn is_insecure_http(url: &Url) -> bool {
    url.scheme() == "http" && !is_loopback(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn policy() -> CredentialPolicy {
        let endpoints = Endpoints {
            authorize: url("https://login.example.com/auth"),
            token: url("https://api.example.com/token"),
        };
        CredentialPolicy::new(&endpoints, ["Extra.Example.org."], false)
    }

    #[test]
    fn own_hosts_over_https_in_a_post_body_pass() {
        let p = policy();
        for u in [
            "https://login.example.com/login",
            "https://LOGIN.example.com./x",
            "https://api.example.com/token",
            "https://extra.example.org/",
            "https://login.example.com:8443/x",
        ] {
            assert_eq!(p.check("password", &url(u), true), Ok(()), "{u}");
        }
    }

    #[test]
    fn other_hosts_plain_http_and_urls_are_refused() {
        let p = policy();
        assert!(matches!(
            p.check("password", &url("https://evil.example.net/x"), true),
            Err(CredentialRefused::Host { host, .. }) if host == "evil.example.net"
        ));
        assert!(matches!(
            p.check(
                "password",
                &url("https://login.example.com.evil.net/"),
                true
            ),
            Err(CredentialRefused::Host { .. })
        ));
        assert!(matches!(
            p.check("password", &url("http://login.example.com/login"), true),
            Err(CredentialRefused::Insecure { .. })
        ));
        assert!(matches!(
            p.check("password", &url("https://login.example.com/login"), false),
            Err(CredentialRefused::NotInBody { .. })
        ));
        assert!(matches!(
            p.check("password", &url("ftp://login.example.com/"), true),
            Err(CredentialRefused::Insecure { .. })
        ));
    }

    #[test]
    fn loopback_may_use_http_and_insecure_accounts_may_too() {
        let endpoints = Endpoints {
            authorize: url("http://127.0.0.1:9/auth"),
            token: url("http://[::1]:9/token"),
        };
        let p = CredentialPolicy::for_endpoints(&endpoints);
        assert_eq!(p.check("x", &url("http://127.0.0.1:1/a"), true), Ok(()));
        assert_eq!(p.check("x", &url("http://[::1]/a"), true), Ok(()));
        let lan = Endpoints {
            authorize: url("http://idp.lan/auth"),
            token: url("http://idp.lan/token"),
        };
        assert!(
            CredentialPolicy::for_endpoints(&lan)
                .check("x", &url("http://idp.lan/a"), true)
                .is_err()
        );
        assert_eq!(
            CredentialPolicy::new(&lan, [], true).check("x", &url("http://idp.lan/a"), true),
            Ok(())
        );
        assert!(is_insecure_http(&url("http://idp.lan/")));
        assert!(!is_insecure_http(&url("http://localhost:8080/")));
    }
}
