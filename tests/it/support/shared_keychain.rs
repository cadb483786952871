//! Several machines sharing one keychain on a real OpenBao, for the tests of issue 7.
//!
//! A "machine" is a keychain folder of its own (its own identity, its own key store) that
//! logs in to OpenBao with an AppRole of its own, whose policy allows only the keychain's path.
//! The role id and secret id are files (0600), as on a real server; no test puts a secret of
//! OpenBao in keychain's argument list or environment.
//!
//! The OpenBao server is [`super::openbao::Bao`] (`../shared/openbao/start.sh`: a dev server, in
//! memory), or, for the test that stops and restarts OpenBao mid-run, [`Bao::persistent`] added
//! here: a real server with integrated (raft) storage on disk, initialised with one unseal key
//! and unsealed by the harness, so that its data survives a restart. Administration (mounts,
//! policies, AppRoles) goes through the `bao` binary with the root token in its environment.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keychain::store::openbao::AuthSettings;

use super::Kc;
use super::openbao::{Bao, ROOT_TOKEN, free_port, write_private};

/// A persistent server's configuration: raft storage on disk, the listener on `port`, and a
/// file audit device like `start.sh`'s.
fn persistent_config(base: &Path, port: u16, cluster_port: u16) -> String {
    let b = base.display();
    format!(
        r#"storage "raft" {{
  path = "{b}/data"
  node_id = "n1"
}}
listener "tcp" {{
  address = "127.0.0.1:{port}"
  cluster_address = "127.0.0.1:{cluster_port}"
  tls_disable = true
}}
api_addr = "http://127.0.0.1:{port}"
cluster_addr = "http://127.0.0.1:{cluster_port}"
audit "file" "file" {{
  options {{
    file_path = "{b}/audit.log"
  }}
}}
"#
    )
}

/// What the harness adds to [`Bao`] for several machines: a server that survives a restart,
/// and root's view of the keys (to check what a machine left there, or to tamper with it).
impl Bao {
    /// A server that keeps its data on disk (raft storage), initialised with one unseal key and
    /// unsealed: the dev server keeps everything in memory, so only this one can be stopped and
    /// started again without losing the records. The first unseal waits for raft to elect
    /// itself leader (about 10 s); later ones take a fraction of a second. Root's token is then
    /// [`ROOT_TOKEN`], as on the dev server, so every helper of [`Bao`] works on it.
    pub fn persistent() -> Bao {
        let port = free_port();
        let base = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(base.path().join("data")).unwrap();
        std::fs::write(
            base.path().join("server.hcl"),
            persistent_config(base.path(), port, free_port()),
        )
        .unwrap();
        let mut bao = Bao {
            addr: format!("http://127.0.0.1:{port}"),
            port,
            ca_cert: None,
            base,
            pid: 0,
            child: None,
        };
        bao.start_again();
        let init = Command::new("bao")
            .args([
                "operator",
                "init",
                "-key-shares=1",
                "-key-threshold=1",
                "-format=json",
            ])
            .env("BAO_ADDR", &bao.addr)
            .output()
            .expect("run bao (install it with 'sh ../shared/openbao/install.sh')");
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        let init: serde_json::Value = serde_json::from_slice(&init.stdout).unwrap();
        write_private(
            &bao.base.path().join("unseal.key"),
            init["unseal_keys_b64"][0].as_str().unwrap(),
        );
        bao.unseal();
        // A root token with the dev server's id, made with the generated one (given to bao in
        // its environment, never in an argument).
        let out = Command::new("bao")
            .args([
                "token",
                "create",
                &format!("-id={ROOT_TOKEN}"),
                "-policy=root",
                "-orphan",
            ])
            .env("BAO_ADDR", &bao.addr)
            .env("BAO_TOKEN", init["root_token"].as_str().unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        bao
    }

    /// The server's process id, for a test that pauses it (SIGSTOP) to make OpenBao hang.
    pub fn pid_for_tests(&self) -> u32 {
        self.pid
    }

    /// Starts a stopped persistent server again; it is sealed until [`Bao::unseal`].
    pub fn start_again(&mut self) {
        let config = self.base.path().join("server.hcl");
        assert!(
            config.exists(),
            "only a persistent server keeps its data over a restart"
        );
        // The previous server must be gone, not just deaf: it holds the raft database's lock
        // until it exits.
        let start = Instant::now();
        while self.pid != 0 && Path::new(&format!("/proc/{}", self.pid)).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "OpenBao (pid {}) did not exit",
                self.pid
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Started by a shell that exits at once, as start.sh does: the server is nobody's child
        // here, so it is reaped when it exits and its pid tells whether it still runs.
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"setsid bao server -config="$1" >>"$2" 2>&1 </dev/null & echo $!"#)
            .arg("bash")
            .arg(&config)
            .arg(self.base.path().join("server.log"))
            .output()
            .expect("start bao server (install it with 'sh ../shared/openbao/install.sh')");
        self.pid = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("the server's pid");
        self.wait_for_health(|status| status.is_some(), "answered");
    }

    /// Unseals a persistent server and waits until it serves as the active node.
    pub fn unseal(&self) {
        let key = std::fs::read_to_string(self.base.path().join("unseal.key")).unwrap();
        // The key goes to curl on standard input, not into an argument list.
        let mut curl = Command::new("curl")
            .args([
                "-sf",
                "-o",
                "/dev/null",
                "-X",
                "POST",
                "--data-binary",
                "@-",
            ])
            .arg(format!("{}/v1/sys/unseal", self.addr))
            .stdin(Stdio::piped())
            .spawn()
            .expect("curl");
        let body = serde_json::json!({ "key": key.trim() }).to_string();
        std::io::Write::write_all(&mut curl.stdin.take().unwrap(), body.as_bytes()).unwrap();
        assert!(
            curl.wait().unwrap().success(),
            "unsealing {} failed",
            self.addr
        );
        self.wait_for_health(
            |status| status == Some(200),
            "became active after unsealing",
        );
    }

    /// `/v1/sys/health`'s status code (200 active, 503 sealed, ...), or `None` when nothing
    /// answers.
    fn health(&self) -> Option<u16> {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "2",
            ])
            .arg(format!("{}/v1/sys/health", self.addr))
            .output()
            .expect("curl");
        let code: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
        (code != 0).then_some(code)
    }

    fn wait_for_health(&self, done: impl Fn(Option<u16>) -> bool, what: &str) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if done(self.health()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "OpenBao on {} never {what}; log:\n{}",
            self.addr,
            std::fs::read_to_string(self.base.path().join("server.log")).unwrap_or_default()
        );
    }

    /// A KV v2 key as root reads it (`bao kv get -format=json`), `None` when absent.
    pub fn kv_get(&self, mount: &str, key: &str) -> Option<serde_json::Value> {
        let out = self.bao_output(
            &["kv", "get", "-format=json", &format!("-mount={mount}"), key],
            None,
        );
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("bao kv get -format=json"))
    }

    /// Writes `data` as root over whatever `key` holds (a check-and-set on its current version,
    /// as `cas_required` demands): what someone with write access to the store could do.
    pub fn kv_put(&self, mount: &str, key: &str, data: &serde_json::Value) {
        let out = self.bao_output(
            &[
                "kv",
                "metadata",
                "get",
                "-format=json",
                &format!("-mount={mount}"),
                key,
            ],
            None,
        );
        let version = if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            v["data"]["current_version"].as_u64().unwrap_or(0)
        } else {
            0
        };
        let out = self.bao_output(
            &[
                "kv",
                "put",
                &format!("-mount={mount}"),
                &format!("-cas={version}"),
                key,
                "-",
            ],
            Some(&data.to_string()),
        );
        assert!(
            out.status.success(),
            "kv put {key}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Removes `key` with every version and its metadata, as root.
    pub fn kv_destroy(&self, mount: &str, key: &str) {
        self.bao(&["kv", "metadata", "delete", &format!("-mount={mount}"), key]);
    }

    /// The keys under `mount`/`prefix` (recursively), as root sees them.
    pub fn kv_keys(&self, mount: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut stack = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(folder) = stack.pop() {
            let out = self.bao_output(
                &[
                    "kv",
                    "list",
                    "-format=json",
                    &format!("-mount={mount}"),
                    &folder,
                ],
                None,
            );
            if !out.status.success() {
                continue;
            }
            let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
            for name in names {
                let full = format!("{folder}/{name}");
                if name.ends_with('/') {
                    stack.push(full.trim_end_matches('/').to_string());
                } else {
                    keys.push(full);
                }
            }
        }
        keys.sort();
        keys
    }

    /// The server's audit log, one JSON object per line (every value HMAC'd by OpenBao).
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        self.audit_log()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

/// How long a machine's command waits for an account's lock: longer than OpenBao's lease
/// (30 s unless a test shortens it), so that a dead holder's lease runs out within it.
pub const LOCK_TIMEOUT_SECONDS: u64 = 120;

/// An AppRole's credentials, as files.
pub struct AppRole {
    pub role: String,
    pub role_id_file: PathBuf,
    pub secret_id_file: PathBuf,
}

/// One machine of a shared keychain: its own keychain folder (identity and key store) and its
/// own AppRole.
pub struct Machine {
    pub name: String,
    pub kc: Kc,
    pub approle: AppRole,
    pub mount: String,
    pub prefix: String,
    pub addr: String,
    /// `KEYCHAIN_OPENBAO_LEASE` of this machine's commands, when a test shortens the lease.
    pub lease_seconds: Option<u64>,
}

impl Machine {
    /// A machine called `name` for the keychain at `mount`/`prefix`, with an AppRole whose
    /// policy allows `policy_prefix` (the same prefix, except for the intruder of a test).
    pub fn new(bao: &Bao, name: &str, mount: &str, prefix: &str, policy_prefix: &str) -> Machine {
        let kc = Kc::new();
        let dir = kc.tmp.path().join("approle");
        std::fs::create_dir_all(&dir).unwrap();
        let role = format!("{mount}-{name}");
        let auth = bao.approle(
            &role,
            &Bao::keychain_policy(mount, policy_prefix),
            "15m",
            &dir,
        );
        let AuthSettings::AppRole {
            role_id_file,
            secret_id_file,
        } = auth
        else {
            unreachable!("Bao::approle gives AppRole settings")
        };
        let approle = AppRole {
            role,
            role_id_file,
            secret_id_file,
        };
        Machine {
            name: name.to_string(),
            kc,
            approle,
            mount: mount.to_string(),
            prefix: prefix.to_string(),
            addr: bao.addr.clone(),
            lease_seconds: None,
        }
    }

    /// `init --store openbao` for this machine: the first member creates the keychain; a later
    /// one `--join`s and prints its recipient for a member to add.
    pub fn init_args(&self, key_store: &str, join: bool) -> Vec<String> {
        let mut args: Vec<String> = [
            "init",
            "--store",
            "openbao",
            "--addr",
            &self.addr,
            "--mount",
            &self.mount,
            "--path",
            &self.prefix,
            "--role-id-file",
            self.approle.role_id_file.to_str().unwrap(),
            "--secret-id-file",
            self.approle.secret_id_file.to_str().unwrap(),
            "--key-store",
            key_store,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if join {
            args.push("--join".into());
        }
        args
    }

    /// A keychain command of this machine: no OpenBao token or address from the test's own
    /// environment (it logs in with its AppRole files only), a lock timeout of
    /// [`LOCK_TIMEOUT_SECONDS`], and the machine's lease if a test shortened it.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.kc.cmd();
        for var in ["BAO_TOKEN", "VAULT_TOKEN", "BAO_ADDR", "VAULT_ADDR"] {
            cmd.env_remove(var);
        }
        cmd.env("KEYCHAIN_LOCK_TIMEOUT", LOCK_TIMEOUT_SECONDS.to_string());
        match self.lease_seconds {
            Some(lease) => cmd.env("KEYCHAIN_OPENBAO_LEASE", lease.to_string()),
            None => cmd.env_remove("KEYCHAIN_OPENBAO_LEASE"),
        };
        cmd
    }

    pub fn std_cmd(&self) -> Command {
        let mut cmd = self.kc.std_cmd();
        for var in ["BAO_TOKEN", "VAULT_TOKEN", "BAO_ADDR", "VAULT_ADDR"] {
            cmd.env_remove(var);
        }
        cmd.env("KEYCHAIN_LOCK_TIMEOUT", LOCK_TIMEOUT_SECONDS.to_string());
        match self.lease_seconds {
            Some(lease) => cmd.env("KEYCHAIN_OPENBAO_LEASE", lease.to_string()),
            None => cmd.env_remove("KEYCHAIN_OPENBAO_LEASE"),
        };
        cmd
    }

    pub fn run(&self, args: &[&str]) -> std::process::Output {
        self.cmd().args(args).output().unwrap()
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        super::assert_success(&out, args);
        String::from_utf8(out.stdout).unwrap()
    }
}
