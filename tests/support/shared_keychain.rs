//! Several machines sharing one keychain on a real OpenBao, for the tests of issue 7.
//!
//! A "machine" is a keychain folder of its own (its own identity, its own key store) that
//! logs in to OpenBao with an AppRole of its own, whose policy allows only the keychain's path.
//! The role id and secret id are files (0600), as on a real server; no test puts a secret of
//! OpenBao in keychain's argument list or environment.
//!
//! The OpenBao server comes from `../shared/openbao` (`start.sh`: a dev server, in memory), or,
//! for the test that stops and restarts OpenBao mid-run, [`Bao::persistent`]: a real server with
//! integrated (raft) storage on disk, initialised with one unseal key and unsealed by the
//! harness, so that its data survives a restart. Administration (mounts, policies, AppRoles) goes
//! through the `bao` binary with the root token in its environment.
#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use super::{Kc, free_port};

/// Fails loudly when OpenBao is not installed: a test of the shared store must never pass
/// without having run against one.
pub fn require_bao() -> PathBuf {
    let found = Command::new("bao")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "OpenBao ('bao') not found on PATH: install it with sh ../shared/openbao/install.sh (as root), or run .ci/run"
    );
    PathBuf::from("bao")
}

fn shared_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/openbao")
}

/// How the server was started, and so how it is restarted.
enum Kind {
    /// `start.sh`: in memory, unsealed, root token given.
    Dev,
    /// Raft storage under `base/data`; after a start it is sealed until [`Bao::unseal`].
    Persistent { unseal_key: String },
}

/// One OpenBao server on loopback, stopped when dropped.
pub struct Bao {
    /// `http://127.0.0.1:PORT`
    pub addr: String,
    pub port: u16,
    /// The root token (a throwaway server's): for administration by the harness only.
    root_token: String,
    pub base: tempfile::TempDir,
    pid: Option<u32>,
    kind: Kind,
    approle_enabled: std::cell::Cell<bool>,
}

static MOUNTS: AtomicU32 = AtomicU32::new(0);

impl Bao {
    /// A dev server from `../shared/openbao/start.sh`, with its file audit device.
    pub fn dev() -> Bao {
        require_bao();
        let port = free_port();
        let base = tempfile::tempdir().expect("temp dir");
        let out = Command::new("bash")
            .arg(shared_dir().join("start.sh"))
            .env("PORT", port.to_string())
            .env("BASE", base.path())
            .env("TOKEN", "root-of-a-test-server")
            .output()
            .expect("run ../shared/openbao/start.sh");
        let pid = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok());
        let (true, Some(pid)) = (out.status.success(), pid) else {
            panic!(
                "OpenBao did not start on port {port}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        Bao {
            addr: format!("http://127.0.0.1:{port}"),
            port,
            root_token: "root-of-a-test-server".into(),
            base,
            pid: Some(pid),
            kind: Kind::Dev,
            approle_enabled: false.into(),
        }
    }

    /// A server that keeps its data on disk (raft storage), initialised with one unseal key and
    /// unsealed: the dev server keeps everything in memory, so only this one can be stopped and
    /// started again without losing the records. The first unseal waits for raft to elect
    /// itself leader (about 10 s); later ones take a fraction of a second.
    pub fn persistent() -> Bao {
        require_bao();
        let port = free_port();
        let cluster_port = free_port();
        let base = tempfile::tempdir().expect("temp dir");
        let b = base.path().display().to_string();
        std::fs::create_dir(base.path().join("data")).unwrap();
        std::fs::write(
            base.path().join("server.hcl"),
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
            ),
        )
        .unwrap();
        let mut bao = Bao {
            addr: format!("http://127.0.0.1:{port}"),
            port,
            root_token: String::new(),
            base,
            pid: None,
            kind: Kind::Persistent {
                unseal_key: String::new(),
            },
            approle_enabled: false.into(),
        };
        bao.start_server();
        let init = bao.bao_cmd(&[
            "operator",
            "init",
            "-key-shares=1",
            "-key-threshold=1",
            "-format=json",
        ]);
        let init: serde_json::Value = serde_json::from_str(&init).expect("init answer");
        bao.root_token = init["root_token"].as_str().unwrap().to_string();
        bao.kind = Kind::Persistent {
            unseal_key: init["unseal_keys_b64"][0].as_str().unwrap().to_string(),
        };
        bao.unseal();
        bao
    }

    fn start_server(&mut self) {
        assert!(self.pid.is_none(), "OpenBao is already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.base.path().join("server.log"))
            .unwrap();
        let child = Command::new("setsid")
            .arg("bao")
            .arg("server")
            .arg(format!(
                "-config={}",
                self.base.path().join("server.hcl").display()
            ))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start bao server");
        self.pid = Some(child.id());
        self.wait_until(|status| status.is_some(), "answers");
    }

    /// `/v1/sys/health`'s status code, or `None` when nothing answers.
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

    fn wait_until(&self, done: impl Fn(Option<u16>) -> bool, what: &str) {
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

    /// Unseals a persistent server and waits until it serves as the active node.
    pub fn unseal(&self) {
        let Kind::Persistent { unseal_key } = &self.kind else {
            panic!("a dev server is never sealed")
        };
        // The key goes on standard input, not into curl's argument list.
        let mut child = Command::new("curl")
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
            .unwrap();
        use std::io::Write;
        write!(
            child.stdin.take().unwrap(),
            "{}",
            serde_json::json!({ "key": unseal_key })
        )
        .unwrap();
        assert!(child.wait().unwrap().success(), "unseal failed");
        self.wait_until(
            |status| status == Some(200),
            "became active after unsealing",
        );
    }

    /// Stops the server (SIGTERM) and waits until its port refuses connections.
    pub fn stop(&mut self) {
        let pid = self.pid.take().expect("OpenBao is not running");
        let _ = Command::new("kill").arg(pid.to_string()).status();
        self.wait_until(|status| status.is_none(), "stopped");
    }

    /// Starts a stopped persistent server again; it is sealed until [`Bao::unseal`].
    pub fn start_sealed(&mut self) {
        assert!(
            matches!(self.kind, Kind::Persistent { .. }),
            "a dev server loses its data"
        );
        self.start_server();
    }

    /// Runs `bao ARGS` against this server as root; returns stdout, panics on failure.
    pub fn bao_cmd(&self, args: &[&str]) -> String {
        self.bao_stdin(args, "")
    }

    /// Runs `bao ARGS` with `stdin` (a policy, say) on its standard input.
    pub fn bao_stdin(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write;
        let mut child = Command::new("bao")
            .args(args)
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root_token)
            .env_remove("VAULT_TOKEN")
            .env_remove("VAULT_ADDR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run bao");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bao {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A new KV version 2 mount of its own for one test, with `cas_required` set as the README
    /// tells an administrator to.
    pub fn new_mount(&self) -> String {
        let mount = format!(
            "t{}-{}",
            std::process::id(),
            MOUNTS.fetch_add(1, Ordering::Relaxed)
        );
        self.bao_cmd(&[
            "secrets",
            "enable",
            &format!("-path={mount}"),
            "-version=2",
            "kv",
        ]);
        self.bao_cmd(&["write", &format!("{mount}/config"), "cas_required=true"]);
        mount
    }

    /// An AppRole `role` whose policy allows exactly the keychain under `mount`/`prefix`, as the
    /// README's "Several machines" section writes it; its role id and secret id as 0600 files in
    /// `dir`.
    pub fn approle(&self, role: &str, mount: &str, prefix: &str, dir: &Path) -> AppRole {
        if !self.approle_enabled.get() {
            self.bao_cmd(&["auth", "enable", "approle"]);
            self.approle_enabled.set(true);
        }
        let policy = format!("kc-{role}");
        self.bao_stdin(
            &["policy", "write", &policy, "-"],
            &keychain_policy(mount, prefix),
        );
        self.bao_cmd(&[
            "write",
            &format!("auth/approle/role/{role}"),
            &format!("token_policies={policy}"),
            "token_ttl=15m",
            "token_max_ttl=1h",
        ]);
        let role_id = self.bao_cmd(&[
            "read",
            "-field=role_id",
            &format!("auth/approle/role/{role}/role-id"),
        ]);
        let secret_id = self.bao_cmd(&[
            "write",
            "-f",
            "-field=secret_id",
            &format!("auth/approle/role/{role}/secret-id"),
        ]);
        std::fs::create_dir_all(dir).unwrap();
        let role_id_file = private_file(&dir.join(format!("{role}.role-id")), role_id.trim());
        let secret_id_file = private_file(&dir.join(format!("{role}.secret-id")), secret_id.trim());
        AppRole {
            role: role.to_string(),
            role_id_file,
            secret_id_file,
        }
    }

    /// The data of a KV v2 key as root sees it (`None` when absent).
    pub fn kv_get(&self, mount: &str, key: &str) -> Option<serde_json::Value> {
        let out = Command::new("bao")
            .args(["kv", "get", "-format=json", &format!("-mount={mount}"), key])
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root_token)
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).expect("bao kv get -format=json"))
    }

    /// Writes `data` as root over whatever `key` holds (a check-and-set on the version read,
    /// as `cas_required` demands): what someone with write access to the store could do.
    pub fn kv_put(&self, mount: &str, key: &str, data: &serde_json::Value) {
        let version = self
            .kv_get(mount, key)
            .map_or(0, |e| e["data"]["metadata"]["version"].as_u64().unwrap());
        let version = if version == 0 {
            self.kv_metadata_version(mount, key)
        } else {
            version
        };
        self.bao_stdin(
            &[
                "kv",
                "put",
                &format!("-mount={mount}"),
                &format!("-cas={version}"),
                key,
                "-",
            ],
            &data.to_string(),
        );
    }

    /// The current version of `key` even when it is deleted (0 when it never existed).
    fn kv_metadata_version(&self, mount: &str, key: &str) -> u64 {
        let out = Command::new("bao")
            .args([
                "kv",
                "metadata",
                "get",
                "-format=json",
                &format!("-mount={mount}"),
                key,
            ])
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", &self.root_token)
            .output()
            .unwrap();
        if !out.status.success() {
            return 0;
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["data"]["current_version"].as_u64().unwrap_or(0)
    }

    /// Removes `key` with every version and its metadata, as root.
    pub fn kv_destroy(&self, mount: &str, key: &str) {
        self.bao_cmd(&["kv", "metadata", "delete", &format!("-mount={mount}"), key]);
    }

    /// The keys under `mount`/`prefix` (recursively), as root sees them.
    pub fn kv_keys(&self, mount: &str, prefix: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut stack = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(folder) = stack.pop() {
            let out = Command::new("bao")
                .args([
                    "kv",
                    "list",
                    "-format=json",
                    &format!("-mount={mount}"),
                    &folder,
                ])
                .env("BAO_ADDR", &self.addr)
                .env("BAO_TOKEN", &self.root_token)
                .output()
                .unwrap();
            if !out.status.success() {
                continue;
            }
            let names: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
            for name in names {
                let full = format!("{folder}/{name}");
                match name.strip_suffix('/') {
                    Some(_) => stack.push(full.trim_end_matches('/').to_string()),
                    None => keys.push(full),
                }
            }
        }
        keys.sort();
        keys
    }

    /// The server's audit log, one JSON object per line (every value HMAC'd by OpenBao).
    pub fn audit_entries(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.base.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    }
}

/// The policy of one machine of the keychain at `mount`/`prefix`: its records, locks, members
/// and trail under the prefix, and nothing else.
pub fn keychain_policy(mount: &str, prefix: &str) -> String {
    format!(
        r#"path "{mount}/data/{prefix}/*" {{ capabilities = ["create", "read", "update", "delete"] }}
path "{mount}/metadata/{prefix}/*" {{ capabilities = ["create", "read", "update", "delete", "list"] }}
path "{mount}/metadata/{prefix}" {{ capabilities = ["list"] }}
path "{mount}/delete/{prefix}/*" {{ capabilities = ["update"] }}
path "{mount}/config" {{ capabilities = ["read"] }}
"#
    )
}

fn private_file(path: &Path, content: &str) -> PathBuf {
    std::fs::write(path, format!("{content}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_path_buf()
}

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
}

impl Machine {
    /// A machine called `name` for the keychain at `mount`/`prefix`, with an AppRole whose
    /// policy allows `policy_prefix` (the same prefix, except for the intruder of a test).
    pub fn new(bao: &Bao, name: &str, mount: &str, prefix: &str, policy_prefix: &str) -> Machine {
        let kc = Kc::new();
        let approle = bao.approle(
            &format!("{mount}-{name}"),
            mount,
            policy_prefix,
            &kc.tmp.path().join("approle"),
        );
        Machine {
            name: name.to_string(),
            kc,
            approle,
            mount: mount.to_string(),
            prefix: prefix.to_string(),
            addr: bao.addr.clone(),
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
    /// environment; it logs in with its AppRole files only.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = self.kc.cmd();
        for var in ["BAO_TOKEN", "VAULT_TOKEN", "BAO_ADDR", "VAULT_ADDR"] {
            cmd.env_remove(var);
        }
        cmd
    }

    pub fn std_cmd(&self) -> Command {
        let mut cmd = self.kc.std_cmd();
        for var in ["BAO_TOKEN", "VAULT_TOKEN", "BAO_ADDR", "VAULT_ADDR"] {
            cmd.env_remove(var);
        }
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
